//! Markdown tables laid out for a width: columns aligned by display width (unicode-width),
//! `:--` / `:-:` / `--:` alignment, a bold header over a rule, and cells wrapped inside
//! their column when the table is wider than the pane. Pure: styled lines in, styled lines
//! out; must not import the app, the terminal or anything outside `tui`'s rendering.

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::wrap::wrap;

/// How a column's cells sit in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    Center,
    Right,
}

/// A table as parsed: its rows of cells (each cell already styled), which of them is the
/// header, and each column's alignment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Table {
    pub header: Option<Vec<Line<'static>>>,
    pub rows: Vec<Vec<Line<'static>>>,
    pub align: Vec<Align>,
    pub rule_style: Style,
}

/// Columns are set apart by this, three columns wide.
const GAP: &str = " │ ";
const GAP_WIDTH: usize = 3;
/// No column is squeezed below this many columns of text.
const MIN_COL: usize = 3;

/// The cells of a table row (`| a | b |`, outer pipes optional, `\|` kept).
pub fn split_row(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = if t.ends_with('|') && !t.ends_with("\\|") {
        &t[..t.len() - 1]
    } else {
        t
    };
    let mut cells = vec![String::new()];
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(s) = cells.last_mut() {
                    s.push('|');
                }
            }
            '|' => cells.push(String::new()),
            c => {
                if let Some(s) = cells.last_mut() {
                    s.push(c);
                }
            }
        }
    }
    cells.into_iter().map(|c| c.trim().to_string()).collect()
}

/// The alignments of a delimiter row (`|:--|--:|`), or `None` if it is not one.
pub fn delimiter(line: &str) -> Option<Vec<Align>> {
    let cells = split_row(line);
    cells
        .iter()
        .map(|c| {
            let inner = c.trim_start_matches(':').trim_end_matches(':');
            if inner.is_empty() || !inner.chars().all(|ch| ch == '-') {
                return None;
            }
            Some(match (c.starts_with(':'), c.ends_with(':')) {
                (true, true) => Align::Center,
                (false, true) => Align::Right,
                _ => Align::Left,
            })
        })
        .collect()
}

/// Display width as ratatui draws it (grapheme by grapheme, as wrapping measures it).
fn width_of(line: &Line<'_>) -> usize {
    line.spans
        .iter()
        .map(|s| super::wrap::display_width(&s.content))
        .sum()
}

impl Table {
    fn columns(&self) -> usize {
        self.header
            .iter()
            .chain(self.rows.iter())
            .map(Vec::len)
            .max()
            .unwrap_or(0)
    }

    /// Column widths for `width`: natural widths when they fit; otherwise columns wider
    /// than an even share are narrowed to what is left, the narrow ones keep their width.
    fn widths(&self, width: usize) -> Vec<usize> {
        let n = self.columns();
        let mut natural = vec![0usize; n];
        for row in self.header.iter().chain(self.rows.iter()) {
            for (i, cell) in row.iter().enumerate() {
                if let Some(w) = natural.get_mut(i) {
                    *w = (*w).max(width_of(cell));
                }
            }
        }
        let natural: Vec<usize> = natural.into_iter().map(|w| w.max(1)).collect();
        let room = width
            .saturating_sub(GAP_WIDTH * n.saturating_sub(1))
            .max(n * MIN_COL);
        if natural.iter().sum::<usize>() <= room {
            return natural;
        }
        // Fair shares: a column narrower than its share keeps its width and gives the
        // rest back to the others.
        let mut out = vec![0usize; n];
        let mut open: Vec<usize> = (0..n).collect();
        let mut left = room;
        loop {
            let share = left / open.len().max(1);
            let (fits, wide): (Vec<usize>, Vec<usize>) =
                open.iter().partition(|&&i| natural[i] <= share);
            if fits.is_empty() {
                let extra = left - share * wide.len();
                for (k, i) in wide.iter().enumerate() {
                    out[*i] = (share + usize::from(k < extra)).max(MIN_COL);
                }
                return out;
            }
            for i in fits {
                out[i] = natural[i];
                left -= natural[i];
            }
            open = wide;
            if open.is_empty() {
                return out;
            }
        }
    }

    /// The table as lines no wider than `width` (unless even the narrowest columns are).
    pub fn lines(&self, width: u16) -> Vec<Line<'static>> {
        let widths = self.widths(usize::from(width));
        let mut out = Vec::new();
        if let Some(h) = &self.header {
            let bold: Vec<Line<'static>> = h
                .iter()
                .map(|l| {
                    Line::from(
                        l.spans
                            .iter()
                            .map(|s| {
                                Span::styled(
                                    s.content.clone(),
                                    s.style.add_modifier(Modifier::BOLD),
                                )
                            })
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            self.row(&bold, &widths, &mut out);
            let rule: Vec<String> = widths.iter().map(|w| "─".repeat(*w)).collect();
            out.push(Line::styled(rule.join("─┼─"), self.rule_style));
        }
        for r in &self.rows {
            self.row(r, &widths, &mut out);
        }
        out
    }

    fn row(&self, cells: &[Line<'static>], widths: &[usize], out: &mut Vec<Line<'static>>) {
        let empty = Line::default();
        let wrapped: Vec<Vec<Line<'static>>> = widths
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let cell = cells.get(i).unwrap_or(&empty);
                wrap(cell, u16::try_from(*w).unwrap_or(u16::MAX))
            })
            .collect();
        let height = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for k in 0..height {
            let mut spans: Vec<Span<'static>> = Vec::new();
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    spans.push(Span::styled(GAP, self.rule_style));
                }
                let piece = wrapped.get(i).and_then(|c| c.get(k));
                let used = piece.map_or(0, width_of);
                let pad = w.saturating_sub(used);
                let (before, after) = match self.align.get(i).copied().unwrap_or(Align::Left) {
                    Align::Left => (0, pad),
                    Align::Right => (pad, 0),
                    Align::Center => (pad / 2, pad - pad / 2),
                };
                if before > 0 {
                    spans.push(Span::raw(" ".repeat(before)));
                }
                if let Some(p) = piece {
                    spans.extend(p.spans.iter().cloned());
                }
                // The last column is not padded on the right (no trailing blanks).
                if after > 0 && i + 1 < widths.len() {
                    spans.push(Span::raw(" ".repeat(after)));
                }
            }
            out.push(Line::from(spans));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(l: &Line<'_>) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    fn table(rows: &[&[&str]], align: Vec<Align>) -> Table {
        let cells = |r: &&[&str]| r.iter().map(|c| Line::from(c.to_string())).collect();
        Table {
            header: rows.first().map(cells),
            rows: rows.iter().skip(1).map(cells).collect(),
            align,
            rule_style: Style::default(),
        }
    }

    #[test]
    fn rows_split_on_pipes_and_delimiters_give_alignment() {
        assert_eq!(split_row("| a | b \\| c |"), ["a", "b | c"]);
        assert_eq!(split_row("a|b"), ["a", "b"]);
        assert_eq!(
            delimiter("|:--|:-:|--:| --- |"),
            Some(vec![Align::Left, Align::Center, Align::Right, Align::Left])
        );
        assert_eq!(delimiter("| a | b |"), None);
        assert_eq!(delimiter("| - | x |"), None);
    }

    #[test]
    fn columns_line_up_whatever_the_widths() {
        let t = table(
            &[
                &["language", "typing", "speed"],
                &["Rust", "static", "fast"],
                &["Python", "dynamic", "slower"],
            ],
            vec![Align::Left, Align::Left, Align::Right],
        );
        let lines: Vec<String> = t.lines(80).iter().map(text).collect();
        assert_eq!(
            lines,
            [
                "language │ typing  │  speed",
                "─────────┼─────────┼───────",
                "Rust     │ static  │   fast",
                "Python   │ dynamic │ slower",
            ]
        );
    }

    #[test]
    fn wide_characters_are_measured_by_columns_not_chars() {
        let t = table(&[&["名前", "x"], &["日本語", "y"]], vec![]);
        let lines: Vec<String> = t.lines(80).iter().map(text).collect();
        assert_eq!(lines[0], "名前   │ x");
        assert_eq!(lines[2], "日本語 │ y");
    }

    #[test]
    fn a_table_wider_than_the_pane_wraps_inside_its_columns() {
        let long = "a long explanation of why this column needs many words to say it";
        let t = table(&[&["key", "meaning"], &["k", long]], vec![]);
        let lines = t.lines(30);
        for l in &lines {
            assert!(l.width() <= 30, "{:?} is {} wide", text(l), l.width());
        }
        // The narrow column keeps its width; every wrapped line keeps the separator.
        assert!(lines.len() > 3);
        for l in lines.iter().filter(|l| !text(l).contains('┼')) {
            assert_eq!(text(l).find('│'), Some(4), "{:?}", text(l));
        }
        let all: String = lines.iter().map(text).collect::<Vec<_>>().join(" ");
        for w in long.split(' ') {
            assert!(all.contains(w), "{w} lost");
        }
    }
}
