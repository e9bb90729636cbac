//! `@` completion: while the word at the cursor starts with `@`, the project's files that
//! match it best are listed above the input (fuzzy, as Helix does); Up and Down choose, Tab
//! or Enter puts the path in, Esc closes the list. The file list comes from a background
//! walk ([`crate::project_files`]). Must not import `core::Session`, `provider` or `ledger`.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::app::App;

/// Paths listed at once.
pub const SHOWN: usize = 8;

/// The list being shown: for which `@word`, its matches, the chosen one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// The word after `@`, as typed.
    pub query: String,
    pub items: Vec<String>,
    pub selected: usize,
}

impl App {
    /// The `@word` the cursor ends, if any (without the `@`).
    fn at_word(&self) -> Option<String> {
        let (row, col) = (
            self.composer.input.cursor().0,
            self.composer.input.cursor().1,
        );
        let line = self.composer.input.lines().get(row)?;
        let before: String = line.chars().take(col).collect();
        let word = before.rsplit(char::is_whitespace).next()?;
        word.strip_prefix('@').map(str::to_string)
    }

    /// After the input changed: list matches for the `@word` at the cursor, or close.
    pub(super) fn refresh_completion(&mut self) {
        let Some(files) = &self.files else {
            self.composer.completion = None;
            return;
        };
        let Some(query) = self.at_word() else {
            self.composer.completion = None;
            self.composer.completion_closed_for = None;
            return;
        };
        if self.composer.completion_closed_for.as_deref() == Some(query.as_str()) {
            return;
        }
        if self
            .composer
            .completion
            .as_ref()
            .is_some_and(|c| c.query == query)
        {
            return;
        }
        // A list older than half a minute is walked again in the background; this key
        // is answered from the one there is.
        files.refresh_if_stale(&self.root);
        let items = files.get().best(&query, SHOWN);
        self.composer.completion = (!items.is_empty()).then_some(Completion {
            query,
            items,
            selected: 0,
        });
    }

    /// A key while the list is shown; `true` if it was the list's.
    pub(super) fn completion_key(&mut self, key: &KeyEvent) -> bool {
        let Some(c) = &mut self.composer.completion else {
            return false;
        };
        let n = c.items.len().max(1);
        match key.code {
            KeyCode::Up => c.selected = (c.selected + n - 1) % n,
            KeyCode::Down => c.selected = (c.selected + 1) % n,
            KeyCode::Tab | KeyCode::Enter => {
                let (query, path) = (c.query.clone(), c.items.get(c.selected).cloned());
                self.composer.completion = None;
                if let Some(path) = path {
                    for _ in 0..query.chars().count() {
                        self.composer.input.delete_char();
                    }
                    self.composer.input.insert_str(format!("{path} "));
                }
            }
            KeyCode::Esc => {
                self.composer.completion_closed_for = Some(c.query.clone());
                self.composer.completion = None;
            }
            _ => return false,
        }
        self.dirty = true;
        true
    }
}

/// The list, just above the input box.
pub(super) fn draw(frame: &mut Frame<'_>, app: &App, input: Rect) {
    let Some(c) = &app.composer.completion else {
        return;
    };
    let lines: Vec<Line<'static>> = c
        .items
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let style = if i == c.selected {
                app.theme
                    .accent
                    .add_modifier(ratatui::style::Modifier::REVERSED)
            } else {
                app.theme.text
            };
            Line::from(Span::styled(format!(" {p} "), style))
        })
        .collect();
    let width = c
        .items
        .iter()
        .map(|p| unicode_width::UnicodeWidthStr::width(p.as_str()) + 4)
        .max()
        .unwrap_or(10)
        .clamp(20, usize::from(input.width)) as u16;
    let height = (lines.len() as u16 + 2).min(input.y);
    let r = Rect {
        x: input.x + 1,
        y: input.y.saturating_sub(height),
        width: width.min(input.width.saturating_sub(1)),
        height,
    };
    super::popup::boxed(
        frame,
        app,
        r,
        lines,
        Span::styled(" files · Tab puts it in ", app.theme.muted),
    );
}
