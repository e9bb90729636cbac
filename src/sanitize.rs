//! Neutralising terminal escape sequences and control characters in untrusted text
//! (model output, pasted prompts) before it reaches a terminal.
//!
//! Uses `vte`'s state machine (the parser alacritty uses), so sequences split across stream
//! deltas are still recognised and dropped whole: CSI (cursor moves, colours), OSC (titles,
//! OSC 52 clipboard writes, OSC 8 links), DCS, and bracketed-paste markers. Only printable
//! characters, `\n` and tabs (expanded to spaces) survive; bidirectional overrides and
//! isolates (U+202A–U+202E, U+2066–U+2069, the "Trojan Source" characters that make text
//! read differently from what it is) are shown as `<U+202E>` instead of acting. Used for
//! every byte from outside on every output: answers, model names, error messages and
//! bodies, on stdout, stderr and in the TUI. Must not import other modules.

/// Stateful sanitiser for a stream of text pieces.
pub struct Sanitizer {
    parser: vte::Parser,
    out: Collector,
}

#[derive(Default)]
struct Collector {
    text: String,
}

/// Characters that reorder the text around them when displayed.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{061C}')
}

impl vte::Perform for Collector {
    fn print(&mut self, c: char) {
        if is_bidi_control(c) {
            self.text.push_str(&format!("<U+{:04X}>", c as u32));
        } else if !c.is_control() {
            self.text.push(c);
        }
    }

    fn execute(&mut self, byte: u8) {
        match byte {
            b'\n' => self.text.push('\n'),
            b'\t' => self.text.push_str("    "),
            _ => {}
        }
    }
}

impl Default for Sanitizer {
    fn default() -> Self {
        Self::new()
    }
}

impl Sanitizer {
    pub fn new() -> Self {
        Self {
            parser: vte::Parser::new(),
            out: Collector::default(),
        }
    }

    /// Feed one piece; returns the safe text it completes.
    pub fn push(&mut self, piece: &str) -> String {
        // Some terminals honour C1 controls written as UTF-8 (U+009B is CSI). Rewrite them
        // as their 7-bit ESC forms so the parser drops the whole sequence they start.
        if piece.chars().any(is_c1) {
            let mut seven_bit = String::with_capacity(piece.len() + 8);
            for c in piece.chars() {
                if is_c1(c) {
                    seven_bit.push('\x1b');
                    seven_bit.push(char::from((c as u32 - 0x40) as u8));
                } else {
                    seven_bit.push(c);
                }
            }
            return self.push_bytes(seven_bit.as_bytes());
        }
        self.push_bytes(piece.as_bytes())
    }

    /// Feed raw bytes (invalid UTF-8 becomes U+FFFD).
    pub fn push_bytes(&mut self, bytes: &[u8]) -> String {
        self.parser.advance(&mut self.out, bytes);
        std::mem::take(&mut self.out.text)
    }
}

fn is_c1(c: char) -> bool {
    ('\u{80}'..='\u{9f}').contains(&c)
}

/// Sanitise one complete string.
pub fn for_terminal(text: &str) -> String {
    Sanitizer::new().push(text)
}

/// Whether `text` is already what [`for_terminal`] makes of it: printable characters and
/// newlines only (no escape, tab, carriage return or other control, no bidi control).
pub fn is_shown_as_is(text: &str) -> bool {
    text.chars()
        .all(|c| c == '\n' || (!c.is_control() && !is_bidi_control(c)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn drops_osc52_title_cursor_and_paste_markers() {
        let evil =
            "a\x1b]52;c;ZXZpbA==\x07b\x1b]0;pwned\x1b\\c\x1b[2J\x1b[Hd\x1b[201~e\r\u{9b}31mf";
        assert_eq!(for_terminal(evil), "abcdef");
    }

    #[test]
    fn bidi_overrides_are_shown_not_obeyed() {
        assert_eq!(
            for_terminal("if admin \u{202E} { ok }\u{2066}x\u{2069}"),
            "if admin <U+202E> { ok }<U+2066>x<U+2069>"
        );
        // Ordinary right-to-left text is untouched.
        assert_eq!(for_terminal("שלום مرحبا"), "שלום مرحبا");
    }

    #[test]
    fn keeps_text_newlines_and_expands_tabs() {
        assert_eq!(
            for_terminal("fn main() {\n\tok();\n}"),
            "fn main() {\n    ok();\n}"
        );
        assert_eq!(for_terminal("naïve 25°C 日本"), "naïve 25°C 日本");
    }

    #[test]
    fn sequence_split_across_pieces_is_still_dropped() {
        let mut s = Sanitizer::new();
        let mut out = s.push("red\x1b[3");
        out += &s.push("1mtext\x1b]0;ti");
        out += &s.push("tle\x07!");
        assert_eq!(out, "redtext!");
    }

    proptest! {
        #[test]
        fn no_control_character_survives(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let out = Sanitizer::new().push_bytes(&bytes);
            prop_assert!(out.chars().all(|c| c == '\n' || !c.is_control()));
            prop_assert!(!out.chars().any(is_bidi_control));
        }

        #[test]
        fn text_shown_as_is_is_left_as_it_is(text in "(\\PC|\n|\t|\r|\x1b|\u{9b}|\u{202e}){0,64}") {
            if is_shown_as_is(&text) {
                prop_assert_eq!(for_terminal(&text), text);
            } else {
                prop_assert_ne!(for_terminal(&text), text);
            }
        }
    }
}
