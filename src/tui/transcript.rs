//! The transcript component: its cells (prompts, answers, notices), how far the view is
//! scrolled up, and its layout for a frame: each cell wrapped to the width, the page
//! height, and the scroll kept on the lines being read while the transcript grows.
//! Drawing reads it and changes nothing. Must not import `app` or `ui`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::cells::{Answer, Cell};
use super::theme::Theme;
use crate::core::TurnId;

#[derive(Default)]
pub struct Transcript {
    pub cells: Vec<Cell>,
    /// Lines scrolled up from the bottom (0 = following the end).
    pub scroll: usize,
    /// What a page moves: the view's height less two lines (from the last layout).
    pub page: usize,
    /// The total height and width of the last layout (to keep the view on the lines being
    /// read as the transcript grows).
    last_total: usize,
    last_width: u16,
    /// Lines that arrived below the view while it was scrolled up.
    pub new_lines: usize,
}

/// The text width and height of a transcript drawn in `area` (one column kept for the edge).
fn size(area: Rect) -> (u16, usize) {
    (area.width.saturating_sub(1).max(10), area.height as usize)
}

impl Transcript {
    pub fn push(&mut self, cell: Cell) {
        if matches!(cell, Cell::Answer(_)) {
            // Only the last answer is copied from: the earlier ones keep their text once.
            for c in &mut self.cells {
                if let Cell::Answer(a) = c {
                    a.no_longer_last();
                }
            }
        }
        self.cells.push(cell);
    }

    /// Empty, and following the end.
    pub fn clear(&mut self) {
        self.cells.clear();
        self.follow();
    }

    /// Back to the end, following what arrives.
    pub fn follow(&mut self) {
        self.scroll = 0;
        self.new_lines = 0;
    }

    /// Up (positive) or down by `lines`.
    pub fn scroll_by(&mut self, lines: isize) {
        self.scroll = self.scroll.saturating_add_signed(lines);
    }

    /// A page up (`up`) or down.
    pub fn page(&mut self, up: bool) {
        let page = self.page.max(1) as isize;
        self.scroll_by(if up { page } else { -page });
    }

    pub fn last_answer(&self) -> Option<&Answer> {
        self.cells.iter().rev().find_map(|c| match c {
            Cell::Answer(a) => Some(a.as_ref()),
            _ => None,
        })
    }

    pub fn last_answer_mut(&mut self) -> Option<&mut Answer> {
        self.cells.iter_mut().rev().find_map(|c| match c {
            Cell::Answer(a) => Some(a.as_mut()),
            _ => None,
        })
    }

    pub fn answer(&self, turn: TurnId) -> Option<&Answer> {
        self.cells.iter().rev().find_map(|c| match c {
            Cell::Answer(a) if a.turn == turn => Some(a.as_ref()),
            _ => None,
        })
    }

    pub fn answer_mut(&mut self, turn: TurnId) -> Option<&mut Answer> {
        self.cells.iter_mut().rev().find_map(|c| match c {
            Cell::Answer(a) if a.turn == turn => Some(a.as_mut()),
            _ => None,
        })
    }

    /// Lay every cell out for a view of `area`, and keep the scroll on the lines being read:
    /// scrolled up while the transcript grows, the view moves up with it (a new width
    /// re-wraps everything: no anchor then).
    pub fn layout(&mut self, area: Rect, theme: &Theme) {
        let (width, height) = size(area);
        self.page = height.saturating_sub(2).max(1);
        let mut total = 0usize;
        for c in &mut self.cells {
            c.layout(width, theme);
            total += c.height();
        }
        if self.scroll > 0 && width == self.last_width && total > self.last_total {
            let grown = total - self.last_total;
            self.scroll += grown;
            self.new_lines += grown;
        }
        self.scroll = self.scroll.min(total.saturating_sub(height));
        let total = self.keep_lines_near_the_view(total, height, width, theme);
        self.last_total = total;
        self.last_width = width;
        self.scroll = self.scroll.min(total.saturating_sub(height));
        self.new_lines = self.new_lines.min(self.scroll);
    }

    /// Finished answers more than a page away from the view keep their text only; the ones
    /// on it or within a page of it, their rendered lines. Memory follows what is near the
    /// screen, not the length of the transcript. Returns the total height, which an answer
    /// rendered again may change (a line cut differently): by a line or two, rarely.
    fn keep_lines_near_the_view(
        &mut self,
        total: usize,
        height: usize,
        width: u16,
        theme: &Theme,
    ) -> usize {
        let end = total - self.scroll.min(total);
        let start = end.saturating_sub(height);
        let (near_lo, near_hi) = (start.saturating_sub(height), end + height);
        let mut offset = 0usize;
        let mut new_total = 0usize;
        for c in &mut self.cells {
            let h = c.height();
            let (cs, ce) = (offset, offset + h);
            offset = ce;
            if let Cell::Answer(a) = c {
                if ce > near_lo && cs < near_hi {
                    if a.is_shed() {
                        a.unshed(theme);
                        a.layout(width, theme);
                    }
                } else {
                    a.shed();
                }
            }
            new_total += c.height();
        }
        new_total
    }

    /// Draw the lines in view (as the last [`Self::layout`] wrapped them), and the marker
    /// of what is below when scrolled up.
    pub fn draw(&self, frame: &mut Frame<'_>, area: Rect, theme: &Theme) {
        let (width, height) = size(area);
        let total: usize = self.cells.iter().map(Cell::height).sum();
        let end = total - self.scroll.min(total);
        let start = end.saturating_sub(height);
        let mut lines: Vec<Line<'static>> = Vec::with_capacity(height);
        let mut offset = 0usize;
        for c in &self.cells {
            let h = c.height();
            let (cs, ce) = (offset, offset + h);
            offset = ce;
            if ce <= start {
                continue;
            }
            if cs >= end {
                break;
            }
            lines.extend(c.slice(start.saturating_sub(cs), (end - cs).min(h)));
        }
        if self.cells.is_empty() {
            lines.extend(super::wrap::wrap(
                &Line::styled(
                    "Ask a question. The router picks a model and shows why before the answer streams.",
                    theme.muted,
                ),
                width,
            ));
        }
        frame.render_widget(Paragraph::new(lines), area);
        if self.scroll > 0 {
            let hint = if self.new_lines > 0 {
                format!(" ↓ {} new lines · End follows ", self.new_lines)
            } else {
                format!(" ↓ {} more lines (PgDn) ", self.scroll)
            };
            let w = hint.chars().count() as u16;
            if area.width > w && area.height > 0 {
                let r = Rect::new(area.x + area.width - w, area.y + area.height - 1, w, 1);
                frame.render_widget(Paragraph::new(Span::styled(hint, theme.accent)), r);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::cells::Answer;

    fn screen(t: &Transcript, area: Rect, theme: &Theme) -> Vec<String> {
        let backend = ratatui::backend::TestBackend::new(area.width, area.height);
        let mut term = ratatui::Terminal::new(backend).unwrap();
        term.draw(|f| t.draw(f, area, theme)).unwrap();
        let buf = term.backend().buffer();
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buf[(x, y)].symbol().to_string())
                    .collect()
            })
            .collect()
    }

    #[test]
    fn answers_far_from_the_view_keep_text_only_and_read_the_same_when_scrolled_to() {
        let theme = Theme::dark(false);
        let mut t = Transcript::default();
        for n in 0..6u64 {
            let mut a = Answer::new(TurnId(n), format!("question {n}"));
            let mut text = String::new();
            for i in 0..60 {
                text.push_str(&format!("Answer {n}, line {i}: a few words to wrap.\n"));
                if i % 20 == 0 {
                    text.push_str("```rust\nfn f() -> u32 { 42 }\n```\n");
                }
            }
            for piece in text.split_inclusive(' ') {
                a.push_content(piece, &theme);
            }
            a.finish(&theme);
            t.push(Cell::Answer(Box::new(a)));
        }
        let area = Rect::new(0, 0, 40, 20);
        // Everything rendered (a view taller than the transcript): the reference lines.
        t.layout(Rect::new(0, 0, 40, 60_000), &theme);
        let all: Vec<String> = t
            .cells
            .iter()
            .flat_map(|c| c.slice(0, c.height()))
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        let total = all.len();
        let shed = |t: &Transcript| {
            t.cells
                .iter()
                .filter(|c| matches!(c, Cell::Answer(a) if a.is_shed()))
                .count()
        };
        assert_eq!(shed(&t), 0);
        // Following the end: only what is within a page of the view is rendered.
        t.layout(area, &theme);
        assert!(shed(&t) >= 4, "{}", shed(&t));
        // Up through the whole transcript and down again: every screen shows the same lines
        // as the fully rendered transcript (the last row is left out: it holds the hint).
        let ups: Vec<usize> = (0..total - 20).step_by(7).collect();
        for up in ups.iter().chain(ups.iter().rev()) {
            t.scroll = *up;
            t.layout(area, &theme);
            let s = screen(&t, area, &theme);
            let end = total - up;
            for row in 0..19 {
                assert_eq!(
                    s[row].trim_end(),
                    all[end - 20 + row].trim_end(),
                    "{up} lines up, row {row}"
                );
            }
        }
        // The copy-code key reads the last answer: shed when scrolled away, it keeps its
        // code blocks; the earlier answers keep none (nothing copies from them).
        t.scroll = total - 20;
        t.layout(area, &theme);
        let answers: Vec<&Answer> = t
            .cells
            .iter()
            .filter_map(|c| match c {
                Cell::Answer(a) => Some(a.as_ref()),
                _ => None,
            })
            .collect();
        let (last, earlier) = answers.split_last().unwrap();
        assert!(last.is_shed());
        assert_eq!(last.md.code_blocks().len(), 3);
        assert!(earlier.iter().all(|a| a.md.code_blocks().is_empty()));
        // The first answer, in view again, is rendered again without them.
        assert!(!earlier[0].is_shed());
    }
}
