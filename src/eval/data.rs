//! Readers for the labelled evaluation data: the shared sources (Arena-Hard, MT-Bench,
//! GSM8K, MMLU, RouterBench, RouterArena) mapped to intents as the routing protocol says,
//! the authored set, and plain `{prompt, intent}` JSONL files.

use std::io::Read;
use std::path::Path;

use serde::Deserialize;

use crate::router::features::stable_hash;
use crate::task::{Complexity, Intent};

/// One labelled prompt.
#[derive(Debug, Clone, PartialEq)]
pub struct Labelled {
    pub id: String,
    pub prompt: String,
    pub intent: Intent,
    pub source: String,
    /// Complexity, where the source gives one (or its README's mapping does).
    pub complexity: Option<Complexity>,
}

impl Labelled {
    /// The frozen split: one prompt in five (by a hash of its id) is test, never trained on.
    pub fn is_test(&self) -> bool {
        // The realistic set is split by paraphrase group (`realistic/KEY/ID`), three in five
        // held out, so no group is on both sides.
        if let Some(rest) = self.id.strip_prefix("realistic/") {
            return !super::routing::is_train_key(rest.split('/').next().unwrap_or(rest));
        }
        if self.id.starts_with("realistic-train/") {
            return false;
        }
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
            complexity: None,
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
            // Hard prompts by selection; creative writing is not work a cheap model fails.
            complexity: Some(if intent == Intent::General {
                Complexity::Medium
            } else {
                Complexity::High
            }),
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
            complexity: Some(Complexity::Medium),
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
            complexity: Some(Complexity::Medium),
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
            complexity: Some(Complexity::Simple),
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
                complexity: Some(if e == "mbpp" {
                    Complexity::Medium
                } else {
                    Complexity::Simple
                }),
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
            complexity: None,
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

/// Every `stride`-th row of a section C JSONL file (deterministic by a hash of the id).
fn section_c(
    path: &Path,
    keep: impl Fn(&serde_json::Value) -> bool,
    stride: u64,
) -> Result<Vec<serde_json::Value>, String> {
    let text = read_text(path)?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        let id = v["id"].as_str().unwrap_or_default();
        if stable_hash(&format!("c:{id}")).is_multiple_of(stride) && keep(&v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// A request template picked by a hash of the row's id, so the same row always reads the
/// same way (the data are descriptions; people type requests).
fn template<'t>(id: &str, templates: &[&'t str]) -> &'t str {
    templates[(stable_hash(id) % templates.len() as u64) as usize]
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Section C of the shared data (human-written, terminal-shaped), wrapped in request
/// templates as its README advises, with the intents its hints give after the checks noted
/// per source. Sampled: these teach shapes, they must not outweigh the realistic set.
pub fn terminal_sources(eval_data: &Path) -> Result<Vec<Labelled>, String> {
    let mut out = Vec::new();
    for source in [shell, stackoverflow, sql, regex, chat, rustc, issues] {
        source(eval_data, &mut out)?;
    }
    Ok(out)
}

fn push(
    out: &mut Vec<Labelled>,
    id: &str,
    prompt: String,
    intent: Intent,
    source: &str,
    complexity: Option<Complexity>,
) {
    out.push(Labelled {
        id: id.to_string(),
        prompt,
        intent,
        source: source.to_string(),
        complexity,
    });
}

/// A row's `complexity_hint`.
fn hint(v: &serde_json::Value) -> Option<Complexity> {
    match v["complexity_hint"].as_str() {
        Some("simple") => Some(Complexity::Simple),
        Some("medium") => Some(Complexity::Medium),
        Some("high") => Some(Complexity::High),
        _ => None,
    }
}

/// A row's text field `k` ("" when missing).
fn s(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_string()
}

/// Shell how-to (nl2bash, tldr): general.
fn shell(eval_data: &Path, out: &mut Vec<Labelled>) -> Result<(), String> {
    for v in section_c(&eval_data.join("nl2bash/nl2bash.jsonl"), |_| true, 30)? {
        let id = s(&v, "id");
        let text = s(&v, "text")
            .trim_start_matches("(GNU specific) ")
            .trim_start_matches("(BSD specific) ")
            .trim_end_matches('.')
            .to_string();
        let t = template(
            &id,
            &[
                "how do I {}",
                "{}",
                "bash: {}",
                "command to {}",
                "how to {} in linux",
                "{}?",
            ],
        );
        push(
            out,
            &id,
            t.replace("{}", &lower_first(&text)),
            Intent::General,
            "c-shell",
            hint(&v),
        );
    }
    for v in section_c(
        &eval_data.join("tldr-pages/tldr_examples.jsonl.gz"),
        |_| true,
        200,
    )? {
        let id = s(&v, "id");
        let text = s(&v, "text");
        let prompt = if s(&v, "lang") == "en" {
            template(
                &id,
                &["how do I {}", "{}", "how to {} with {page}", "{page}: {}"],
            )
            .replace("{page}", &s(&v, "page"))
            .replace("{}", &lower_first(&text))
        } else {
            text
        };
        push(out, &id, prompt, Intent::General, "c-shell", hint(&v));
    }
    Ok(())
}

/// Stack Overflow titles in four languages: code, or the hint's debug/explain.
fn stackoverflow(eval_data: &Path, out: &mut Vec<Labelled>) -> Result<(), String> {
    for v in section_c(&eval_data.join("conala/conala_mconala.jsonl"), |_| true, 3)? {
        let intent = Intent::parse(&s(&v, "intent_hint")).unwrap_or(Intent::Code);
        push(
            out,
            &s(&v, "id"),
            s(&v, "text"),
            intent,
            "c-stackoverflow",
            hint(&v),
        );
    }
    Ok(())
}

/// SQL requests (Spider only: BIRD's rows are non-commercial): code once SQL is asked for.
fn sql(eval_data: &Path, out: &mut Vec<Labelled>) -> Result<(), String> {
    for v in section_c(
        &eval_data.join("text2sql/text2sql_dev.jsonl"),
        |v| v["dataset"] == "spider-dev",
        3,
    )? {
        let id = s(&v, "id");
        let t = template(
            &id,
            &[
                "write a sql query: {}",
                "sql for {}",
                "{} (postgres query)",
                "query to answer: {}",
                "SQL: {}",
            ],
        );
        push(
            out,
            &id,
            t.replace("{}", &lower_first(&s(&v, "text"))),
            Intent::Code,
            "c-sql",
            hint(&v).map(|c| c.min(Complexity::Medium)),
        );
    }
    Ok(())
}

/// Regex requests: code.
fn regex(eval_data: &Path, out: &mut Vec<Labelled>) -> Result<(), String> {
    for v in section_c(&eval_data.join("nl-regex/nl_regex.jsonl"), |_| true, 40)? {
        let id = s(&v, "id");
        let text = s(&v, "text").trim_end_matches('.').to_string();
        let t = template(
            &id,
            &[
                "regex for {}",
                "regular expression matching {}",
                "write a regex: {}",
                "grep pattern for {}",
            ],
        );
        push(
            out,
            &id,
            t.replace("{}", &text),
            Intent::Code,
            "c-regex",
            hint(&v),
        );
    }
    Ok(())
}

/// Chat, acknowledgements and small talk: general.
fn chat(eval_data: &Path, out: &mut Vec<Labelled>) -> Result<(), String> {
    for v in section_c(
        &eval_data.join("clinc150/clinc150_full.jsonl.gz"),
        |v| v["source_intent"] != "calculator",
        12,
    )? {
        push(
            out,
            &s(&v, "id"),
            s(&v, "text"),
            Intent::General,
            "c-chat",
            hint(&v),
        );
    }
    Ok(())
}

/// Compiler errors: debug (instruction + code + rustc's output, or the output alone), and explain ("what does E0499 mean").
fn rustc(eval_data: &Path, out: &mut Vec<Labelled>) -> Result<(), String> {
    for v in section_c(
        &eval_data.join("rustc-error-index/rustc_error_index.jsonl"),
        |v| v["compiler_output"].is_string(),
        1,
    )? {
        let id = s(&v, "id");
        let code = s(&v, "error_code");
        let ask = template(
            &id,
            &[
                "why does this not compile?",
                "fix this",
                "",
                "help",
                "what's wrong here",
                "how do I fix this error",
            ],
        );
        let prompt = if stable_hash(&format!("src:{id}")).is_multiple_of(2) {
            format!(
                "{ask}\n\n{}\n\n{}",
                s(&v, "example_source"),
                s(&v, "compiler_output")
            )
        } else {
            format!("{ask}\n{}", s(&v, "compiler_output"))
        };
        push(
            out,
            &id,
            prompt.trim().to_string(),
            Intent::Debug,
            "c-rustc",
            hint(&v),
        );
        let t = template(
            &code,
            &[
                "what does {} mean",
                "explain rust error {}",
                "{} what is this error about?",
                "rustc {} explanation",
            ],
        );
        push(
            out,
            &format!("{id}-explain"),
            t.replace("{}", &code),
            Intent::Explain,
            "c-rustc",
            Some(Complexity::Simple),
        );
    }
    Ok(())
}

/// Issue reports with pasted code and tracebacks: the hint (debug, or code for features).
fn issues(eval_data: &Path, out: &mut Vec<Labelled>) -> Result<(), String> {
    for v in section_c(
        &eval_data.join("swe-bench-lite/swe_bench_lite_issues.jsonl"),
        |_| true,
        2,
    )? {
        let intent = Intent::parse(&s(&v, "intent_hint")).unwrap_or(Intent::Debug);
        push(
            out,
            &s(&v, "id"),
            s(&v, "text"),
            intent,
            "c-issues",
            hint(&v),
        );
    }
    Ok(())
}
