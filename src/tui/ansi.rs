//! The transcript's Markdown for a plain terminal: `codeforge ask` on a TTY prints the answer
//! through the same renderer as the TUI (highlighted code, aligned tables, wrapped with
//! their gutters), a finished line at a time, as ANSI-styled text. Text from the model is
//! sanitised before it gets here. Must not import the core or the ledger.

use ratatui::backend::IntoCrossterm;
use ratatui::text::Line;

use super::markdown::StreamingMarkdown;
use super::theme::Theme;
use super::wrap::wrap;

/// One styled line as ANSI text (each span styled and reset after itself).
pub fn line(line: &Line<'_>) -> String {
    let mut out = String::new();
    for span in &line.spans {
        let style: crossterm::style::ContentStyle = line.style.patch(span.style).into_crossterm();
        out.push_str(&style.apply(span.content.as_ref()).to_string());
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
        // Drop CSI sequences (ESC [ ... letter).
        let mut out = String::new();
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
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
        let mut u = TerminalMarkdown::new(Theme::dark(false), 60);
        u.push("no newline at the end");
        assert_eq!(plain(&u.finish()), "no newline at the end\n");
    }
}
