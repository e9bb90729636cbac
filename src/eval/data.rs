//! Readers for the labelled evaluation data: the shared sources (Arena-Hard, MT-Bench,
//! GSM8K, MMLU, RouterBench, RouterArena) mapped to intents as the routing protocol says,
//! the authored set, and plain `{prompt, intent}` JSONL files.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use crate::router::features::stable_hash;
use crate::task::Intent;

/// One labelled prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub id: String,
    pub prompt: String,
    pub intent: Intent,
    pub source: String,
}

impl Labelled {
    /// The frozen split: one prompt in five (by a hash of its id) is test, never trained on.
    pub fn is_test(&self) -> bool {
        stable_hash(&self.id).is_multiple_of(5)
    }
}

fn read_text(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut s)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(s)
    } else {
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// `{prompt, intent[, id, source]}` per line.
pub fn jsonl(path: &Path) -> Result<Vec<Labelled>, String> {
    #[derive(Deserialize)]
    struct Row {
        prompt: String,
        intent: String,
        id: Option<String>,
        source: Option<String>,
    }
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r: Row =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        let intent = Intent::parse(&r.intent).ok_or_else(|| {
            format!(
                "{}:{}: unknown intent `{}`",
                path.display(),
                i + 1,
                r.intent
            )
        })?;
        out.push(Labelled {
            id: r
                .id
                .unwrap_or_else(|| format!("{}#{}", path.display(), i + 1)),
            prompt: r.prompt,
            intent,
            source: r.source.unwrap_or_else(|| "file".into()),
        });
    }
    Ok(out)
}

fn arena_hard(path: &Path) -> Result<Vec<Labelled>, String> {
    #[derive(Deserialize)]
    struct Row {
        uid: String,
        subcategory: String,
        prompt: String,
    }
    let text = read_text(path)?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: Row = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let intent = match r.subcategory.as_str() {
            "coding" => Intent::Code,
            "math" => Intent::Math,
            _ => Intent::General,
        };
        out.push(Labelled {
            id: format!("arena-{}", r.uid),
            prompt: r.prompt,
            intent,
            source: "arena-hard".into(),
        });
    }
    Ok(out)
}

fn mt_bench(path: &Path) -> Result<Vec<Labelled>, String> {
    #[derive(Deserialize)]
    struct Row {
        question_id: u64,
        category: String,
        turns: Vec<String>,
    }
    let text = read_text(path)?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: Row = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let intent = match r.category.as_str() {
            "coding" => Intent::Code,
            "math" => Intent::Math,
            "reasoning" => Intent::Reasoning,
            _ => Intent::General,
        };
        out.push(Labelled {
            id: format!("mtbench-{}", r.question_id),
            prompt: r.turns.first().cloned().unwrap_or_default(),
            intent,
            source: "mt-bench".into(),
        });
    }
    Ok(out)
}

/// A CSV file (gzip when it ends in .gz): its header and its rows.
pub(crate) fn csv_rows(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>), String> {
    let text = read_text(path)?;
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| e.to_string())?
        .iter()
        .map(str::to_string)
        .collect();
    let mut rows = Vec::new();
    for r in rdr.records() {
        let r = r.map_err(|e| format!("{}: {e}", path.display()))?;
        rows.push(r.iter().map(str::to_string).collect());
    }
    Ok((headers, rows))
}

fn gsm8k(path: &Path) -> Result<Vec<Labelled>, String> {
    let (_, rows) = csv_rows(path)?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(i, r)| Labelled {
            id: format!("gsm8k-{i}"),
            prompt: r.first().cloned().unwrap_or_default(),
            intent: Intent::Math,
            source: "gsm8k".into(),
        })
        .collect())
}

/// MMLU is large: every `stride`-th row is kept.
fn mmlu(path: &Path, stride: usize) -> Result<Vec<Labelled>, String> {
    let (_, rows) = csv_rows(path)?;
    Ok(rows
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % stride.max(1) == 0)
        .map(|(i, r)| Labelled {
            id: format!("mmlu-{i}"),
            prompt: r.get(1).cloned().unwrap_or_default(),
            intent: Intent::General,
            source: "mmlu".into(),
        })
        .collect())
}

fn routerbench(path: &Path) -> Result<Vec<Labelled>, String> {
    let (headers, rows) = csv_rows(path)?;
    let col = |n: &str| headers.iter().position(|h| h == n);
    let (id, eval, prompt) = (
        col("sample_id").ok_or("no sample_id column")?,
        col("eval_name").ok_or("no eval_name column")?,
        col("prompt").ok_or("no prompt column")?,
    );
    Ok(rows
        .into_iter()
        .map(|r| {
            let e = r.get(eval).cloned().unwrap_or_default();
            Labelled {
                id: format!("routerbench-{}", r.get(id).cloned().unwrap_or_default()),
                prompt: r.get(prompt).cloned().unwrap_or_default(),
                intent: if e == "mbpp" {
                    Intent::Code
                } else {
                    Intent::General
                },
                source: format!("routerbench-{e}"),
            }
        })
        .collect())
}

fn routerarena(path: &Path) -> Result<Vec<Labelled>, String> {
    #[derive(Deserialize)]
    struct Row {
        global_index: String,
        source: String,
        question: String,
    }
    let text = read_text(path)?;
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let r: Row = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let prefix = r.source.split('_').next().unwrap_or("");
        let intent = match prefix {
            "GSM8K" | "AIME" | "MATH" | "MathQA" | "AsDiv" => Intent::Math,
            "LiveCodeBench" => Intent::Code,
            _ => Intent::General,
        };
        out.push(Labelled {
            id: format!("routerarena-{}", r.global_index),
            prompt: r.question,
            intent,
            source: "routerarena".into(),
        });
    }
    Ok(out)
}

/// Every labelled source under the shared `eval-data` directory, plus the authored set.
pub fn all_sources(eval_data: &Path, authored: &Path) -> Result<Vec<Labelled>, String> {
    let mut out = Vec::new();
    out.extend(arena_hard(
        &eval_data.join("arena-hard/arena-hard-v2.0-question.jsonl"),
    )?);
    out.extend(mt_bench(
        &eval_data.join("routellm/mt_bench_question.jsonl"),
    )?);
    out.extend(gsm8k(&eval_data.join("routellm/gsm8k_responses.csv"))?);
    out.extend(mmlu(
        &eval_data.join("routellm/mmlu_responses_compact.csv.gz"),
        7,
    )?);
    out.extend(routerbench(
        &eval_data.join("routerbench/routerbench_0shot_mbpp_arc_winogrande.csv.gz"),
    )?);
    out.extend(routerarena(
        &eval_data.join("routerarena/sub10_two_model_results.jsonl.gz"),
    )?);
    out.extend(jsonl(authored)?);
    Ok(out)
}
