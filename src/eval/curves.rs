//! Learning curves for the routing replay: how close a per-task policy learned from N rated
//! outcomes comes to the best fixed per-task policy in hindsight, at one cost knob.
//!
//! The estimates are the live router's: [`Posterior::pooled`] per (task, model), from the
//! catalog file's prior ([`Priors`]; 0.5 without one), the model's ratings on its other
//! tasks, and its ratings on this one. Ratings arrive in three ways:
//! - *passive*: the user happened to try models in turn (each event rates a model picked by
//!   a hash of the prompt), as overrides and re-runs on other models would;
//! - *greedy*: the router picks each event's model itself by the mean estimate (the default
//!   router, `explore = false`), so only what it already prefers gets rated;
//! - *active*: the router picks each event's model itself by the optimistic estimate
//!   ([`Posterior::upper`], what `[router] explore = true` routes on).
//!
//! Prices are known up front (the catalog has them), so a policy's cost estimate per (task,
//! model) is the train mean; only quality is learned. "Utility" is what the knob optimises:
//! quality − knob × (cost per prompt ÷ the dearest (task, model) mean cost), on quality's
//! 0–1 scale (a gap of 0.014 is 1.4 quality points). One event order can be lucky, so every curve is measured over [`ORDERS`]
//! pseudo-random orders of the same events, and the gap's standard error is reported with
//! its mean. Rows are turned into dense (task, model) indices once, so a run is array
//! arithmetic. No IO.

use serde::Serialize;

use super::priors::Priors;
use super::replay::{ReplayRow, task_sums};
use crate::router::features::stable_hash;
use crate::router::learning::{Beta, Posterior};

/// Checkpoints of a learning curve (numbers of rated outcomes).
pub const CHECKPOINTS: [usize; 6] = [50, 100, 250, 500, 1000, 2000];
/// Event orders each curve is averaged over. With 20 the gap's mean at 500 events had a
/// standard error of about 0.7 points, too coarse to compare with a 2-point target.
pub const ORDERS: u64 = 100;

/// A policy's test quality, total cost and utility.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct PolicyScore {
    pub quality: f64,
    pub cost_usd: f64,
    pub utility: f64,
}

/// One checkpoint over every event order: means, and the utility gap to the best fixed
/// policy (mean with its standard error, median and worst over the orders), in quality
/// points.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Checkpoint {
    pub events: usize,
    pub mean: PolicyScore,
    pub gap_mean: f64,
    pub gap_se: f64,
    pub gap_median: f64,
    pub gap_worst: f64,
}

/// The curves at one knob.
#[derive(Debug, Clone, Serialize)]
pub struct Curves {
    pub knob: f64,
    pub passive: Vec<Checkpoint>,
    pub greedy: Vec<Checkpoint>,
    pub active: Vec<Checkpoint>,
    /// The best fixed per-task policy chosen on the test part itself (hindsight).
    pub best_fixed: PolicyScore,
}

/// One row as indices: its task (None when the train part never saw it) and each model's
/// result, by model index.
struct DenseRow {
    id: String,
    task: Option<usize>,
    results: Vec<Option<(f64, f64)>>,
}

/// What every learning run of one curve shares, as dense (task × model) tables.
struct Setting {
    test: Vec<DenseRow>,
    /// Number of models; model indices follow the caller's `models` order (passive mode
    /// rates `models[hash % len]`).
    n_models: usize,
    /// Model indices by name, so ties go to the first name, as everywhere in the replay.
    by_name: Vec<usize>,
    /// Number of tasks; task indices follow the sorted task names.
    n_tasks: usize,
    /// The knob's cost penalty per (task, model), on quality's 0–1 scale: knob × the train
    /// part's mean cost ÷ the dearest (task, model) mean cost (the dearest for a pair the
    /// train part lacks).
    penalty: Vec<f64>,
    /// The catalog's prior per (task, model).
    prior: Vec<f64>,
    max_cost: f64,
    knob: f64,
}

impl Setting {
    fn cell(&self, task: usize, model: usize) -> usize {
        task * self.n_models + model
    }

    /// The model with the best `value` (None: not a candidate); ties go to the first name.
    fn best(&self, value: impl Fn(usize) -> Option<f64>) -> Option<usize> {
        let mut best: Option<(f64, usize)> = None;
        for &m in &self.by_name {
            if let Some(v) = value(m)
                && best.is_none_or(|(b, _)| v > b)
            {
                best = Some((v, m));
            }
        }
        best.map(|(_, m)| m)
    }

    /// The model with the best estimate net of its price for `task`.
    fn pick(&self, task: usize, estimate: impl Fn(usize) -> Option<f64>) -> Option<usize> {
        self.best(|m| Some(estimate(m)? - self.penalty[self.cell(task, m)]))
    }

    /// Quality, cost and utility of a per-task policy on the test rows.
    fn score(&self, policy: &[Option<usize>]) -> PolicyScore {
        let (mut q, mut c) = (0.0, 0.0);
        for r in &self.test {
            let chosen = r.task.and_then(|t| policy[t]);
            if let Some((s, cost)) = chosen.and_then(|m| r.results[m]) {
                q += s;
                c += cost;
            }
        }
        let n = self.test.len().max(1) as f64;
        PolicyScore {
            quality: q / n,
            cost_usd: c,
            utility: (q - self.knob * c / self.max_cost) / n,
        }
    }
}

/// Ratings per (task, model) and per model.
struct Ratings {
    cell: Vec<Beta>,
    model: Vec<Beta>,
}

impl Ratings {
    fn new(s: &Setting) -> Self {
        Self {
            cell: vec![Beta::default(); s.n_tasks * s.n_models],
            model: vec![Beta::default(); s.n_models],
        }
    }

    fn rate(&mut self, s: &Setting, task: usize, model: usize, score: f64) {
        self.cell[s.cell(task, model)].add(score, 1.0);
        self.model[model].add(score, 1.0);
    }

    fn posterior(&self, s: &Setting, task: usize, model: usize) -> Posterior {
        let cell = s.cell(task, model);
        Posterior::pooled(s.prior[cell], self.model[model], self.cell[cell])
    }
}

/// Who picks the model each rated event is about.
#[derive(Clone, Copy)]
enum Mode {
    Passive,
    Greedy,
    Active,
}

/// One learning run over one event order; the policy's score at each checkpoint.
fn run_order(s: &Setting, events: &[&DenseRow], mode: Mode) -> Vec<PolicyScore> {
    let mut ratings = Ratings::new(s);
    let mut out = Vec::new();
    for (i, r) in events.iter().enumerate() {
        if let Some(task) = r.task {
            let estimate = |m: usize| {
                let p = ratings.posterior(s, task, m);
                r.results[m].map(|_| match mode {
                    Mode::Active => p.upper(),
                    Mode::Passive | Mode::Greedy => p.mean(),
                })
            };
            let model = match mode {
                Mode::Passive => {
                    let k = stable_hash(&format!("model:{}", r.id)) % s.n_models.max(1) as u64;
                    Some(k as usize)
                }
                Mode::Greedy | Mode::Active => s.pick(task, estimate),
            };
            if let Some(m) = model
                && let Some(Some((score, _))) = r.results.get(m)
            {
                ratings.rate(s, task, m, *score);
            }
        }
        if CHECKPOINTS.contains(&(i + 1)) {
            let policy: Vec<Option<usize>> = (0..s.n_tasks)
                .map(|t| s.pick(t, |m| Some(ratings.posterior(s, t, m).mean())))
                .collect();
            out.push(s.score(&policy));
        }
    }
    out
}

/// Mean, standard error, median and worst of the gaps, and the mean scores, at one
/// checkpoint over every order.
fn checkpoint(events: usize, at: &[PolicyScore], best: f64) -> Option<Checkpoint> {
    if at.is_empty() {
        return None;
    }
    let n = at.len() as f64;
    let mut gaps: Vec<f64> = at.iter().map(|p| best - p.utility).collect();
    gaps.sort_by(f64::total_cmp);
    let gap_mean = gaps.iter().sum::<f64>() / n;
    let var = gaps.iter().map(|g| (g - gap_mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    let mean = |f: fn(&PolicyScore) -> f64| at.iter().map(f).sum::<f64>() / n;
    Some(Checkpoint {
        events,
        mean: PolicyScore {
            quality: mean(|p| p.quality),
            cost_usd: mean(|p| p.cost_usd),
            utility: mean(|p| p.utility),
        },
        gap_mean,
        gap_se: (var / n).sqrt(),
        // The upper middle one when the number of orders is even.
        gap_median: gaps[gaps.len() / 2],
        gap_worst: gaps[gaps.len() - 1],
    })
}

/// Learning curves at one knob, from the catalog's priors.
pub fn curves(
    train: &[&ReplayRow],
    test: &[&ReplayRow],
    models: &[String],
    knob: f64,
    priors: &Priors,
) -> Curves {
    let mut tasks: Vec<&str> = train.iter().map(|r| r.intent.as_str()).collect();
    tasks.sort_unstable();
    tasks.dedup();
    let mut by_name: Vec<usize> = (0..models.len()).collect();
    by_name.sort_by(|a, b| models[*a].cmp(&models[*b]));
    let dense = |r: &ReplayRow| DenseRow {
        id: r.id.clone(),
        task: tasks.binary_search(&r.intent.as_str()).ok(),
        results: models
            .iter()
            .map(|m| r.models.get(m).map(|x| (x.score, x.cost_usd)))
            .collect(),
    };
    // Known prices: the train part's mean cost per (task, model).
    let sums = task_sums(train);
    let mean_cost = |t: &str, m: &str| {
        sums.get(&(t.to_string(), m.to_string()))
            .map(|(_, c, n)| c / n)
    };
    let max_cost = sums.values().map(|(_, c, n)| c / n).fold(1e-12, f64::max);
    let table = |f: &dyn Fn(&str, &str) -> f64| -> Vec<f64> {
        tasks
            .iter()
            .flat_map(|t| models.iter().map(move |m| (*t, m.as_str())))
            .map(|(t, m)| f(t, m))
            .collect()
    };
    let s = Setting {
        test: test.iter().map(|r| dense(r)).collect(),
        n_models: models.len(),
        by_name,
        n_tasks: tasks.len(),
        penalty: table(&|t, m| knob * mean_cost(t, m).unwrap_or(max_cost) / max_cost),
        prior: table(&|t, m| priors.prior(m, t)),
        max_cost,
        knob,
    };

    // Hindsight: the best fixed per-task policy by the test rows' own quality and cost.
    let truth = task_sums(test);
    let hindsight: Vec<Option<usize>> = (0..s.n_tasks)
        .map(|t| {
            s.best(|m| {
                let (q, c, n) = truth.get(&(tasks[t].to_string(), models[m].clone()))?;
                Some((q - knob * c / max_cost) / n)
            })
        })
        .collect();
    let best_fixed = s.score(&hindsight);

    let events: Vec<DenseRow> = train.iter().map(|r| dense(r)).collect();
    let curve = |mode: Mode| -> Vec<Checkpoint> {
        let runs: Vec<Vec<PolicyScore>> = (0..ORDERS)
            .map(|o| {
                let mut order: Vec<(u64, &DenseRow)> = events
                    .iter()
                    .map(|r| (stable_hash(&format!("event{o}:{}", r.id)), r))
                    .collect();
                order.sort_by_key(|(h, _)| *h);
                let order: Vec<&DenseRow> = order.into_iter().map(|(_, r)| r).collect();
                run_order(&s, &order, mode)
            })
            .collect();
        CHECKPOINTS
            .iter()
            .enumerate()
            .filter_map(|(k, &n)| {
                let at: Vec<PolicyScore> = runs.iter().filter_map(|r| r.get(k).copied()).collect();
                checkpoint(n, &at, best_fixed.utility)
            })
            .collect()
    };
    Curves {
        knob,
        passive: curve(Mode::Passive),
        greedy: curve(Mode::Greedy),
        active: curve(Mode::Active),
        best_fixed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::replay::{ModelResult, split};

    /// Two tasks; "good" is right 3 times in 4, "fair" 2 in 4, both at the same price.
    fn rows() -> Vec<ReplayRow> {
        (0..400)
            .map(|i| ReplayRow {
                id: format!("row-{i}"),
                prompt: String::new(),
                intent: if i % 2 == 0 { "a" } else { "b" }.into(),
                // The pattern runs within each task (every other row).
                models: [("good", (i / 2) % 4 != 0), ("fair", (i / 2) % 4 < 2)]
                    .into_iter()
                    .map(|(m, ok)| {
                        let score = if ok { 1.0 } else { 0.0 };
                        (
                            m.to_string(),
                            ModelResult {
                                score,
                                cost_usd: 0.001,
                            },
                        )
                    })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn a_catalog_prior_that_is_right_starts_at_the_best_policy() {
        let rows = rows();
        let (train, test) = split(&rows);
        let models = vec!["fair".to_string(), "good".to_string()];
        let right = Priors::parse(
            "[[models]]\nid = \"good\"\nprior = 0.8\n[[models]]\nid = \"fair\"\nprior = 0.4\n",
        )
        .unwrap()
        .0;
        let wrong = Priors::parse(
            "[[models]]\nid = \"good\"\nprior = 0.2\n[[models]]\nid = \"fair\"\nprior = 0.9\n",
        )
        .unwrap()
        .0;
        let with_right = curves(&train, &test, &models, 0.0, &right);
        let with_wrong = curves(&train, &test, &models, 0.0, &wrong);
        assert!(with_right.best_fixed.quality > 0.7);
        let first = |c: &Curves| c.passive[0];
        assert_eq!(first(&with_right).events, 50);
        assert!(
            first(&with_right).gap_worst < 1e-9,
            "{:?}",
            first(&with_right)
        );
        assert!(first(&with_wrong).gap_mean > first(&with_right).gap_mean);
        // Ratings win in the end: the wrong prior is overcome.
        let last = |c: &Curves| *c.passive.last().unwrap();
        assert!(
            last(&with_wrong).gap_worst < 1e-9,
            "{:?}",
            last(&with_wrong)
        );
    }
}
