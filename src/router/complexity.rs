//! Complexity from measurable signals: how long the instruction is, how many requirements
//! it lists, how much was pasted and of what kind, and domain words that mark genuinely hard
//! work (lock-free structures, distributed consensus, proofs, memory corruption, zero-downtime
//! migrations), and the intent distribution. Two logistic models over these signals, fitted
//! on the train part of the realistic set by `codeforge eval train`, give P(at least medium)
//! and P(high); P(high) is the hardness the router's expected-quality model uses, and the
//! label is `high` / `medium` / `simple` by the two at even odds (`codeforge eval routing`
//! reports its accuracy on the dev part). Pure.

use super::intent_model::IntentModel;
use super::payload::Split;

use crate::task::Complexity;

/// Words that mark genuinely hard work, matched at the start of a word (lower case). Each
/// distinct hit adds [`STRONG`]; CJK and Cyrillic stems match anywhere.
pub(super) const HARD: &[&str] = &[
    "lock-free",
    "lockfree",
    "lock free",
    "wait-free",
    "memory order",
    "acquire/release",
    "linearizab",
    "race condition",
    "data race",
    "deadlock",
    "livelock",
    "consensus",
    "raft",
    "paxos",
    "exactly-once",
    "exactly once",
    "byzantine",
    "crdt",
    "shard",
    "multi-tenant",
    "multi-region",
    "zero downtime",
    "zero-downtime",
    "no downtime",
    "without downtime",
    "prove ",
    "proof",
    "theorem",
    "lemma",
    "olympiad",
    "imo ",
    "amortized",
    "amortised",
    "np-hard",
    "np-complete",
    "lsm",
    "b+ tree",
    "b+tree",
    "compaction",
    "garbage collector",
    "memory corruption",
    "heap corruption",
    "use-after-free",
    "use after free",
    "double free",
    "heisenbug",
    "intermittent",
    "only in production",
    "undefined behavio",
    "fault-tolerant",
    "fault tolerant",
    "high availability",
    "failover",
    "mpmc",
    "spsc",
    "ring buffer",
    "scheduler",
    "type inference",
    "borrow checker",
    "interpreter",
    "compiler for",
    "jit",
    "formal",
    "invariant",
    "irrational",
    "inequality",
    "induction",
    "expected number",
    "expected value",
    "stopping time",
    "markov",
    "combinator",
    "eigen",
    "integral of",
    "∫",
    "event sourcing",
    "cqrs",
    "terabyte",
    " tb ",
    " tb\n",
    "petabyte",
    "billion",
    "millions of",
    "100k",
    "10k rps",
    "rps",
    "qps",
    "p99",
    "real-time",
    "end-to-end encryption",
    "distributed",
    "replication",
    "concurren",
    "atomics",
    "segfault",
    "memory leak",
    "leaks memory",
    // Other languages.
    "证明",
    "分布式",
    "并发",
    "无锁",
    "死锁",
    "一致性",
    "証明",
    "分散",
    "並行",
    "デッドロック",
    "докаж",
    "распредел",
    "конкурент",
    "гонк",
    "взаимоблок",
    "demuestra",
    "demostrar",
    "distribuid",
    "beweise",
    "verteilt",
    "démontr",
    "distribué",
    "chứng minh",
];

/// Weaker cues: design and scale words that are hard only with other signals.
pub(super) const MEDIUM: &[&str] = &[
    "design",
    "architect",
    "trade-off",
    "tradeoff",
    "migrat",
    "optimi",
    "scale",
    "scalab",
    "performance",
    "production",
    "thread",
    "async",
    "cache",
    "algorithm",
    "complexity",
    "refactor",
    "plan ",
    "strategy",
    "secure",
    "security",
    "设计",
    "架构",
    "設計",
    "архитект",
    "diseñ",
    "entwurf",
];

/// A prompt's hardness (P(high)) and its complexity label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardness {
    pub value: f64,
    pub label: Complexity,
}

/// Requirements listed: bullet or numbered lines, and "and"/"with"/commas in a long ask.
fn requirements(instruction: &str) -> usize {
    let listed = instruction
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("- ")
                || t.starts_with("* ")
                || t.split_once(['.', ')']).is_some_and(|(n, _)| {
                    !n.is_empty() && n.len() <= 2 && n.bytes().all(|b| b.is_ascii_digit())
                })
        })
        .count();
    let joined = instruction.matches(", ").count()
        + instruction.matches(" and ").count()
        + instruction.matches(" with ").count()
        + instruction.matches(" must ").count()
        + instruction.matches(';').count();
    listed + joined / 2
}

/// Number of signals the complexity model reads besides the prompt's features.
pub const SIGNALS: usize = 5;

/// The measurable signals of a prompt, in a fixed order, each scaled to about 0..1: log
/// instruction words; requirements listed; hard-domain words; design/scale words; log
/// payload lines. `instruction_lower` is the instruction's window lower-cased
/// ([`super::features::Window`]: all of it, or the start and end of a long one).
pub fn signals(split: &Split, instruction_lower: &str) -> [f32; SIGNALS] {
    let words = super::chars::word_count(instruction_lower)
        // CJK text has no spaces: count characters as half-words.
        + instruction_lower.chars().filter(|c| (*c as u32) >= 0x2E80).count() / 2;
    let asked = super::lexicon::scan(instruction_lower);
    let hard = asked.hard + split.payload_words.hard.min(1);
    [
        (1.0 + words as f32).ln() / 5.0,
        (requirements(instruction_lower) as f32).min(8.0) / 4.0,
        (hard as f32).min(3.0) / 2.0,
        (asked.medium as f32).min(3.0) / 3.0,
        (1.0 + split.payload_lines as f32).ln() / 5.0,
    ]
}

const SIGNAL_NAMES: [&[u8]; SIGNALS] = [
    b"cx:words",
    b"cx:requirements",
    b"cx:hard",
    b"cx:design",
    b"cx:payload",
];

/// The complexity model's input: the prompt's features (instruction and payload apart, as
/// for intents) and the signals as named features.
pub fn complexity_features(split: &Split, window: &super::features::Window) -> Vec<(u32, f32)> {
    with_signals(
        super::features::prompt_features_in(split, window),
        split,
        &window.lower,
    )
}

/// The prompt's features (already computed for the intent) with the signals appended.
fn with_signals(mut f: Vec<(u32, f32)>, split: &Split, instruction_lower: &str) -> Vec<(u32, f32)> {
    for (name, v) in SIGNAL_NAMES.iter().zip(signals(split, instruction_lower)) {
        if v > 0.0 {
            f.push((super::features::named_bucket(name), v));
        }
    }
    f
}

static EMBEDDED: &[u8] = include_bytes!("../../assets/complexity_model.bin");

/// The shipped complexity model: the intent model's format with classes 0, 1, 2 = simple,
/// medium, high (trained by `codeforge eval train`). `None` if missing or damaged.
pub fn embedded_model() -> Option<&'static IntentModel> {
    static MODEL: std::sync::OnceLock<Option<IntentModel>> = std::sync::OnceLock::new();
    MODEL
        .get_or_init(|| IntentModel::from_bytes(EMBEDDED).ok())
        .as_ref()
}

/// Class index of a complexity in the complexity model.
pub fn class_of(c: Complexity) -> usize {
    match c {
        Complexity::Simple => 0,
        Complexity::Medium => 1,
        Complexity::High => 2,
    }
}

/// (P(at least medium), P(high)) under `model`.
pub fn predict(model: &IntentModel, features: &[(u32, f32)]) -> (f64, f64) {
    let p = model.predict(features);
    (f64::from(p[1] + p[2]), f64::from(p[2]))
}

/// Hardness (P(high)) and label of a prompt: by the shipped model, else by rules.
/// `features` are the prompt's features as the intent model read them (reused, not
/// computed again).
pub fn hardness(
    split: &Split,
    features: Vec<(u32, f32)>,
    instruction_lower: &str,
    chat: bool,
) -> Hardness {
    if chat {
        return Hardness {
            value: 0.0,
            label: Complexity::Simple,
        };
    }
    let (medium, high) = match embedded_model() {
        Some(m) => predict(m, &with_signals(features, split, instruction_lower)),
        None => rules(&signals(split, instruction_lower)),
    };
    let label = if high >= 0.5 {
        Complexity::High
    } else if medium >= 0.5 {
        Complexity::Medium
    } else {
        Complexity::Simple
    };
    Hardness { value: high, label }
}

/// Without the shipped model: hard-domain words and size.
fn rules(x: &[f32; SIGNALS]) -> (f64, f64) {
    let high = f64::from(x[2] * 0.7 + x[1] * 0.2).min(1.0);
    let medium = (f64::from(x[0] + x[4]) * 0.6 + high).min(1.0);
    (medium, high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(p: &str) -> Complexity {
        crate::router::analyze(p, 0, None).complexity
    }

    #[test]
    fn hard_work_is_not_simple() {
        assert_eq!(
            label("Design a lock-free ring buffer for a single producer and many consumers"),
            Complexity::High
        );
        assert_eq!(
            label(
                "plan the migration of a 2 TB postgres database to a new cluster with no downtime"
            ),
            Complexity::High
        );
        assert_eq!(label("prove that sqrt(2) is irrational"), Complexity::High);
    }

    #[test]
    fn everyday_asks_are_simple_or_medium() {
        assert_eq!(label("regex for ipv4"), Complexity::Simple);
        assert_eq!(
            label("how do I squash my last 4 commits"),
            Complexity::Simple
        );
        assert_ne!(
            label("write a python function that reads a csv and sorts it by the date column"),
            Complexity::High
        );
    }
}
