//! Syntax highlighting of fenced code with syntect, one line at a time: the parser state
//! after each finished line is kept, so a streaming code block costs O(new lines).

use std::sync::OnceLock;

use ratatui::style::{Color, Style};
use ratatui::text::Span;
use syntect::easy::HighlightLines;
use syntect::highlighting::{Theme as SynTheme, ThemeSet};
use syntect::parsing::SyntaxSet;

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

fn themes() -> &'static ThemeSet {
    static SET: OnceLock<ThemeSet> = OnceLock::new();
    SET.get_or_init(ThemeSet::load_defaults)
}

/// Load the syntax and theme sets (call early, off the UI thread, to hide the cost).
pub fn warm_up() {
    let _ = syntaxes();
    let _ = themes();
}

fn theme(name: &str) -> Option<&'static SynTheme> {
    let t = themes();
    t.themes
        .get(name)
        .or_else(|| t.themes.get("base16-ocean.dark"))
}

/// Highlights one code block line by line.
pub struct CodeHighlighter {
    inner: Option<HighlightLines<'static>>,
}

impl CodeHighlighter {
    /// For a fence's language tag; unknown languages and `NO_COLOR` give plain text.
    pub fn new(lang: &str, theme_name: &str, enabled: bool) -> Self {
        if !enabled {
            return Self { inner: None };
        }
        let ss = syntaxes();
        let token = lang.split([',', ' ', '{']).next().unwrap_or("").trim();
        let syntax = if token.is_empty() {
            None
        } else {
            ss.find_syntax_by_token(token)
        };
        let inner = match (syntax, theme(theme_name)) {
            (Some(s), Some(t)) => Some(HighlightLines::new(s, t)),
            _ => None,
        };
        Self { inner }
    }

    /// Highlight one complete line (without its newline).
    pub fn line(&mut self, text: &str) -> Vec<Span<'static>> {
        let Some(h) = self.inner.as_mut() else {
            return vec![Span::raw(text.to_string())];
        };
        let with_nl = format!("{text}\n");
        match h.highlight_line(&with_nl, syntaxes()) {
            Ok(ranges) => ranges
                .into_iter()
                .filter_map(|(style, piece)| {
                    let piece = piece.trim_end_matches('\n');
                    (!piece.is_empty()).then(|| {
                        let c = style.foreground;
                        Span::styled(
                            piece.to_string(),
                            Style::default().fg(Color::Rgb(c.r, c.g, c.b)),
                        )
                    })
                })
                .collect(),
            Err(_) => vec![Span::raw(text.to_string())],
        }
    }
}

/// Highlight a line without keeping state (the open last line of a streaming block:
/// clone-free, so it may colour a multi-line construct wrongly until the line completes).
pub fn plain_line(text: &str) -> Vec<Span<'static>> {
    vec![Span::raw(text.to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_keywords_get_colours_and_unknown_languages_stay_plain() {
        let mut h = CodeHighlighter::new("rust", "base16-ocean.dark", true);
        let spans = h.line("pub fn add(a: i64) -> i64 { a }");
        assert!(spans.len() > 3);
        let text: String = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "pub fn add(a: i64) -> i64 { a }");
        assert!(spans.iter().any(|s| s.style.fg.is_some()));
        let mut p = CodeHighlighter::new("klingon", "base16-ocean.dark", true);
        assert_eq!(p.line("x = 1").len(), 1);
        let mut off = CodeHighlighter::new("rust", "base16-ocean.dark", false);
        assert_eq!(off.line("fn x() {}")[0].style, Style::default());
    }
}
