//! Prompt analysis: the intent distribution (calibrated), complexity, context size, the
//! payload's kind, and whether the prompt is chat or a follow-up.
//!
//! Intent comes from the learned linear model over hashed features of the instruction and
//! the payload apart ([`super::payload`]); its probabilities are calibrated by a temperature
//! fitted on held-back realistic prompts. Acknowledgements and chat take a fast path
//! ([`super::chat`]); a follow-up keeps the thread's intent only when it reads as one.

use super::chat::is_chat;
use super::complexity::hardness;
use super::features::{
    KEYWORDS, Window, head, keyword_hits, prompt_features_in, prompt_features_of,
};
use super::intent_model::IntentModel;
use super::payload::{PayloadKind, split};
use crate::task::{Complexity, Intent};

/// Softmax temperature that calibrates the intent model's probabilities (fitted by
/// `codeforge eval train` on held-back realistic prompts: it prints the value).
pub const TEMPERATURE: f32 = 1.05;

/// What the router knows about a prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Analysis {
    pub intent: Intent,
    pub confidence: f64,
    /// Calibrated probability of each intent, in `Intent::ALL` order.
    pub probs: [f64; 6],
    pub complexity: Complexity,
    /// 0 (trivial) … 1 (genuinely hard): the quality model's difficulty.
    pub hardness: f64,
    pub context_tokens: u64,
    /// The intent was carried over from the previous turn.
    pub follow_up: bool,
    /// An acknowledgement or small talk: fast path to a cheap model.
    pub chat: bool,
    pub payload: PayloadKind,
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
    "okay ",
    "but ",
    "can you also",
    "do the same",
    "try ",
    "shorter",
    "faster",
    "it still",
    "still ",
    "that still",
    "that didn't",
    "that doesn't",
    "doesn't work",
    "didn't work",
    "add ",
    "remove ",
    "rename ",
    "without ",
];

/// Keyword-only intent, used when the model asset is missing.
fn keyword_intent(p: &str) -> [f64; 6] {
    let hits = keyword_hits(&super::chars::lowercase(head(p, 2000)));
    let mut probs = [0.02; 6];
    let total: usize = hits.iter().sum();
    if total == 0 {
        probs[5] = 0.9;
        return probs;
    }
    for (i, (family, _)) in KEYWORDS.iter().enumerate() {
        let intent = Intent::parse(family).unwrap_or(Intent::General);
        let at = Intent::ALL.iter().position(|x| *x == intent).unwrap_or(5);
        probs[at] += hits[i] as f64 / total as f64;
    }
    let sum: f64 = probs.iter().sum();
    probs.map(|p| p / sum)
}

fn top(probs: &[f64; 6]) -> (Intent, f64) {
    let (i, c) =
        probs.iter().enumerate().fold(
            (5, f64::MIN),
            |acc, (i, v)| if *v > acc.1 { (i, *v) } else { acc },
        );
    (Intent::ALL[i], c)
}

fn intent_probs(features: &[(u32, f32)], prompt: &str) -> [f64; 6] {
    match IntentModel::embedded() {
        Some(m) => m
            .predict_with_temperature(features, TEMPERATURE)
            .map(f64::from),
        None => keyword_intent(prompt),
    }
}

/// The complexity model's input for a prompt (what `codeforge eval train` fits it on).
pub fn complexity_input(prompt: &str) -> Vec<(u32, f32)> {
    let parts = split(prompt);
    super::complexity::complexity_features(&parts, &Window::of(&parts.instruction))
}

/// Intent and confidence of one prompt, ignoring the conversation.
pub fn classify(prompt: &str) -> (Intent, f64) {
    top(&intent_probs(
        &prompt_features_of(&split(prompt), prompt),
        prompt,
    ))
}

/// Classify a prompt in its conversation: `history_tokens` is what earlier turns add;
/// `previous` is the intent of the last turn of this conversation (`None` in a new one).
pub fn analyze(prompt: &str, history_tokens: u64, previous: Option<Intent>) -> Analysis {
    let prompt_tokens = (prompt.len() as u64).div_ceil(4);
    let chat = is_chat(prompt);
    let parts = split(prompt);
    // The instruction's window, lower-cased once for the features, the complexity signals
    // and the follow-up test.
    let window = Window::of(&parts.instruction);
    // Computed once, read by both models (none for chat: the fast path needs neither).
    let features = if chat {
        Vec::new()
    } else {
        prompt_features_in(&parts, &window)
    };
    let mut probs = if chat {
        let mut p = [0.0; 6];
        p[5] = 1.0;
        p
    } else {
        intent_probs(&features, prompt)
    };
    let lower = window.lower.as_str();
    let mut follow_up = false;
    if let Some(prev) = previous
        && !chat
    {
        // Short, and starts like a continuation ("now make it faster", "same but in go"):
        // the thread's intent, unless the prompt says otherwise with confidence. Reading
        // as `general` is no such word: it is what a continuation without its thread
        // reads as.
        let (own, conf) = top(&probs);
        let conf = if own == Intent::General { 0.0 } else { conf };
        let reads_as_follow_up = super::chars::word_count_up_to(lower, 11) <= 10
            && parts.kind == PayloadKind::None
            && FOLLOW_UP_STARTS
                .iter()
                .any(|s| lower.trim_start().starts_with(s));
        if reads_as_follow_up && !(own != prev && conf >= 0.85) {
            follow_up = own != prev;
            let at = Intent::ALL.iter().position(|x| *x == prev).unwrap_or(5);
            // Keep the thread's intent, with the prompt's own reading as the alternative.
            for p in &mut probs {
                *p *= 0.3;
            }
            probs[at] += 0.7;
        }
    }
    let (intent, confidence) = top(&probs);
    let h = hardness(&parts, features, lower, chat);
    // Long prompts are long work, whatever their words.
    let (hardness, complexity) = if prompt_tokens > 6000 && h.label == Complexity::Simple {
        (h.value.max(0.2), Complexity::Medium)
    } else {
        (h.value, h.label)
    };
    Analysis {
        intent,
        confidence,
        probs,
        complexity,
        hardness,
        context_tokens: prompt_tokens + history_tokens,
        follow_up,
        chat,
        payload: parts.kind,
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
    fn a_long_prompt_is_read_through_one_window_by_both_models() {
        // The ask after 3 KB of context: the complexity signals see it, as the features do
        // (they read the first 2,000 bytes only, and missed it).
        let context = "some context about the project and its modules. ".repeat(64);
        let p = format!("{context}\nnow design a lock-free ring buffer for this");
        let parts = split(&p);
        let window = Window::of(&parts.instruction);
        assert!(
            window
                .lower
                .ends_with("design a lock-free ring buffer for this")
        );
        let signals = super::super::complexity::signals(&parts, &window.lower);
        assert!(signals[2] > 0.0, "hard words: {signals:?}");
        assert!(signals[3] > 0.0, "design words: {signals:?}");
        assert_eq!(analyze(&p, 0, None).complexity, Complexity::High);
    }

    #[test]
    fn complexity_grows_with_size_and_difficulty() {
        assert_eq!(analyze("hi", 0, None).complexity, Complexity::Simple);
        assert_eq!(
            analyze("design a distributed queue", 0, None).complexity,
            Complexity::High
        );
        let long = "word ".repeat(40_000);
        assert_ne!(analyze(&long, 0, None).complexity, Complexity::Simple);
    }
}
