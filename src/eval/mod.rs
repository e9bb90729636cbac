//! Offline evaluation (no network): intent accuracy on labelled prompts, training of the
//! shipped intent model, and routing replay on per-prompt × per-model quality and cost.

pub mod data;
pub mod learning;
pub mod metrics;
pub mod priors;
pub mod replay;

use std::collections::BTreeMap;
use std::path::Path;

use crate::router::classify;
use crate::router::features::{features, stable_hash};
use crate::router::intent_model::{Example, IntentModel, train};
use crate::task::Intent;
use data::Labelled;
use metrics::Report;

/// The authored prompts for debug, explain and reasoning (and a few of the others).
pub const AUTHORED: &str = include_str!("../../assets/eval/authored_intents.jsonl");

/// Load the shared sources and the authored set.
pub fn load_all(eval_data: &Path) -> Result<Vec<Labelled>, String> {
    let dir = std::env::temp_dir().join(format!("codeforge-authored-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let authored = dir.join("authored.jsonl");
    std::fs::write(&authored, AUTHORED).map_err(|e| e.to_string())?;
    let all = data::all_sources(eval_data, &authored);
    let _ = std::fs::remove_dir_all(&dir);
    all
}

/// Reports per source, on Arena-Hard alone, on the authored set, and overall, with the
/// shipped classifier.
pub fn evaluate(items: &[Labelled]) -> BTreeMap<String, Report> {
    evaluate_with(items, |p| classify(p).0)
}

/// The same with any predictor (a freshly trained model before it is shipped).
pub fn evaluate_with(
    items: &[Labelled],
    predict: impl Fn(&str) -> Intent,
) -> BTreeMap<String, Report> {
    let pairs: Vec<(&Labelled, Intent)> =
        items.iter().map(|it| (it, predict(&it.prompt))).collect();
    reports(&pairs)
}

/// Reports per source, on the public sources together, and overall.
fn reports(pairs: &[(&Labelled, Intent)]) -> BTreeMap<String, Report> {
    let mut by: BTreeMap<String, Vec<(Intent, Intent)>> = BTreeMap::new();
    for (it, pred) in pairs {
        let pred = *pred;
        let source = if it.source.starts_with("routerbench") {
            "routerbench".to_string()
        } else {
            it.source.clone()
        };
        by.entry(source).or_default().push((it.intent, pred));
        by.entry("all".into()).or_default().push((it.intent, pred));
        if it.source != "authored" {
            by.entry("all-public".into())
                .or_default()
                .push((it.intent, pred));
        }
    }
    by.into_iter()
        .map(|(k, v)| (k, metrics::report(&v)))
        .collect()
}

/// Cross-validation on the train split (the test split is never touched): each of `folds`
/// dev folds (by a hash of the id) is predicted by a model trained on the other folds.
/// This is how candidate features and settings are compared before one is shipped.
pub fn cross_validate(items: &[Labelled], folds: u64) -> BTreeMap<String, Report> {
    let folds = folds.max(2);
    let fold_of = |it: &Labelled| stable_hash(&format!("dev:{}", it.id)) % folds;
    let train_split: Vec<&Labelled> = items.iter().filter(|i| !i.is_test()).collect();
    let mut pairs = Vec::new();
    for fold in 0..folds {
        let rest: Vec<&Labelled> = train_split
            .iter()
            .copied()
            .filter(|i| fold_of(i) != fold)
            .collect();
        let model = train_on(&rest);
        for it in train_split.iter().copied().filter(|i| fold_of(i) == fold) {
            pairs.push((it, predict_with(&model, &it.prompt)));
        }
    }
    reports(&pairs)
}

/// The most probable intent under `model`.
pub fn predict_with(model: &IntentModel, prompt: &str) -> Intent {
    let p = model.predict(&features(prompt));
    let best = (0..p.len()).fold(0, |b, i| if p[i] > p[b] { i } else { b });
    Intent::ALL[best]
}

/// Train the intent model on the non-test part of `items`.
pub fn train_model(items: &[Labelled]) -> IntentModel {
    let train_items: Vec<&Labelled> = items.iter().filter(|i| !i.is_test()).collect();
    train_on(&train_items)
}

/// Train the intent model on exactly these items.
pub fn train_on(train_items: &[&Labelled]) -> IntentModel {
    let mut counts = [0usize; 6];
    for it in train_items {
        counts[Intent::ALL
            .iter()
            .position(|x| *x == it.intent)
            .unwrap_or(0)] += 1;
    }
    let total: usize = counts.iter().sum();
    let examples: Vec<Example> = train_items
        .iter()
        .map(|it| {
            let c = counts[Intent::ALL
                .iter()
                .position(|x| *x == it.intent)
                .unwrap_or(0)]
            .max(1);
            // Balance the classes (the authored ones are small), capped so that a handful of
            // examples cannot dominate.
            let mut weight = (total as f32 / (6.0 * c as f32)).clamp(0.3, 6.0);
            // Real user prompts count more than benchmark templates.
            match it.source.as_str() {
                "arena-hard" | "mt-bench" | "authored" => weight *= 4.0,
                "gsm8k" => weight *= 0.3,
                _ => {}
            }
            Example {
                features: features(&it.prompt),
                intent: it.intent,
                weight,
            }
        })
        .collect();
    let (w, b) = train(&examples, 20, 0.4, 1e-6);
    IntentModel::from_float(&w, &b)
}
