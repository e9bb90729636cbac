//! Prompt analysis: intent (with a confidence), complexity and context size.
//!
//! Intent comes from the learned linear model over hashed features (keyword families are
//! among the features); a follow-up too short to stand alone keeps the thread's intent.

use super::features::{KEYWORDS, features, head, keyword_hits};
use super::intent_model::IntentModel;
use crate::task::{Complexity, Intent};

/// What the router knows about a prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Analysis {
    pub intent: Intent,
    pub confidence: f64,
    pub complexity: Complexity,
    pub context_tokens: u64,
    /// The intent was carried over from the previous turn.
    pub follow_up: bool,
}

const FOLLOW_UP_STARTS: &[&str] = &[
    "now ",
    "also ",
    "and ",
    "make it",
    "what about",
    "same ",
    "again",
    "instead",
    "then ",
    "ok ",
    "okay",
    "but ",
    "can you also",
    "do the same",
    "try ",
    "shorter",
    "faster",
];

/// Keyword-only intent, used when the model asset is missing.
fn keyword_intent(p: &str) -> (Intent, f64) {
    let hits = keyword_hits(head(p, 2000));
    let mut best = (Intent::General, 0usize);
    let total: usize = hits.iter().sum();
    for (i, (family, _)) in KEYWORDS.iter().enumerate() {
        if hits[i] > best.1 {
            best = (Intent::parse(family).unwrap_or(Intent::General), hits[i]);
        }
    }
    if total == 0 {
        (Intent::General, 0.5)
    } else {
        (best.0, best.1 as f64 / total as f64)
    }
}

/// Intent and confidence of one prompt, ignoring the conversation.
pub fn classify(prompt: &str) -> (Intent, f64) {
    match IntentModel::embedded() {
        Some(m) => {
            let p = m.predict(&features(prompt));
            let (i, c) =
                p.iter().enumerate().fold(
                    (0, f32::MIN),
                    |acc, (i, v)| if *v > acc.1 { (i, *v) } else { acc },
                );
            (Intent::ALL[i], f64::from(c))
        }
        None => keyword_intent(prompt),
    }
}

/// Classify a prompt in its conversation: `history_tokens` is what earlier turns add;
/// `previous` is the intent of the last turn.
pub fn analyze(prompt: &str, history_tokens: u64, previous: Option<Intent>) -> Analysis {
    let (mut intent, mut confidence) = classify(prompt);
    // Only the start is needed for the follow-up and difficulty cues; long prompts are
    // measured, not read.
    let lower = head(prompt.trim_start(), 600).to_lowercase();
    // Counted exactly on short prompts; estimated (5 bytes a word) on long ones.
    let words = if prompt.len() > 2048 {
        prompt.len() / 5
    } else {
        prompt.split_whitespace().count()
    };
    let mut follow_up = false;
    if let Some(prev) = previous {
        let looks_like_follow_up =
            words <= 12 && FOLLOW_UP_STARTS.iter().any(|s| lower.starts_with(s));
        if looks_like_follow_up || (words <= 6 && confidence < 0.6) {
            follow_up = intent != prev;
            intent = prev;
            confidence = confidence.max(0.6);
        }
    }
    let prompt_tokens = (prompt.len() as u64).div_ceil(4);
    let lines = head(prompt, 2048).lines().count();
    let hard_words = [
        "prove",
        "design",
        "architecture",
        "distributed",
        "optimi",
        "trade-off",
        "scale",
    ];
    let hard = hard_words.iter().filter(|w| lower.contains(*w)).count();
    let complexity = if prompt_tokens > 1500 || words > 300 || hard >= 2 {
        Complexity::High
    } else if words > 40 || lines > 6 || head(prompt, 2048).contains("```") || hard == 1 {
        Complexity::Medium
    } else {
        Complexity::Simple
    };
    Analysis {
        intent,
        confidence,
        complexity,
        context_tokens: prompt_tokens + history_tokens,
        follow_up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follow_ups_keep_the_threads_intent() {
        let a = analyze("now make it faster", 500, Some(Intent::Code));
        assert_eq!(a.intent, Intent::Code);
        let b = analyze("also add tests for the edge cases", 500, Some(Intent::Code));
        assert_eq!(b.intent, Intent::Code);
        // A full new question is classified on its own.
        let c = analyze(
            "prove that the sum of the first n odd numbers equals n squared",
            500,
            Some(Intent::Code),
        );
        assert_eq!(c.intent, Intent::Math);
    }

    #[test]
    fn complexity_grows_with_size_and_difficulty() {
        assert_eq!(analyze("hi", 0, None).complexity, Complexity::Simple);
        assert_eq!(
            analyze("design a distributed queue", 0, None).complexity,
            Complexity::High
        );
        let long = "word ".repeat(400);
        assert_eq!(analyze(&long, 0, None).complexity, Complexity::High);
    }
}
