//! Learning curves for the routing replay: how close a per-task policy learned from N rated
//! outcomes comes to the best fixed per-task policy in hindsight, at one cost knob.
//!
//! The estimates are the live router's: [`Posterior::pooled`] per (task, model), from the
//! catalog file's prior ([`Priors`]; 0.5 without one), the model's ratings on its other
//! tasks, and its ratings on this one. Ratings arrive in two ways:
//! - *passive*: the user happened to try models in turn (each event rates a model picked by
//!   a hash of the prompt), which is what the default router sees;
//! - *active*: the router picks each event's model itself by the optimistic estimate
//!   ([`Posterior::upper`], what `[router] explore = true` routes on).
//!
//! Prices are known up front (the catalog has them), so a policy's cost estimate per (task,
//! model) is the train mean; only quality is learned. "Utility" is what the knob optimises:
//! quality − knob × (cost per prompt ÷ the dearest (task, model) mean cost), in quality
//! points. One event order can be lucky, so every curve is measured over [`ORDERS`]
//! pseudo-random orders of the same events. No IO.

use std::collections::BTreeMap;

use serde::Serialize;

use super::priors::Priors;
use super::replay::{ReplayRow, task_sums};
use crate::router::features::stable_hash;
use crate::router::learning::{Beta, Posterior};

/// Checkpoints of a learning curve (numbers of rated outcomes).
pub const CHECKPOINTS: [usize; 6] = [50, 100, 250, 500, 1000, 2000];
/// Event orders each curve is averaged over.
pub const ORDERS: u64 = 20;

/// A policy's test quality, total cost and utility.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Default)]
pub struct PolicyScore {
    pub quality: f64,
    pub cost_usd: f64,
    pub utility: f64,
}

/// One checkpoint over every event order: means, and the utility gap to the best fixed
/// policy (mean, median and worst over the orders), in quality points.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Checkpoint {
    pub events: usize,
    pub mean: PolicyScore,
    pub gap_mean: f64,
    pub gap_median: f64,
    pub gap_worst: f64,
}

/// The curves at one knob.
#[derive(Debug, Clone, Serialize)]
pub struct Curves {
    pub knob: f64,
    pub passive: Vec<Checkpoint>,
    pub active: Vec<Checkpoint>,
    /// The best fixed per-task policy chosen on the test part itself (hindsight).
    pub best_fixed: PolicyScore,
}

/// Known prices: mean cost per (task, model) on the train part, and the dearest of them.
struct Prices {
    mean: BTreeMap<(String, String), f64>,
    max: f64,
}

impl Prices {
    fn new(rows: &[&ReplayRow]) -> Self {
        let mean: BTreeMap<_, _> = task_sums(rows)
            .into_iter()
            .map(|(k, (_, c, n))| (k, c / n))
            .collect();
        let max = mean.values().copied().fold(1e-12, f64::max);
        Self { mean, max }
    }

    /// The knob's cost penalty for one call, in quality points.
    fn penalty(&self, task: &str, model: &str, knob: f64) -> f64 {
        let c = self
            .mean
            .get(&(task.to_string(), model.to_string()))
            .copied()
            .unwrap_or(self.max);
        knob * c / self.max
    }
}

/// Quality, cost and utility of a per-task policy on the test rows.
fn score(
    test: &[&ReplayRow],
    policy: &BTreeMap<String, String>,
    max_cost: f64,
    knob: f64,
) -> PolicyScore {
    let (mut q, mut c) = (0.0, 0.0);
    for r in test {
        if let Some(res) = policy.get(&r.intent).and_then(|m| r.models.get(m)) {
            q += res.score;
            c += res.cost_usd;
        }
    }
    let n = test.len().max(1) as f64;
    PolicyScore {
        quality: q / n,
        cost_usd: c,
        utility: (q - knob * c / max_cost) / n,
    }
}

/// Ratings per (task, model) and per model.
#[derive(Default)]
struct Ratings {
    cell: BTreeMap<(String, String), Beta>,
    model: BTreeMap<String, Beta>,
}

impl Ratings {
    fn rate(&mut self, task: &str, model: &str, score: f64) {
        self.cell
            .entry((task.to_string(), model.to_string()))
            .or_default()
            .add(score, 1.0);
        self.model
            .entry(model.to_string())
            .or_default()
            .add(score, 1.0);
    }

    fn posterior(&self, task: &str, model: &str, priors: &Priors) -> Posterior {
        let get = |b: Option<&Beta>| b.copied().unwrap_or_default();
        Posterior::pooled(
            priors.prior(model, task),
            get(self.model.get(model)),
            get(self.cell.get(&(task.to_string(), model.to_string()))),
        )
    }
}

/// Per task, the model with the best value net of its price.
fn pick_per_task(
    tasks: &[String],
    models: &[&String],
    prices: &Prices,
    knob: f64,
    value: impl Fn(&str, &str) -> f64,
) -> BTreeMap<String, String> {
    tasks
        .iter()
        .filter_map(|t| {
            models
                .iter()
                .map(|m| (value(t, m) - prices.penalty(t, m, knob), *m))
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(a.1)))
                .map(|(_, m)| (t.clone(), m.clone()))
        })
        .collect()
}

/// What every learning run of one curve shares.
struct Setting<'a> {
    test: &'a [&'a ReplayRow],
    models: &'a [String],
    tasks: &'a [String],
    prices: &'a Prices,
    priors: &'a Priors,
    knob: f64,
}

/// One learning run over one event order; the policy's score at each checkpoint.
fn run_order(s: &Setting<'_>, events: &[&ReplayRow], active: bool) -> Vec<PolicyScore> {
    let Setting {
        test,
        models,
        tasks,
        prices,
        priors,
        knob,
    } = *s;
    let all: Vec<&String> = models.iter().collect();
    let mut ratings = Ratings::default();
    let mut out = Vec::new();
    for (i, r) in events.iter().enumerate() {
        let model = if active {
            let available: Vec<&String> = all
                .iter()
                .copied()
                .filter(|m| r.models.contains_key(*m))
                .collect();
            pick_per_task(
                std::slice::from_ref(&r.intent),
                &available,
                prices,
                knob,
                |t, m| ratings.posterior(t, m, priors).upper(),
            )
            .remove(&r.intent)
        } else {
            let k = stable_hash(&format!("model:{}", r.id)) % models.len().max(1) as u64;
            models.get(k as usize).cloned()
        };
        if let Some(res) = model.as_ref().and_then(|m| r.models.get(m)) {
            ratings.rate(&r.intent, model.as_deref().unwrap_or(""), res.score);
        }
        if CHECKPOINTS.contains(&(i + 1)) {
            let pol = pick_per_task(tasks, &all, prices, knob, |t, m| {
                ratings.posterior(t, m, priors).mean()
            });
            out.push(score(test, &pol, prices.max, knob));
        }
    }
    out
}

/// Learning curves at one knob, from the catalog's priors.
pub fn curves(
    train: &[&ReplayRow],
    test: &[&ReplayRow],
    models: &[String],
    knob: f64,
    priors: &Priors,
) -> Curves {
    let prices = Prices::new(train);
    let mut tasks: Vec<String> = train.iter().map(|r| r.intent.clone()).collect();
    tasks.sort();
    tasks.dedup();
    let all: Vec<&String> = models.iter().collect();

    // Hindsight: the best fixed per-task policy by the test rows' own quality and cost.
    let truth = task_sums(test);
    let hindsight = pick_per_task(&tasks, &all, &prices, 0.0, |t, m| {
        truth
            .get(&(t.to_string(), m.to_string()))
            .map_or(f64::MIN, |(q, c, n)| (q - knob * c / prices.max) / n)
    });
    let best_fixed = score(test, &hindsight, prices.max, knob);

    let setting = Setting {
        test,
        models,
        tasks: &tasks,
        prices: &prices,
        priors,
        knob,
    };
    let curve = |active: bool| -> Vec<Checkpoint> {
        let runs: Vec<Vec<PolicyScore>> = (0..ORDERS)
            .map(|o| {
                let mut events = train.to_vec();
                events.sort_by_key(|r| stable_hash(&format!("event{o}:{}", r.id)));
                run_order(&setting, &events, active)
            })
            .collect();
        CHECKPOINTS
            .iter()
            .enumerate()
            .filter_map(|(k, &events)| {
                let at: Vec<PolicyScore> = runs.iter().filter_map(|r| r.get(k).copied()).collect();
                if at.is_empty() {
                    return None;
                }
                let n = at.len() as f64;
                let mut gaps: Vec<f64> =
                    at.iter().map(|p| best_fixed.utility - p.utility).collect();
                gaps.sort_by(f64::total_cmp);
                Some(Checkpoint {
                    events,
                    mean: PolicyScore {
                        quality: at.iter().map(|p| p.quality).sum::<f64>() / n,
                        cost_usd: at.iter().map(|p| p.cost_usd).sum::<f64>() / n,
                        utility: at.iter().map(|p| p.utility).sum::<f64>() / n,
                    },
                    gap_mean: gaps.iter().sum::<f64>() / n,
                    gap_median: gaps[gaps.len() / 2],
                    gap_worst: gaps[gaps.len() - 1],
                })
            })
            .collect()
    };
    Curves {
        knob,
        passive: curve(false),
        active: curve(true),
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
