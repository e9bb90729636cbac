//! Streaming Markdown → styled lines.
//!
//! Line-oriented so that streaming is cheap: every finished source line is rendered once
//! and cached; only the open last line is laid out again on each delta. Fenced code is
//! highlighted with the highlighter's state carried from line to line. Inline markup
//! (emphasis, code spans, links, strikethrough) is parsed per line with pulldown-cmark.

use pulldown_cmark::{Event as Md, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::highlight::CodeHighlighter;
use super::table::{Table, delimiter, split_row};
use super::theme::Theme;

/// A finished piece of the document: a line (wrapped later to the pane), or a table (laid
/// out for the pane's width as a whole, so that its columns line up).
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Line(Line<'static>),
    Table(Table),
}

impl Block {
    /// The block's lines at `width` (a table fits them to it; a line is wrapped by the
    /// caller).
    pub fn lines(&self, width: u16) -> Vec<Line<'static>> {
        match self {
            Block::Line(l) => vec![l.clone()],
            Block::Table(t) => t.lines(width),
        }
    }

    /// The block's lines at `width`, wrapped (a line is not copied before it is wrapped).
    pub fn wrapped(&self, width: u16) -> Vec<Line<'static>> {
        match self {
            Block::Line(l) => super::wrap::wrap(l, width),
            Block::Table(t) => t
                .lines(width)
                .iter()
                .flat_map(|l| super::wrap::wrap(l, width))
                .collect(),
        }
    }
}

/// Rows a table may hold back before the part so far is shown as finished (a table that
/// never ends stays bounded).
const MAX_TABLE_ROWS: usize = 200;

struct Fence {
    marker: &'static str,
    lang: String,
    highlighter: CodeHighlighter,
    source: String,
}

/// Bytes an open line may reach before it is finished in pieces.
const MAX_OPEN_LINE: usize = 2048;
/// The same for a table row (held whole so that it stays one row).
const MAX_OPEN_TABLE_ROW: usize = 64 * 1024;

/// The largest char boundary at or before `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// A Markdown document that grows by deltas.
pub struct StreamingMarkdown {
    done: Vec<Block>,
    /// Source rows of a table still open: its columns are aligned once it ends.
    table: Vec<String>,
    tail: String,
    fence: Option<Fence>,
    code_blocks: Vec<String>,
}

impl Default for StreamingMarkdown {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamingMarkdown {
    pub fn new() -> Self {
        Self {
            done: Vec::new(),
            table: Vec::new(),
            tail: String::new(),
            fence: None,
            code_blocks: Vec::new(),
        }
    }

    /// A finished document in one go.
    pub fn render(text: &str, theme: &Theme) -> Self {
        let mut md = Self::new();
        md.push(text, theme);
        md.finish(theme);
        md
    }

    /// Append (already sanitised) text; renders the lines it completes.
    pub fn push(&mut self, text: &str, theme: &Theme) {
        self.tail.push_str(text);
        // The open line holds no newline between pushes: only new text can end it (no
        // rescan of a long open line per delta, so a flood without newlines stays linear).
        if text.contains('\n') {
            while let Some(pos) = self.tail.find('\n') {
                let line: String = self.tail[..pos].to_string();
                self.tail.drain(..=pos);
                self.finish_line(&line, theme);
            }
        }
        // A line that never ends (a flood) is finished in pieces at a space, so what is
        // laid out again each frame stays short and the whole stays linear.
        // A table row is held whole up to a larger bound: cut, its rest would read as text.
        let table_row = self.fence.is_none() && self.tail.trim_start().starts_with('|');
        let limit = if table_row {
            MAX_OPEN_TABLE_ROW
        } else {
            MAX_OPEN_LINE
        };
        while self.tail.len() > limit {
            let at = floor_char_boundary(&self.tail, limit);
            let cut = self.tail[..at]
                .rfind(' ')
                .filter(|&p| p > 0)
                .map_or(at, |p| p + 1);
            let line: String = self.tail[..cut].to_string();
            self.tail.drain(..cut);
            self.finish_line(&line, theme);
        }
    }

    /// The stream ended: the open line is complete, an open fence is closed.
    pub fn finish(&mut self, theme: &Theme) {
        if !self.tail.is_empty() {
            let line = std::mem::take(&mut self.tail);
            self.finish_line(&line, theme);
        }
        self.end_table(theme);
        if let Some(f) = self.fence.take() {
            self.code_blocks.push(f.source);
            self.push_line(Line::styled("╰─", theme.muted));
        }
        // Kept for the session (copying): without the spare room appending left.
        for code in &mut self.code_blocks {
            code.shrink_to_fit();
        }
        self.code_blocks.shrink_to_fit();
        self.done.shrink_to_fit();
    }

    /// Rendered finished blocks (stable: only ever appended to, until [`Self::shed`]).
    pub fn done_blocks(&self) -> &[Block] {
        &self.done
    }

    /// Drop the rendered blocks of a finished document (kept: its code blocks, for copying).
    /// [`Self::replay`] renders the same text again.
    pub fn shed(&mut self) {
        self.done = Vec::new();
    }

    /// A finished document rendered from its whole text as it was streamed: pushed in pieces
    /// the size of a few tokens, so lines that never end are cut where streaming cut them.
    pub fn replay(text: &str, theme: &Theme) -> Self {
        const PIECE: usize = 16;
        let mut md = Self::new();
        let mut rest = text;
        while !rest.is_empty() {
            let mut at = PIECE.min(rest.len());
            while !rest.is_char_boundary(at) {
                at += 1;
            }
            md.push(&rest[..at], theme);
            rest = &rest[at..];
        }
        md.finish(theme);
        md
    }

    /// The table still open (its rows so far, aligned), if one is.
    pub fn open_table(&self, theme: &Theme) -> Option<Table> {
        (!self.table.is_empty()).then(|| table_of(&self.table, theme))
    }

    fn push_line(&mut self, line: Line<'static>) {
        self.done.push(Block::Line(line));
    }

    fn end_table(&mut self, theme: &Theme) {
        if !self.table.is_empty() {
            let rows = std::mem::take(&mut self.table);
            self.done.push(Block::Table(table_of(&rows, theme)));
        }
    }

    /// The open last line, rendered now (not cached).
    pub fn tail_line(&self, theme: &Theme) -> Option<Line<'static>> {
        if self.tail.is_empty() {
            return None;
        }
        Some(match &self.fence {
            Some(_) => code_line(vec![Span::raw(self.tail.clone())], theme),
            None => block_line(&self.tail, theme),
        })
    }

    /// Drop the finished code blocks (kept only to be copied).
    pub fn forget_code_blocks(&mut self) {
        self.code_blocks = Vec::new();
    }

    /// Finished fenced code blocks, in order (for copying).
    pub fn code_blocks(&self) -> &[String] {
        &self.code_blocks
    }

    fn finish_line(&mut self, line: &str, theme: &Theme) {
        let trimmed = line.trim_start();
        if self.fence.is_none() && trimmed.starts_with('|') {
            self.table.push(line.to_string());
            if self.table.len() >= MAX_TABLE_ROWS {
                self.end_table(theme);
            }
            return;
        }
        self.end_table(theme);
        if let Some(f) = self.fence.as_mut() {
            if trimmed.starts_with(f.marker)
                && trimmed.trim_start_matches(f.marker).trim().is_empty()
            {
                let f = self.fence.take();
                if let Some(f) = f {
                    self.code_blocks.push(f.source);
                }
                self.push_line(Line::styled("╰─", theme.muted));
                return;
            }
            f.source.push_str(line);
            f.source.push('\n');
            let spans = f.highlighter.line(line);
            self.push_line(code_line(spans, theme));
            return;
        }
        for marker in ["```", "~~~"] {
            if let Some(rest) = trimmed.strip_prefix(marker) {
                let lang = rest.trim().to_string();
                let label = if lang.is_empty() {
                    "code".to_string()
                } else {
                    lang.clone()
                };
                self.push_line(Line::from(vec![
                    Span::styled("╭─ ", theme.muted),
                    Span::styled(label, theme.accent),
                ]));
                self.fence = Some(Fence {
                    marker,
                    highlighter: CodeHighlighter::new(&lang, &theme.syntax_theme, !theme.no_color),
                    lang,
                    source: String::new(),
                });
                return;
            }
        }
        self.push_line(block_line(line, theme));
    }

    /// The language of the open fence, if any.
    pub fn open_fence_lang(&self) -> Option<&str> {
        self.fence.as_ref().map(|f| f.lang.as_str())
    }
}

fn code_line(mut spans: Vec<Span<'static>>, theme: &Theme) -> Line<'static> {
    let bg = Style::default().bg(theme.code_bg);
    for s in &mut spans {
        s.style = s.style.patch(bg);
    }
    spans.insert(0, Span::styled("│ ", theme.muted));
    Line::from(spans)
}

/// One non-code line: headings, quotes, lists, rules, table rows, paragraphs.
fn block_line(line: &str, theme: &Theme) -> Line<'static> {
    let trimmed = line.trim_start();
    let indent = &line[..line.len() - trimmed.len()];
    let heading = trimmed.chars().take_while(|c| *c == '#').count();
    if (1..=6).contains(&heading) && trimmed[heading..].starts_with(' ') {
        let style = theme.accent.add_modifier(Modifier::BOLD);
        let mut spans = inline(trimmed[heading..].trim(), theme, style);
        if heading <= 2 {
            for s in &mut spans {
                s.style = s.style.add_modifier(Modifier::UNDERLINED);
            }
        }
        return Line::from(spans);
    }
    if let Some(q) = trimmed.strip_prefix('>') {
        let mut spans = vec![Span::styled("▎ ", theme.muted)];
        spans.extend(inline(
            q.trim_start(),
            theme,
            theme.muted.add_modifier(Modifier::ITALIC),
        ));
        return Line::from(spans);
    }
    let is_rule = trimmed.len() >= 3
        && (trimmed.chars().all(|c| c == '-' || c == ' ')
            || trimmed.chars().all(|c| c == '*' || c == ' ')
            || trimmed.chars().all(|c| c == '_' || c == ' '))
        && trimmed.chars().filter(|c| !c.is_whitespace()).count() >= 3;
    if is_rule {
        return Line::styled("─".repeat(40), theme.muted);
    }
    for bullet in ["- ", "* ", "+ "] {
        if let Some(item) = trimmed.strip_prefix(bullet) {
            let mut spans = vec![
                Span::raw(indent.to_string()),
                Span::styled("• ", theme.accent),
            ];
            let item = if let Some(t) = item.strip_prefix("[ ] ") {
                spans.push(Span::raw("☐ "));
                t
            } else if let Some(t) = item.strip_prefix("[x] ") {
                spans.push(Span::raw("☑ "));
                t
            } else {
                item
            };
            spans.extend(inline(item, theme, theme.text));
            return Line::from(spans);
        }
    }
    let digits = trimmed.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && trimmed[digits..].starts_with(". ") {
        let mut spans = vec![
            Span::raw(indent.to_string()),
            Span::styled(trimmed[..digits + 2].to_string(), theme.accent),
        ];
        spans.extend(inline(&trimmed[digits + 2..], theme, theme.text));
        return Line::from(spans);
    }
    Line::from(inline(line, theme, theme.text))
}

/// A table from its source rows: a header when the second row is a delimiter row (GFM);
/// delimiter rows are not drawn, the rule under the header stands for them.
fn table_of(rows: &[String], theme: &Theme) -> Table {
    let cells = |row: &str| -> Vec<Line<'static>> {
        split_row(row)
            .iter()
            .map(|c| Line::from(inline(c, theme, theme.text)))
            .collect()
    };
    let mut t = Table {
        rule_style: theme.muted,
        ..Table::default()
    };
    let mut rest = rows.iter().peekable();
    if let (Some(first), Some(align)) = (rows.first(), rows.get(1).and_then(|r| delimiter(r))) {
        t.header = Some(cells(first));
        t.align = align;
        rest.next();
        rest.next();
    }
    t.rows = rest
        .filter(|r| delimiter(r).is_none())
        .map(|r| cells(r))
        .collect();
    t
}

/// Text as pulldown-cmark gives it, made safe again: it decodes character references, so
/// `&#27;]52;…&#7;` in an answer becomes a real escape sequence, and `&#x202E;` a bidi
/// override, after the stream was sanitised.
fn clean(text: &str) -> String {
    if text
        .chars()
        .any(|c| c.is_control() || crate::sanitize::is_bidi_control(c))
    {
        crate::sanitize::for_terminal(text)
    } else {
        text.to_string()
    }
}

/// Inline Markdown of one line → spans.
fn inline(text: &str, theme: &Theme, base: Style) -> Vec<Span<'static>> {
    let mut spans = Vec::new();
    let mut stack: Vec<Style> = vec![base];
    let mut link: Option<String> = None;
    let opts = Options::ENABLE_STRIKETHROUGH;
    for ev in Parser::new_ext(text, opts) {
        let top = *stack.last().unwrap_or(&base);
        match ev {
            Md::Start(Tag::Emphasis) => stack.push(top.add_modifier(Modifier::ITALIC)),
            Md::Start(Tag::Strong) => stack.push(top.add_modifier(Modifier::BOLD)),
            Md::Start(Tag::Strikethrough) => stack.push(top.add_modifier(Modifier::CROSSED_OUT)),
            Md::Start(Tag::Link { dest_url, .. }) => {
                link = Some(clean(&dest_url));
                stack.push(top.add_modifier(Modifier::UNDERLINED).patch(theme.accent));
            }
            Md::End(TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough) => {
                stack.pop();
            }
            Md::End(TagEnd::Link) => {
                stack.pop();
                if let Some(url) = link.take() {
                    spans.push(Span::styled(format!(" ({url})"), theme.muted));
                }
            }
            Md::Text(t) => spans.push(Span::styled(clean(&t), top)),
            Md::Code(c) => spans.push(Span::styled(
                clean(&c),
                theme
                    .accent
                    .remove_modifier(Modifier::BOLD)
                    .bg(theme.code_bg),
            )),
            Md::SoftBreak | Md::HardBreak => spans.push(Span::raw(" ")),
            Md::Html(h) | Md::InlineHtml(h) => spans.push(Span::styled(clean(&h), top)),
            _ => {}
        }
    }
    if spans.is_empty() && !text.trim().is_empty() {
        spans.push(Span::styled(clean(text), base));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(l: &Line<'_>) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn lines(md: &StreamingMarkdown, width: u16) -> Vec<Line<'static>> {
        md.done_blocks()
            .iter()
            .flat_map(|b| b.lines(width))
            .collect()
    }

    #[test]
    fn a_line_that_never_ends_is_finished_in_pieces_and_loses_nothing() {
        let t = Theme::dark(false);
        let mut md = StreamingMarkdown::new();
        for _ in 0..5_000 {
            md.push("flood ", &t);
        }
        // What stays open (laid out again every frame) is short; nothing was lost.
        assert!(md.tail.len() <= MAX_OPEN_LINE, "{}", md.tail.len());
        assert!(md.done_blocks().len() >= 10);
        // (Each piece is a line of its own on screen: the space ending it is not drawn.)
        let mut words = 0;
        for l in lines(&md, 80).iter().map(text).chain([md.tail.clone()]) {
            assert!(l.split_whitespace().all(|w| w == "flood"));
            words += l.split_whitespace().count();
        }
        assert_eq!(words, 5_000);
        // A flood of one multi-byte character with no space is cut at a char boundary
        // (three-byte characters do not divide the limit).
        let mut md = StreamingMarkdown::new();
        for _ in 0..3_000 {
            md.push("日", &t);
        }
        let mut all: String = lines(&md, 80).iter().map(text).collect();
        all.push_str(&md.tail);
        assert!(all == "日".repeat(3_000), "{} bytes", all.len());
        let mut md = StreamingMarkdown::new();
        for _ in 0..3_000 {
            md.push("é", &t);
        }
        let mut all: String = lines(&md, 80).iter().map(text).collect();
        all.push_str(&md.tail);
        assert!(all == "é".repeat(3_000), "{} bytes", all.len());
    }

    #[test]
    fn blocks_and_inline_markup() {
        let t = Theme::dark(false);
        let md = StreamingMarkdown::render(
            "# Title\nSome **bold** and `code` and [a link](https://x.y).\n- item\n1. first\n> quote\n| a | b |\n|---|---|\n| 1 | 2 |\n---\n",
            &t,
        );
        let all = lines(&md, 80);
        let lines: Vec<String> = all.iter().map(text).collect();
        assert_eq!(lines[0], "Title");
        assert_eq!(lines[1], "Some bold and code and a link (https://x.y).");
        assert_eq!(lines[2], "• item");
        assert_eq!(lines[3], "1. first");
        assert_eq!(lines[4], "▎ quote");
        assert_eq!(lines[5], "a │ b");
        assert_eq!(lines[6], "──┼──");
        assert_eq!(lines[7], "1 │ 2");
        assert!(lines[8].starts_with("────"));
        let bold = &all[1].spans[1];
        assert!(bold.style.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn streaming_equals_rendering_at_once_and_code_is_collected() {
        let t = Theme::dark(false);
        let doc = "Here:\n\n```rust\nfn main() {\n    println!(\"hi\");\n}\n```\nDone.";
        let whole = StreamingMarkdown::render(doc, &t);
        let mut streamed = StreamingMarkdown::new();
        for ch in doc.chars() {
            streamed.push(&ch.to_string(), &t);
        }
        streamed.finish(&t);
        assert_eq!(whole.done_blocks(), streamed.done_blocks());
        assert_eq!(
            whole.code_blocks(),
            ["fn main() {\n    println!(\"hi\");\n}\n"]
        );
        let lines: Vec<String> = lines(&whole, 80).iter().map(text).collect();
        assert_eq!(lines[2], "╭─ rust");
        assert_eq!(lines[3], "│ fn main() {");
        assert_eq!(lines[6], "╰─");
    }

    #[test]
    fn the_open_tail_is_shown_but_not_cached() {
        let t = Theme::dark(false);
        let mut md = StreamingMarkdown::new();
        md.push("partial **bo", &t);
        assert!(md.done_blocks().is_empty());
        assert_eq!(text(&md.tail_line(&t).unwrap()), "partial **bo");
        md.push("ld**\n", &t);
        assert_eq!(text(&lines(&md, 80)[0]), "partial bold");
        assert!(md.tail_line(&t).is_none());
    }

    #[test]
    fn character_references_never_become_escape_sequences_or_bidi_overrides() {
        let t = Theme::dark(false);
        let md = StreamingMarkdown::render(
            "a &#27;]52;c;ZXZpbA==&#7; b &#x9b;31m c &#x202E; d [x](https://a&#27;[2Jb) `&#27;`\n| &#27;[2J | &#7; |\n",
            &t,
        );
        for l in lines(&md, 80) {
            for s in &l.spans {
                assert!(
                    !s.content.chars().any(|c| c.is_control() || c == '\u{202E}'),
                    "{:?}",
                    s.content
                );
            }
        }
    }

    #[test]
    fn a_long_table_row_streamed_in_pieces_stays_one_row() {
        let t = Theme::dark(false);
        let doc = format!(
            "| a | b |\n|---|---|\n| {} | x |\n| c | d |\n",
            "w ".repeat(1500)
        );
        let whole = StreamingMarkdown::render(&doc, &t);
        let mut streamed = StreamingMarkdown::new();
        for piece in doc.as_bytes().chunks(100) {
            streamed.push(std::str::from_utf8(piece).unwrap(), &t);
        }
        streamed.finish(&t);
        assert_eq!(whole.done_blocks(), streamed.done_blocks());
        assert_eq!(whole.done_blocks().len(), 1, "one table");
    }

    #[test]
    fn a_table_is_held_open_then_aligned_as_a_whole() {
        let t = Theme::dark(false);
        let mut md = StreamingMarkdown::new();
        md.push(
            "| language | typing | speed |\n|---|---|--:|\n| Rust | static | fast |\n",
            &t,
        );
        // Still open: shown aligned so far, nothing finished yet.
        assert!(md.done_blocks().is_empty());
        let open: Vec<String> = md
            .open_table(&t)
            .unwrap()
            .lines(80)
            .iter()
            .map(text)
            .collect();
        assert_eq!(open[2], "Rust     │ static │  fast");
        md.push("| Python | dynamic | slower |\nAfter.\n", &t);
        assert!(md.open_table(&t).is_none());
        let lines: Vec<String> = lines(&md, 80).iter().map(text).collect();
        assert_eq!(
            lines,
            [
                "language │ typing  │  speed",
                "─────────┼─────────┼───────",
                "Rust     │ static  │   fast",
                "Python   │ dynamic │ slower",
                "After.",
            ]
        );
        // The header is bold.
        let header = &md.done_blocks()[0].lines(80)[0];
        assert!(header.spans[0].style.add_modifier.contains(Modifier::BOLD));
    }
}
