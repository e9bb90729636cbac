//! Prompt analysis: intent (with a confidence), complexity and context size.
//!
//! Keyword rules over the lower-cased prompt; pure and allocation-light.

use crate::task::{Complexity, Intent};

/// What the router knows about a prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Analysis {
    pub intent: Intent,
    pub confidence: f64,
    pub complexity: Complexity,
    pub context_tokens: u64,
}

const RULES: &[(Intent, &[&str])] = &[
    (
        Intent::Debug,
        &[
            "error",
            "panic",
            "traceback",
            "stack trace",
            "exception",
            "segfault",
            "fails",
            "failing",
            "doesn't work",
            "does not work",
            "bug",
            "crash",
            "undefined is not",
        ],
    ),
    (
        Intent::Math,
        &[
            "prove",
            "proof",
            "integral",
            "derivative",
            "equation",
            "complexity",
            "big-o",
            "o(n",
            "probability",
            "matrix",
            "theorem",
            "algorithm",
            "sum of",
        ],
    ),
    (
        Intent::Reasoning,
        &[
            "design",
            "architecture",
            "architect",
            "trade-off",
            "tradeoff",
            "scalab",
            "microservice",
            "distributed",
            "system design",
            "strategy",
        ],
    ),
    (
        Intent::Code,
        &[
            "write a",
            "function",
            "implement",
            "refactor",
            "code",
            "script",
            "class ",
            "struct",
            "unit test",
            "program",
            "snippet",
            "method",
            "```",
        ],
    ),
    (
        Intent::Explain,
        &[
            "explain",
            "what is",
            "what's",
            "how does",
            "why does",
            "difference between",
        ],
    ),
];

/// Classify a prompt; `history_tokens` is what earlier turns add to the request.
pub fn analyze(prompt: &str, history_tokens: u64) -> Analysis {
    let p = prompt.to_lowercase();
    let mut best = (Intent::General, 0usize);
    let mut total = 0usize;
    for (intent, words) in RULES {
        let hits = words.iter().filter(|w| p.contains(*w)).count();
        total += hits;
        if hits > best.1 {
            best = (*intent, hits);
        }
    }
    let confidence = if total == 0 {
        0.5
    } else {
        (best.1 as f64 / total as f64).clamp(0.0, 1.0)
    };
    let prompt_tokens = (prompt.len() as u64).div_ceil(4);
    let words = prompt.split_whitespace().count();
    let complexity = if prompt_tokens > 1500 || words > 300 {
        Complexity::High
    } else if words > 40 || p.contains("```") {
        Complexity::Medium
    } else {
        Complexity::Simple
    };
    Analysis {
        intent: best.0,
        confidence,
        complexity,
        context_tokens: prompt_tokens + history_tokens,
    }
}
