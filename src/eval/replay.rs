//! Routing replay: per-prompt × per-model quality and cost (RouterBench style). A train
//! part is fed to a router as feedback; the rest measures quality and cost against every
//! single model, the per-prompt oracle and an intent-only router, over the cost knob.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::router::features::{BUCKETS, features, stable_hash};

/// One prompt with every model's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplayRow {
    pub id: String,
    pub prompt: String,
    /// The source's task label (RouterBench: the dataset).
    pub intent: String,
    pub models: BTreeMap<String, ModelResult>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ModelResult {
    pub score: f64,
    pub cost_usd: f64,
}

impl ReplayRow {
    pub fn is_test(&self) -> bool {
        stable_hash(&self.id) % 10 < 3
    }

    /// The first model whose result cannot be replayed, and why.
    fn invalid(&self) -> Option<String> {
        self.models
            .iter()
            .find_map(|(m, r)| r.invalid().map(|why| format!("model {m}: {why}")))
    }
}

impl ModelResult {
    /// Why this result cannot be replayed: a score outside 0..=1 (NaN included) or a
    /// negative or non-finite cost would poison every mean and posterior built on it.
    fn invalid(&self) -> Option<String> {
        if !(0.0..=1.0).contains(&self.score) {
            Some(format!("score {} is not between 0 and 1", self.score))
        } else if !(self.cost_usd.is_finite() && self.cost_usd >= 0.0) {
            Some(format!(
                "cost_usd {} is not a finite amount >= 0",
                self.cost_usd
            ))
        } else {
            None
        }
    }
}

/// Read `{id, prompt, intent, models: {id: {score, cost_usd}}}` per line.
pub fn read_jsonl(path: &Path) -> Result<Vec<ReplayRow>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let at = || format!("{}:{}", path.display(), i + 1);
            let row: ReplayRow = serde_json::from_str(l).map_err(|e| format!("{}: {e}", at()))?;
            match row.invalid() {
                Some(why) => Err(format!("{}: {why}", at())),
                None => Ok(row),
            }
        })
        .collect()
}

/// Convert the RouterBench subset CSV (gz) into replay rows; the RouterDC split is kept in
/// the id so the same prompts stay in test. Rows with a missing model value are skipped.
pub fn from_routerbench(path: &Path) -> Result<(Vec<ReplayRow>, Vec<String>), String> {
    let (headers, records) = super::data::csv_rows(path)?;
    let col = |n: &str| {
        headers
            .iter()
            .position(|h| h == n)
            .ok_or(format!("no column {n}"))
    };
    let (id_c, eval_c, split_c, prompt_c) = (
        col("sample_id")?,
        col("eval_name")?,
        col("routerdc_split")?,
        col("prompt")?,
    );
    let models: Vec<String> = headers
        .iter()
        .filter_map(|h| h.strip_suffix("|score").map(str::to_string))
        .collect();
    let mut rows = Vec::new();
    'rows: for (n, r) in records.iter().enumerate() {
        let mut results = BTreeMap::new();
        for m in &models {
            let score = cell(r, col(&format!("{m}|score"))?).and_then(|v| v.parse::<f64>().ok());
            let cost =
                cell(r, col(&format!("{m}|total_cost"))?).and_then(|v| v.parse::<f64>().ok());
            match (score, cost) {
                (Some(score), Some(cost_usd)) => {
                    results.insert(m.clone(), ModelResult { score, cost_usd });
                }
                _ => continue 'rows,
            }
        }
        let split = cell(r, split_c).unwrap_or("train");
        let row = ReplayRow {
            // The split is encoded so `is_test` can follow RouterDC's split exactly.
            id: format!("{}:{}", split, cell(r, id_c).unwrap_or("")),
            prompt: cell(r, prompt_c).unwrap_or("").to_string(),
            intent: cell(r, eval_c).unwrap_or("").to_string(),
            models: results,
        };
        if let Some(why) = row.invalid() {
            return Err(format!("{}: record {}: {why}", path.display(), n + 1));
        }
        rows.push(row);
    }
    Ok((rows, models))
}

/// One cell of a CSV row, if present.
fn cell(r: &[String], i: usize) -> Option<&str> {
    r.get(i).map(String::as_str)
}

/// Train/test split: RouterDC's when the id carries it, else the frozen hash split.
pub fn split(rows: &[ReplayRow]) -> (Vec<&ReplayRow>, Vec<&ReplayRow>) {
    let test = |r: &ReplayRow| {
        if let Some(s) =
            r.id.split(':')
                .next()
                .filter(|s| *s == "train" || *s == "test")
        {
            s == "test"
        } else {
            r.is_test()
        }
    };
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    for r in rows {
        if test(r) { te.push(r) } else { tr.push(r) }
    }
    (tr, te)
}

/// A (cost, quality) point on the test set.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Point {
    pub knob: f64,
    pub quality: f64,
    pub cost_usd: f64,
}

fn evaluate(test: &[&ReplayRow], choose: impl Fn(&ReplayRow) -> String) -> (f64, f64) {
    let (mut q, mut c) = (0.0, 0.0);
    for r in test {
        let m = choose(r);
        if let Some(res) = r.models.get(&m) {
            q += res.score;
            c += res.cost_usd;
        }
    }
    (q / test.len().max(1) as f64, c)
}

/// The model maximising predicted quality − λ × its mean cost relative to the dearest.
fn pick(models: &[String], quality: &[f64], mean_cost: &[f64], lambda: f64) -> String {
    let max_cost = mean_cost.iter().cloned().fold(1e-12, f64::max);
    let mut best = (f64::MIN, 0usize);
    for (k, (q, c)) in quality.iter().zip(mean_cost).enumerate() {
        let v = q - lambda * c / max_cost;
        if v > best.0 {
            best = (v, k);
        }
    }
    models.get(best.1).cloned().unwrap_or_default()
}

/// Per-model success predictor: logistic regression over prompt features (+ task label),
/// trained on the feedback events.
pub struct LearnedRouter {
    models: Vec<String>,
    weights: Vec<Vec<f32>>,
    bias: Vec<f32>,
    mean_cost: Vec<f64>,
}

fn feats(r: &ReplayRow) -> Vec<(u32, f32)> {
    let mut f = features(&r.prompt);
    let label = stable_hash(&format!("task:{}", r.intent)) as usize & (BUCKETS - 1);
    f.push((label as u32, 1.0));
    f
}

impl LearnedRouter {
    pub fn train(models: &[String], train: &[&ReplayRow], epochs: usize) -> Self {
        let n = models.len();
        let mut weights = vec![vec![0f32; BUCKETS]; n];
        let mut bias = vec![0f32; n];
        let cached: Vec<Vec<(u32, f32)>> = train.iter().map(|r| feats(r)).collect();
        for epoch in 0..epochs {
            let lr = 0.5 / (1.0 + epoch as f32);
            for (r, f) in train.iter().zip(&cached) {
                for (k, m) in models.iter().enumerate() {
                    let Some(res) = r.models.get(m) else { continue };
                    let z = bias[k]
                        + f.iter()
                            .map(|(b, v)| weights[k][*b as usize] * v)
                            .sum::<f32>();
                    let p = 1.0 / (1.0 + (-z).exp());
                    let g = p - res.score as f32;
                    bias[k] -= lr * g;
                    for (b, v) in f {
                        weights[k][*b as usize] -= lr * (g * v + 1e-6 * weights[k][*b as usize]);
                    }
                }
            }
        }
        let mean_cost = models
            .iter()
            .map(|m| {
                let v: Vec<f64> = train
                    .iter()
                    .filter_map(|r| r.models.get(m).map(|x| x.cost_usd))
                    .collect();
                v.iter().sum::<f64>() / v.len().max(1) as f64
            })
            .collect();
        Self {
            models: models.to_vec(),
            weights,
            bias,
            mean_cost,
        }
    }

    /// Predicted success per model.
    pub fn predict(&self, r: &ReplayRow) -> Vec<f64> {
        let f = feats(r);
        (0..self.models.len())
            .map(|k| {
                let z = self.bias[k]
                    + f.iter()
                        .map(|(b, v)| self.weights[k][*b as usize] * v)
                        .sum::<f32>();
                f64::from(1.0 / (1.0 + (-z).exp()))
            })
            .collect()
    }

    /// Maximise predicted quality − λ × relative cost.
    pub fn choose(&self, r: &ReplayRow, lambda: f64) -> String {
        pick(&self.models, &self.predict(r), &self.mean_cost, lambda)
    }
}

/// Nearest-neighbour router: each model's success on a prompt is estimated from the k most
/// similar rated prompts (cosine over the hashed features), shrunk toward the model's
/// overall mean.
/// A rated prompt: its features and each model's score (when known).
type Rated = (Vec<(u32, f32)>, Vec<Option<f64>>);

pub struct KnnRouter {
    models: Vec<String>,
    train: Vec<Rated>,
    postings: std::collections::HashMap<u32, Vec<(usize, f32)>>,
    prior: Vec<f64>,
    mean_cost: Vec<f64>,
    k: usize,
}

impl KnnRouter {
    pub fn train(models: &[String], rows: &[&ReplayRow], k: usize) -> Self {
        let mut postings: std::collections::HashMap<u32, Vec<(usize, f32)>> = Default::default();
        let mut train = Vec::with_capacity(rows.len());
        for (i, r) in rows.iter().enumerate() {
            let f = feats(r);
            for (b, v) in &f {
                postings.entry(*b).or_default().push((i, *v));
            }
            let scores = models
                .iter()
                .map(|m| r.models.get(m).map(|x| x.score))
                .collect();
            train.push((f, scores));
        }
        let mean = |m: &String, f: &dyn Fn(&ModelResult) -> f64| {
            let v: Vec<f64> = rows.iter().filter_map(|r| r.models.get(m).map(f)).collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        Self {
            prior: models.iter().map(|m| mean(m, &|x| x.score)).collect(),
            mean_cost: models.iter().map(|m| mean(m, &|x| x.cost_usd)).collect(),
            models: models.to_vec(),
            train,
            postings,
            k,
        }
    }

    fn estimate(&self, r: &ReplayRow) -> Vec<f64> {
        let f = feats(r);
        let mut sims: std::collections::HashMap<usize, f32> = Default::default();
        for (b, v) in &f {
            if let Some(list) = self.postings.get(b) {
                // Very common features carry no information and cost the most.
                if list.len() > self.train.len() / 3 {
                    continue;
                }
                for (i, w) in list {
                    *sims.entry(*i).or_default() += v * w;
                }
            }
        }
        let mut top: Vec<(usize, f32)> = sims.into_iter().collect();
        top.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(self.k);
        (0..self.models.len())
            .map(|m| {
                let (mut num, mut den) = (self.prior[m] * 2.0, 2.0);
                for (i, sim) in &top {
                    if let Some(score) = self.train[*i].1[m] {
                        let w = f64::from(sim.max(0.0));
                        num += w * score;
                        den += w;
                    }
                }
                num / den
            })
            .collect()
    }

    pub fn choose(&self, r: &ReplayRow, lambda: f64) -> String {
        pick(&self.models, &self.estimate(r), &self.mean_cost, lambda)
    }
}

/// The whole replay report.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub train: usize,
    pub test: usize,
    pub single: Vec<(String, f64, f64)>,
    pub oracle: (f64, f64),
    pub intent_only: Vec<Point>,
    pub learned: Vec<Point>,
    /// The nearest-neighbour router over the same features.
    pub knn: Vec<Point>,
    /// Best learned quality at ≤ 25 % and ≤ 10 % of the reference model's cost.
    pub at_25pct: Option<Point>,
    pub at_10pct: Option<Point>,
    pub reference_model: String,
    /// Per-task policies learned from rated outcomes vs the best fixed one, per knob.
    pub learning: Vec<super::curves::Curves>,
}

/// Knobs the learning curves are measured at: quality only, and two cost-aware settings.
pub const LEARNING_KNOBS: [f64; 3] = [0.0, 0.1, 0.2];

const KNOBS: [f64; 13] = [
    0.0, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0, 1.5, 3.0,
];

/// Sums per (task, model) over some rows: (score, cost in USD, rows).
pub type TaskSums = BTreeMap<(String, String), (f64, f64, f64)>;

pub fn task_sums(rows: &[&ReplayRow]) -> TaskSums {
    let mut stats = TaskSums::new();
    for r in rows {
        for (m, res) in &r.models {
            let e = stats.entry((r.intent.clone(), m.clone())).or_default();
            e.0 += res.score;
            e.1 += res.cost_usd;
            e.2 += 1.0;
        }
    }
    stats
}

/// Per-task (intent) policy from mean score and cost on some rows.
fn task_policy(models: &[String], rows: &[&ReplayRow], lambda: f64) -> BTreeMap<String, String> {
    let stats = task_sums(rows);
    let max_cost = stats.values().map(|(_, c, n)| c / n).fold(1e-12, f64::max);
    let mut best: BTreeMap<String, (f64, String)> = BTreeMap::new();
    for ((task, m), (s, c, n)) in stats {
        if !models.contains(&m) {
            continue;
        }
        let v = s / n - lambda * (c / n) / max_cost;
        let e = best.entry(task).or_insert((f64::MIN, m.clone()));
        if v > e.0 {
            *e = (v, m);
        }
    }
    best.into_iter().map(|(t, (_, m))| (t, m)).collect()
}

/// Run the replay. `reference` is the model whose cost the 25 % / 10 % targets refer to.
pub fn run(
    rows: &[ReplayRow],
    models: &[String],
    reference: &str,
    priors: &super::priors::Priors,
) -> ReplayReport {
    let (train, test) = split(rows);
    let single = models
        .iter()
        .map(|m| {
            let (q, c) = evaluate(&test, |_| m.clone());
            (m.clone(), q, c)
        })
        .collect::<Vec<_>>();
    let oracle = evaluate(&test, |r| {
        // Cheapest model (of those taking part) that succeeds; if none, the cheapest.
        let taking_part: Vec<(&String, &ModelResult)> = r
            .models
            .iter()
            .filter(|(m, _)| models.contains(m))
            .collect();
        let mut ok: Vec<(&String, &ModelResult)> = taking_part
            .iter()
            .copied()
            .filter(|(_, v)| v.score >= 1.0)
            .collect();
        if ok.is_empty() {
            ok = taking_part;
        }
        ok.sort_by(|a, b| a.1.cost_usd.total_cmp(&b.1.cost_usd));
        ok.first().map(|(m, _)| (*m).clone()).unwrap_or_default()
    });
    // One (quality, cost) point per knob value for a routing function.
    let curve = |choose: &dyn Fn(&ReplayRow, f64) -> String| -> Vec<Point> {
        KNOBS
            .iter()
            .map(|&k| {
                let (quality, cost_usd) = evaluate(&test, |r| choose(r, k));
                Point {
                    knob: k,
                    quality,
                    cost_usd,
                }
            })
            .collect()
    };
    let policies: Vec<BTreeMap<String, String>> = KNOBS
        .iter()
        .map(|&k| task_policy(models, &train, k))
        .collect();
    let intent_only = curve(&|r, k| {
        let i = KNOBS.iter().position(|x| *x == k).unwrap_or(0);
        policies[i].get(&r.intent).cloned().unwrap_or_default()
    });
    let knn_router = KnnRouter::train(models, &train, 25);
    let knn = curve(&|r, k| knn_router.choose(r, k));
    let router = LearnedRouter::train(models, &train, 4);
    let learned = curve(&|r, k| router.choose(r, k));
    let ref_cost = single
        .iter()
        .find(|s| s.0 == reference)
        .map_or(0.0, |s| s.2);
    let best_under = |frac: f64| {
        learned
            .iter()
            .filter(|p| p.cost_usd <= ref_cost * frac)
            .max_by(|a, b| a.quality.total_cmp(&b.quality))
            .copied()
    };
    let (at_25pct, at_10pct) = (best_under(0.25), best_under(0.10));
    let learning = LEARNING_KNOBS
        .iter()
        .map(|&k| super::curves::curves(&train, &test, models, k, priors))
        .collect();
    ReplayReport {
        train: train.len(),
        test: test.len(),
        single,
        oracle,
        intent_only,
        learned,
        knn,
        at_25pct,
        at_10pct,
        reference_model: reference.to_string(),
        learning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: &str, score: &str, cost: &str) -> String {
        format!(
            r#"{{"id":"{id}","prompt":"p","intent":"code","models":{{"a":{{"score":{score},"cost_usd":{cost}}}}}}}"#
        )
    }

    #[test]
    fn a_jsonl_result_that_cannot_be_replayed_names_the_line_and_the_model() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rows.jsonl");
        let read = |lines: &[String]| {
            std::fs::write(&file, lines.join("\n")).unwrap();
            read_jsonl(&file)
        };
        let ok = line("r1", "1.0", "0.002");
        assert_eq!(read(std::slice::from_ref(&ok)).unwrap().len(), 1);
        for (score, cost, why) in [
            ("1.5", "0.002", "score 1.5 is not between 0 and 1"),
            ("-0.1", "0.002", "score -0.1 is not between 0 and 1"),
            ("1.0", "-0.01", "cost_usd -0.01 is not a finite amount >= 0"),
        ] {
            let err = read(&[ok.clone(), line("r2", score, cost)]).unwrap_err();
            assert!(err.contains("rows.jsonl:2:"), "{err}");
            assert!(err.contains(&format!("model a: {why}")), "{err}");
        }
    }

    #[test]
    fn a_routerbench_value_that_is_not_a_score_is_an_error_and_an_empty_one_skips_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rb.csv");
        let head = "sample_id,eval_name,routerdc_split,prompt,m|score,m|total_cost\n";
        std::fs::write(
            &file,
            format!("{head}1,mbpp,test,p,1.0,0.001\n2,mbpp,test,p,,\n"),
        )
        .unwrap();
        let (rows, models) = from_routerbench(&file).unwrap();
        assert_eq!((rows.len(), models), (1, vec!["m".to_string()]));
        std::fs::write(
            &file,
            format!("{head}1,mbpp,test,p,1.0,0.001\n2,mbpp,test,p,NaN,0.001\n"),
        )
        .unwrap();
        let err = from_routerbench(&file).unwrap_err();
        assert!(
            err.contains("rb.csv: record 2: model m: score NaN"),
            "{err}"
        );
    }
}
