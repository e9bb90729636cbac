//! The transcript's Markdown for a plain terminal: `codeforge ask` on a TTY prints the answer
//! through the same renderer as the TUI (highlighted code, aligned tables, wrapped with
//! their gutters), a finished line at a time, as ANSI-styled text. Text from the model is
//! sanitised before it gets here. Must not import the core or the ledger.

use ratatui::backend::IntoCrossterm;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};

use super::markdown::StreamingMarkdown;
use super::theme::Theme;
use super::wrap::wrap;

/// The URL of a link's " (URL)" (or "(URL)") span, if it is one that is safe to put in an escape
/// sequence (http, https or mailto; no spaces or control characters).
fn link_url(span: &Span<'_>) -> Option<String> {
    let text = span.content.as_ref();
    let url = text
        .strip_prefix(' ')
        .unwrap_or(text)
        .strip_prefix('(')?
        .strip_suffix(')')?;
    let scheme = ["http://", "https://", "mailto:"]
        .iter()
        .any(|s| url.starts_with(s));
    (scheme && !url.chars().any(|c| c.is_whitespace() || c.is_control())).then(|| url.to_string())
}

/// One styled line as ANSI text (each span styled and reset after itself). A link's text
/// (the underlined spans before its " (URL)") is also an OSC 8 hyperlink: terminals that
/// know OSC 8 make it clickable, the others ignore it, and the URL stays visible for both.
pub fn line(line: &Line<'_>) -> String {
    let mut out = String::new();
    let spans = &line.spans;
    let mut i = 0;
    while i < spans.len() {
        // A run of underlined spans followed by its URL.
        let run_end = (i..spans.len())
            .find(|&j| !spans[j].style.add_modifier.contains(Modifier::UNDERLINED))
            .unwrap_or(spans.len());
        // Wrapping may have made the URL's leading blank a span of its own.
        let after = match spans.get(run_end) {
            Some(s) if s.content == " " => run_end + 1,
            _ => run_end,
        };
        let url = (run_end > i)
            .then(|| spans.get(after).and_then(link_url))
            .flatten();
        let end = if url.is_some() { run_end } else { i + 1 };
        if let Some(u) = &url {
            out.push_str(&format!("\u{1b}]8;;{u}\u{1b}\\"));
        }
        for span in &spans[i..end] {
            let style: crossterm::style::ContentStyle =
                line.style.patch(span.style).into_crossterm();
            out.push_str(&style.apply(span.content.as_ref()).to_string());
        }
        if url.is_some() {
            out.push_str("\u{1b}]8;;\u{1b}\\");
        }
        i = end;
    }
    out
}

/// Markdown streamed to a terminal: what a delta finishes is printed; the line still
/// open, and a table until its last row, wait.
pub struct TerminalMarkdown {
    md: StreamingMarkdown,
    theme: Theme,
    width: u16,
    printed: usize,
}

impl TerminalMarkdown {
    pub fn new(theme: Theme, width: u16) -> Self {
        Self {
            md: StreamingMarkdown::new(),
            theme,
            width: width.max(20),
            printed: 0,
        }
    }

    /// Add (sanitised) text; returns what to print now.
    pub fn push(&mut self, text: &str) -> String {
        self.md.push(text, &self.theme);
        self.take()
    }

    /// The answer ended: everything left, ending with a newline.
    pub fn finish(&mut self) -> String {
        self.md.finish(&self.theme);
        self.take()
    }

    fn take(&mut self) -> String {
        let mut out = String::new();
        let blocks = self.md.done_blocks();
        for b in &blocks[self.printed..] {
            for l in b.lines(self.width) {
                for w in wrap(&l, self.width) {
                    out.push_str(&line(&w));
                    out.push('\n');
                }
            }
        }
        self.printed = blocks.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(s: &str) -> String {
        // Drop CSI sequences (ESC [ ... letter) and OSC 8 (ESC ] ... ESC \).
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' && chars.peek() == Some(&']') {
                while let Some(d) = chars.next() {
                    if d == '\u{1b}' && chars.peek() == Some(&'\\') {
                        chars.next();
                        break;
                    }
                }
            } else if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn lines_print_when_finished_tables_when_whole_and_styles_as_ansi() {
        let mut t = TerminalMarkdown::new(Theme::dark(false), 60);
        let title = t.push("# Title\nSome **bold");
        assert!(title.contains("\u{1b}["), "styled: {title:?}");
        assert_eq!(plain(&title), "Title\n", "the open line waits");
        let first = t.push("** text\n| a | bb |\n|---|---|\n");
        assert_eq!(plain(&first), "Some bold text\n");
        assert_eq!(t.push("| ccc | d |\n"), "", "the table waits for its end");
        let rest = plain(&t.push("\n```rust\nfn main() {}\n```\n"));
        assert_eq!(
            rest,
            "a   │ bb\n────┼───\nccc │ d\n\n╭─ rust\n│ fn main() {}\n╰─\n"
        );
        assert_eq!(plain(&t.finish()), "");
        let links = t.push("See [the docs](https://docs.rs/x) and [bad](javascript:x).\n");
        assert!(
            links.contains("\u{1b}]8;;https://docs.rs/x\u{1b}\\"),
            "an OSC 8 link: {links:?}"
        );
        assert_eq!(
            links.matches("\u{1b}]8;;").count(),
            2,
            "opened and closed once: {links:?}"
        );
        assert_eq!(
            plain(&links),
            "See the docs (https://docs.rs/x) and bad (javascript:x).\n"
        );
        let mut u = TerminalMarkdown::new(Theme::dark(false), 60);
        u.push("no newline at the end");
        assert_eq!(plain(&u.finish()), "no newline at the end\n");
    }
}
