//! Reviewing the edits an answer proposes: when an answer to a prompt with attached files
//! ends, its search/replace blocks become proposals shown one at a time as a coloured diff
//! (y apply, n skip, a apply all, Esc skip the rest); `/undo` takes the newest applied
//! change back; a `!command`'s output is shown and kept for the next prompt. Writing,
//! refusing and undoing are `crate::edits`'s, running `crate::shell`'s; this file owns the
//! keys and the popup. Must not import `core::Session`, `provider` or `ledger`.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};

use super::app::{App, Command, Popup};

/// Last lines of a `!command`'s output shown in the transcript (all of it is attached).
const SHELL_PREVIEW_LINES: usize = 8;
use crate::core::TurnId;
use crate::edits::{Parsed, Proposal, Workspace};

impl App {
    /// After turn `turn` ended: its edits, if it attached files and the answer has some.
    pub(super) fn review_edits(&mut self, turn: TurnId) {
        let Some(files) = self.turn_files.remove(&turn) else {
            return;
        };
        let Some(content) = self
            .answer_mut(turn)
            .and_then(|a| a.outcome.as_ref())
            .map(|o| o.content.clone())
        else {
            return;
        };
        let mut blocks = Vec::new();
        for p in crate::edits::parse(&content, true) {
            match p {
                Parsed::Edit(b) => blocks.push(b),
                Parsed::Malformed { path, reason } => self.notice(
                    &format!(
                        "malformed edit{}: {reason}; nothing changed",
                        path.map_or(String::new(), |p| format!(" to {p}"))
                    ),
                    true,
                ),
            }
        }
        let shown = |path: &str| {
            files
                .iter()
                .find(|(p, _)| p.trim_start_matches("./") == path.trim_start_matches("./"))
                .map(|(_, t)| t.as_str())
        };
        let (proposals, errors) = Workspace::new(&self.root).propose_all(&blocks, shown);
        for e in errors {
            self.notice(&format!("edit not usable: {e}"), true);
        }
        if !proposals.is_empty() {
            self.popup = Popup::Edits {
                proposals,
                index: 0,
            };
        }
    }

    pub(super) fn edits_key(
        &mut self,
        key: KeyEvent,
        proposals: Vec<Proposal>,
        index: usize,
    ) -> Vec<Command> {
        let next = |app: &mut App, from: usize| {
            app.popup = if from < proposals.len() {
                Popup::Edits {
                    proposals: proposals.clone(),
                    index: from,
                }
            } else {
                Popup::None
            };
        };
        match key.code {
            KeyCode::Char('y') | KeyCode::Enter => {
                if let Some(p) = proposals.get(index) {
                    self.apply_edit(p);
                }
                next(self, index + 1);
            }
            KeyCode::Char('n') => {
                if let Some(p) = proposals.get(index) {
                    self.notice(&format!("skipped the edit to {}", p.path), false);
                }
                next(self, index + 1);
            }
            KeyCode::Char('a') => {
                for p in proposals.iter().skip(index) {
                    self.apply_edit(p);
                }
                self.popup = Popup::None;
            }
            KeyCode::Esc => {
                let left = proposals.len().saturating_sub(index);
                self.notice(&format!("{left} edit(s) not applied"), false);
                self.popup = Popup::None;
            }
            _ => {}
        }
        Vec::new()
    }

    fn apply_edit(&mut self, p: &Proposal) {
        match Workspace::new(&self.root).apply(p) {
            Ok(applied) => {
                let logged = self.undo.as_ref().map(|log| log.push(applied));
                let (added, removed) = p.stat();
                match logged {
                    Some(Err(e)) => self.notice(
                        &format!("applied {} but it cannot be undone: {e}", p.path),
                        true,
                    ),
                    _ => {
                        let git = crate::edits::git::summary(&self.root, &[p.path.as_str()])
                            .map_or(String::new(), |g| format!(" · {g}"));
                        self.notice(
                            &format!(
                                "applied {} (+{added} −{removed}){git} · /undo takes it back",
                                p.path
                            ),
                            false,
                        )
                    }
                }
            }
            Err(e) => self.notice(&e.to_string(), true),
        }
    }

    /// Count the edit blocks an answer to a prompt with files has ended so far (shown
    /// beside the stream's speed; they are reviewed when the answer ends).
    pub(super) fn count_streamed_edits(&mut self, turn: TurnId, text: &str) {
        if !self.turn_files.contains_key(&turn) {
            return;
        }
        let (t, line, n) = self
            .streamed_edits
            .get_or_insert_with(|| (turn, String::new(), 0));
        if *t != turn {
            *t = turn;
            line.clear();
            *n = 0;
        }
        for piece in text.split_inclusive('\n') {
            line.push_str(piece);
            // A long line is no marker: keep it from growing (and from ever reading as one).
            if line.len() > 64 && !line.ends_with('\n') {
                line.clear();
                line.push('…');
            }
            if line.ends_with('\n') {
                if crate::edits::ends_block(line) {
                    *n += 1;
                }
                line.clear();
            }
        }
    }

    /// A key in the big-attachment question.
    pub(super) fn confirm_attach_key(
        &mut self,
        key: KeyEvent,
        text: String,
        mentions: crate::attach::Mentions,
        tokens: u64,
    ) -> Vec<Command> {
        match key.code {
            KeyCode::Char('w') | KeyCode::Enter => {
                self.popup = Popup::None;
                self.submit(&text, mentions)
            }
            KeyCode::Char('t') => {
                self.popup = Popup::None;
                let trimmed = crate::attach::trimmed(&text, &mentions, self.attach_confirm_tokens);
                self.submit(&text, trimmed)
            }
            KeyCode::Esc | KeyCode::Char('n') => {
                self.popup = Popup::None;
                self.set_input(&text);
                self.notice(
                    &format!(
                        "not sent (~{tokens} tokens attached); the message is back in the input"
                    ),
                    false,
                );
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    /// A `!command` ended: say how, show its last lines, keep it for the next prompt.
    pub fn on_shell(&mut self, out: crate::shell::ShellOutput) {
        let text = if out.stderr.trim().is_empty() {
            out.stdout.clone()
        } else {
            format!("{}{}", out.stdout, out.stderr)
        };
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines.len().saturating_sub(SHELL_PREVIEW_LINES);
        let mut note = format!(
            "$ {} → {} · {} lines, attached to your next prompt",
            out.command,
            out.status(),
            lines.len()
        );
        for l in &lines[shown..] {
            note.push_str("\n  ");
            note.push_str(l);
        }
        let failed = out.code != Some(0);
        self.notice(&crate::sanitize::for_terminal(&note), failed);
        self.shell_outputs.push(out);
        self.dirty = true;
    }

    pub(super) fn undo_edit(&mut self) {
        let Some(log) = &self.undo else {
            self.notice("no edits were applied here", true);
            return;
        };
        match log.undo() {
            Ok(a) => {
                let text = format!("undid the edit to {}", a.path);
                self.notice(&text, false);
            }
            Err(e) => self.notice(&e.to_string(), true),
        }
    }
}

/// The big-attachment question.
pub(super) fn draw_confirm_attach(
    frame: &mut Frame<'_>,
    app: &App,
    area: Rect,
    mentions: &crate::attach::Mentions,
    tokens: u64,
) {
    let mut lines: Vec<Line<'static>> = mentions
        .attached
        .iter()
        .map(|a| Line::styled(format!(" {a}"), app.theme.text))
        .collect();
    lines.push(Line::styled(
        format!(
            " ~{tokens} tokens, over the {} set (attach_confirm_tokens): they count against the",
            app.attach_confirm_tokens
        ),
        app.theme.warn,
    ));
    lines.push(Line::styled(
        " context window and today's budget. w: send whole · t: send an excerpt · Esc: don't send",
        app.theme.warn,
    ));
    let r = super::popup::centered(
        area,
        area.width.saturating_sub(4).min(96),
        lines.len() as u16 + 2,
    );
    super::popup::boxed(
        frame,
        app,
        r,
        lines,
        Span::styled(" Big attachment ", app.theme.accent),
    );
}

/// The popup: which edit of how many, its file, and its diff coloured.
pub(super) fn draw(
    frame: &mut Frame<'_>,
    app: &App,
    area: Rect,
    proposals: &[Proposal],
    index: usize,
) {
    let Some(p) = proposals.get(index) else {
        return;
    };
    let (added, removed) = p.stat();
    let new = if p.before.is_none() { "new file " } else { "" };
    let title = format!(
        " Edit {}/{} · {new}{} (+{added} −{removed}) · y apply · n skip · a all · Esc none ",
        index + 1,
        proposals.len(),
        p.path
    );
    let lines: Vec<Line<'static>> = p
        .diff
        .lines()
        .map(|l| {
            let style = if l.starts_with("+++") || l.starts_with("---") {
                app.theme.muted
            } else if l.starts_with('+') {
                app.theme.ok
            } else if l.starts_with('-') {
                app.theme.danger
            } else if l.starts_with("@@") {
                app.theme.accent
            } else {
                app.theme.text
            };
            Line::from(Span::styled(crate::sanitize::for_terminal(l), style))
        })
        .collect();
    let r = super::popup::centered(
        area,
        area.width.saturating_sub(4),
        (lines.len() as u16 + 2).min(area.height.saturating_sub(2)),
    );
    super::popup::boxed(frame, app, r, lines, Span::styled(title, app.theme.accent));
}
