//! Routing evaluation on realistic prompts: `{prompt, intent, acceptable: [model ids],
//! group}` rows (optionally `complexity` and `previous_intent`) routed by the real router at
//! a preference, and measured by what matters to a user: was the model acceptable, was it
//! dearer than needed (expensive misroute) or too weak (cheap misroute), did paraphrases go
//! to one model, what share of requests and spend each model took, and spend per 1,000
//! prompts against single-model and design-table baselines. Pure over its inputs.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::metrics::{self, Report};
use crate::catalog::{Catalog, ModelSpec};
use crate::router::features::stable_hash;
use crate::router::{self, Breakers, RouteRequest, Signals};
use crate::task::{Complexity, Intent};

/// One labelled realistic prompt.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Row {
    #[serde(default)]
    pub id: String,
    pub prompt: String,
    pub intent: Intent,
    #[serde(default)]
    pub complexity: Option<Complexity>,
    pub acceptable: Vec<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub previous_intent: Option<Intent>,
    #[serde(default)]
    pub shape: Option<String>,
    #[serde(default)]
    pub lang: Option<String>,
}

impl Row {
    /// The train part of the realistic set: two in five paraphrase groups (or single
    /// prompts), by a hash, so that no group is split between training and evaluation.
    pub fn is_train(&self) -> bool {
        is_train_key(self.split_key())
    }

    /// What the split is decided by: the paraphrase group, else the id.
    pub fn split_key(&self) -> &str {
        self.group.as_deref().unwrap_or(&self.id)
    }
}

/// The train part: two keys in five.
pub fn is_train_key(key: &str) -> bool {
    stable_hash(&format!("realistic:{key}")) % 5 < 2
}

/// Read rows from JSON Lines; errors name the file and line.
pub fn read(path: &Path) -> Result<Vec<Row>, String> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_string(&mut text))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Parse rows from JSON Lines text (`name` is used in errors).
pub fn parse(text: &str, name: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut r: Row =
            serde_json::from_str(line).map_err(|e| format!("{name}:{}: {e}", i + 1))?;
        if r.id.is_empty() {
            r.id = format!("{name}#{}", i + 1);
        }
        if r.acceptable.is_empty() {
            return Err(format!("{name}:{}: `acceptable` is empty", i + 1));
        }
        rows.push(r);
    }
    Ok(rows)
}

/// Where the project keeps its realistic set, relative to the repository root.
pub const DEFAULT_DIR: &str = "assets/eval/realistic";

/// The realistic set in `dir` (train and dev parts together): `part_*.jsonl`. Read from
/// disk, not embedded: evaluation data has no place in the binary.
pub fn shipped(dir: &Path) -> Result<Vec<Row>, String> {
    read_matching(dir, "part_")
}

/// Realistic prompts written for training only (never evaluated on): `train_*.jsonl`.
pub fn training(dir: &Path) -> Result<Vec<Row>, String> {
    read_matching(dir, "train_")
}

/// Every `PREFIX*.jsonl` in `dir`, in name order.
fn read_matching(dir: &Path, prefix: &str) -> Result<Vec<Row>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        format!(
            "{}: {e} (the realistic set lives in {DEFAULT_DIR} of the repository; run from its root or pass --realistic DIR)",
            dir.display()
        )
    })?;
    let mut files: Vec<std::path::PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".jsonl"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no {prefix}*.jsonl files", dir.display()));
    }
    let mut rows = Vec::new();
    for f in files {
        rows.extend(read(&f)?);
    }
    Ok(rows)
}

/// What the router did with one row.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub model: String,
    pub intent: Intent,
    pub complexity: Complexity,
}

/// Route every row as the first message of a conversation (or after `previous_intent`), at
/// `preference`, with no ratings, outages or budget pressure.
pub fn route_all(catalog: &Catalog, rows: &[Row], preference: u8) -> Vec<Option<Routed>> {
    let (signals, breakers) = (Signals::new(), Breakers::new());
    rows.iter()
        .map(|r| {
            let mut req = RouteRequest::simple(&r.prompt, &signals, &breakers);
            req.preference = preference;
            req.previous_intent = r.previous_intent;
            req.history_tokens =
                crate::core::tokens_besides_prompt(crate::core::SYSTEM_PROMPT, &[]);
            router::decide(catalog, &req).ok().map(|d| Routed {
                model: d.model,
                intent: d.intent,
                complexity: d.complexity,
            })
        })
        .collect()
}

/// Spend and share of one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelShare {
    pub requests: f64,
    pub spend: f64,
}

/// The routing report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoutingReport {
    pub n: usize,
    pub preference: u8,
    pub intents: Report,
    /// Mean recall over the intents present.
    pub balanced_accuracy: f64,
    /// Rows with a complexity label, and the share the router labelled the same.
    pub complexity_n: usize,
    pub complexity_accuracy: f64,
    /// `[truth][predicted]` in simple, medium, high order.
    pub complexity_confusion: [[usize; 3]; 3],
    pub acceptable: f64,
    /// Not acceptable and dearer ([`DEARER`]) than the cheapest acceptable model.
    pub expensive_misroutes: f64,
    /// Not acceptable and no dearer than the cheapest acceptable model: too weak for the
    /// task (a hard task sent to a cheap model).
    pub cheap_misroutes: f64,
    /// Acceptable but dearer ([`DEARER`]) than the cheapest acceptable model.
    pub overspend: f64,
    /// Paraphrase groups (2+ rows) whose rows all went to one model.
    pub groups: usize,
    pub groups_consistent: f64,
    /// Share of requests and of spend per model id.
    pub models: BTreeMap<String, ModelShare>,
    /// Expected spend in USD per 1,000 prompts: the router and the baselines.
    pub spend_per_1000: f64,
    pub baselines: BTreeMap<String, Baseline>,
    /// Rows the router refused (nothing fits).
    pub refused: usize,
}

/// A fixed policy applied to the same rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Baseline {
    pub acceptable: f64,
    pub spend_per_1000: f64,
}

/// Expected cost of answering `row` with `m` (visible answer by the labelled or routed
/// complexity, plus the hidden reasoning the model bills).
fn row_cost(m: &ModelSpec, row: &Row, complexity: Complexity) -> f64 {
    let prompt = (row.prompt.len() as u64).div_ceil(4)
        + crate::core::tokens_besides_prompt(crate::core::SYSTEM_PROMPT, &[]);
    m.expected_cost(prompt, router::expected_completion_tokens(complexity))
        .dollars()
}

/// The design's table: each intent to its role's model, quick questions to the fast one.
pub fn design_choice(intent: Intent, complexity: Complexity) -> &'static str {
    match (intent, complexity) {
        (Intent::Code | Intent::Debug, _) => "anthropic/claude-sonnet-4",
        (Intent::Reasoning, _) => "x-ai/grok-4",
        (Intent::Math, _) => "openai/o3",
        (Intent::General | Intent::Explain, Complexity::Simple) => "google/gemini-2.5-flash",
        (Intent::General | Intent::Explain, _) => "moonshotai/kimi-k2",
    }
}

fn cidx(c: Complexity) -> usize {
    match c {
        Complexity::Simple => 0,
        Complexity::Medium => 1,
        Complexity::High => 2,
    }
}

/// "Dearer" means more than this many times the cost: the cheap models (kimi-k2 and
/// gemini-2.5-flash) are within it of each other on every prompt shape, the dear ones 3-25x.
pub const DEARER: f64 = 1.5;

/// Measure routed rows (`routed[i]` for `rows[i]`).
pub fn report(
    catalog: &Catalog,
    rows: &[Row],
    routed: &[Option<Routed>],
    preference: u8,
) -> RoutingReport {
    let mut pairs = Vec::new();
    let mut cx_confusion = [[0usize; 3]; 3];
    let (mut ok, mut dear, mut cheap, mut over, mut refused) = (0usize, 0usize, 0usize, 0usize, 0);
    let mut models: BTreeMap<String, ModelShare> = BTreeMap::new();
    let mut spend = 0.0;
    let mut groups: HashMap<&str, Vec<&str>> = HashMap::new();
    let mut base_ok: BTreeMap<String, (usize, f64)> = BTreeMap::new();
    for (row, r) in rows.iter().zip(routed) {
        let truth_cx = row.complexity.unwrap_or(Complexity::Medium);
        let cost_of = |id: &str| catalog.get(id).map(|m| row_cost(m, row, truth_cx));
        let cheapest_ok = row
            .acceptable
            .iter()
            .filter_map(|id| cost_of(id))
            .fold(f64::INFINITY, f64::min);
        let mut baseline = |name: &str, model: &str| {
            let e = base_ok.entry(name.to_string()).or_insert((0, 0.0));
            e.0 += usize::from(row.acceptable.iter().any(|a| a == model));
            e.1 += cost_of(model).unwrap_or(0.0);
        };
        for m in catalog.models() {
            baseline(&format!("always {}", m.name), &m.id);
        }
        baseline(
            "design table, perfect intents",
            design_choice(row.intent, truth_cx),
        );
        let e = base_ok
            .entry("cheapest acceptable".to_string())
            .or_insert((0, 0.0));
        e.0 += 1;
        e.1 += if cheapest_ok.is_finite() {
            cheapest_ok
        } else {
            0.0
        };
        let Some(r) = r else {
            refused += 1;
            continue;
        };
        pairs.push((row.intent, r.intent));
        if let Some(c) = row.complexity {
            cx_confusion[cidx(c)][cidx(r.complexity)] += 1;
        }
        let c = cost_of(&r.model).unwrap_or(0.0);
        spend += c;
        let share = models.entry(r.model.clone()).or_default();
        share.requests += 1.0;
        share.spend += c;
        if row.acceptable.contains(&r.model) {
            ok += 1;
            if c > cheapest_ok * DEARER {
                over += 1;
            }
        } else if c > cheapest_ok * DEARER {
            dear += 1;
        } else {
            cheap += 1;
        }
        if let Some(g) = &row.group {
            groups.entry(g.as_str()).or_default().push(r.model.as_str());
        }
    }
    let n = rows.len().max(1) as f64;
    let routed_n = pairs.len().max(1) as f64;
    for s in models.values_mut() {
        s.requests /= routed_n;
        s.spend = if spend > 0.0 { s.spend / spend } else { 0.0 };
    }
    let intents = metrics::report(&pairs);
    let balanced_accuracy = if intents.classes.is_empty() {
        0.0
    } else {
        intents.classes.iter().map(|c| c.recall).sum::<f64>() / intents.classes.len() as f64
    };
    let multi: Vec<&Vec<&str>> = groups.values().filter(|v| v.len() >= 2).collect();
    let consistent = multi
        .iter()
        .filter(|v| v.iter().all(|m| *m == v[0]))
        .count();
    let cx_n: usize = cx_confusion.iter().flatten().sum();
    let cx_ok: usize = (0..3).map(|i| cx_confusion[i][i]).sum();
    RoutingReport {
        n: rows.len(),
        preference,
        intents,
        balanced_accuracy,
        complexity_n: cx_n,
        complexity_accuracy: cx_ok as f64 / cx_n.max(1) as f64,
        complexity_confusion: cx_confusion,
        acceptable: ok as f64 / n,
        expensive_misroutes: dear as f64 / n,
        cheap_misroutes: cheap as f64 / n,
        overspend: over as f64 / n,
        groups: multi.len(),
        groups_consistent: consistent as f64 / multi.len().max(1) as f64,
        models,
        spend_per_1000: spend / routed_n * 1000.0,
        baselines: base_ok
            .into_iter()
            .map(|(k, (ok, s))| {
                (
                    k,
                    Baseline {
                        acceptable: ok as f64 / n,
                        spend_per_1000: s / n * 1000.0,
                    },
                )
            })
            .collect(),
        refused,
    }
}

impl std::fmt::Display for RoutingReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} prompts at preference {}{}",
            self.n,
            self.preference,
            if self.refused > 0 {
                format!(" ({} refused)", self.refused)
            } else {
                String::new()
            }
        )?;
        writeln!(
            f,
            "acceptable model      {:.3}\nexpensive misroutes   {:.3}\ncheap misroutes       {:.3}\nacceptable but dearer than needed {:.3}",
            self.acceptable, self.expensive_misroutes, self.cheap_misroutes, self.overspend
        )?;
        writeln!(
            f,
            "paraphrase groups on one model {:.3} ({} groups)",
            self.groups_consistent, self.groups
        )?;
        writeln!(
            f,
            "intent accuracy {:.3}, balanced {:.3}; per class recall: {}",
            self.intents.accuracy,
            self.balanced_accuracy,
            self.intents
                .classes
                .iter()
                .map(|c| format!("{} {:.2} (n {})", c.intent, c.recall, c.support))
                .collect::<Vec<_>>()
                .join(", ")
        )?;
        writeln!(
            f,
            "complexity accuracy {:.3} (n {}); confusion [truth][routed] simple/medium/high: {:?}",
            self.complexity_accuracy, self.complexity_n, self.complexity_confusion
        )?;
        writeln!(f, "share of requests / of spend:")?;
        for (m, s) in &self.models {
            writeln!(
                f,
                "  {m:<28} {:>5.1}% / {:>5.1}%",
                s.requests * 100.0,
                s.spend * 100.0
            )?;
        }
        writeln!(
            f,
            "spend per 1,000 prompts: router ${:.3}",
            self.spend_per_1000
        )?;
        for (k, b) in &self.baselines {
            writeln!(
                f,
                "  {k:<32} ${:>7.3}  acceptable {:.3}",
                b.spend_per_1000, b.acceptable
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_parse_and_errors_name_the_line() {
        let ok = r#"{"prompt": "thanks", "intent": "general", "acceptable": ["google/gemini-2.5-flash"], "group": null}"#;
        let rows = parse(ok, "t.jsonl").unwrap();
        assert_eq!(rows[0].id, "t.jsonl#1");
        let bad = format!("{ok}\n{{\"prompt\": 1}}");
        assert!(
            parse(&bad, "t.jsonl")
                .unwrap_err()
                .starts_with("t.jsonl:2:")
        );
        let empty = r#"{"prompt": "x", "intent": "general", "acceptable": []}"#;
        assert!(parse(empty, "t.jsonl").unwrap_err().contains("acceptable"));
    }

    #[test]
    fn misroutes_are_counted_by_cost_against_the_acceptable_models() {
        let c = Catalog::builtin().unwrap();
        let row = |p: &str, ok: &[&str], g: Option<&str>| Row {
            id: p.into(),
            prompt: p.into(),
            intent: Intent::General,
            complexity: Some(Complexity::Simple),
            acceptable: ok.iter().map(|s| s.to_string()).collect(),
            group: g.map(str::to_string),
            previous_intent: None,
            shape: None,
            lang: None,
        };
        let rows = vec![
            row("a", &["google/gemini-2.5-flash"], Some("g")),
            row("b", &["google/gemini-2.5-flash"], Some("g")),
            row("c", &["openai/o3"], None),
        ];
        let to = |m: &str| {
            Some(Routed {
                model: m.into(),
                intent: Intent::General,
                complexity: Complexity::Simple,
            })
        };
        let routed = vec![
            to("google/gemini-2.5-flash"),
            to("x-ai/grok-4"),
            to("moonshotai/kimi-k2"),
        ];
        let r = report(&c, &rows, &routed, 5);
        assert!((r.acceptable - 1.0 / 3.0).abs() < 1e-9);
        assert!((r.expensive_misroutes - 1.0 / 3.0).abs() < 1e-9);
        assert!((r.cheap_misroutes - 1.0 / 3.0).abs() < 1e-9);
        assert_eq!(r.groups, 1);
        assert_eq!(r.groups_consistent, 0.0);
        assert!((r.balanced_accuracy - 1.0).abs() < 1e-9);
        let always_flash = &r.baselines["always gemini-2.5-flash"];
        assert!((always_flash.acceptable - 2.0 / 3.0).abs() < 1e-9);
    }
}
