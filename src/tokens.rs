//! Token counts estimated from text, for what no tokenizer counted: prompts before they are
//! sent, streams whose usage chunk is missing or not believed, the simulator's bills.
//!
//! Must not import other CodeForge modules.

/// Rough token estimate (≈4 bytes per token, the ratio OpenRouter's own estimates use).
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() as u64).div_ceil(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_bytes_a_token_rounded_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        // Bytes, not characters: "日本" is 6 bytes.
        assert_eq!(estimate_tokens("日本"), 2);
    }
}
