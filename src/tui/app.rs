//! The TUI's state and its input handling: keys, pastes and core events in; core ops,
//! clipboard writes and quit out. No terminal IO here, so tests drive it directly.

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEventKind};

use super::cells::{Answer, AnswerState, Cell};
use super::composer::Composer;
use super::keymap::{Action, Keymap};
use super::slash::{BudgetArg, Slash};
use super::theme::Theme;
use super::transcript::Transcript;
use crate::core::protocol::{ConversationItem, Role, TurnStatus};
use crate::core::{BudgetSnapshot, Choice, Event, Op, TurnId};

/// Narrower than this, the sidebar is left out (F2 says so).
pub const SIDEBAR_MIN_WIDTH: u16 = 80;
/// From this width up the sidebar is shown unless F2 hid it; below it, only after F2 (or
/// `/budget`, `/stats`): at 80 columns its 34 would leave the answer 46.
pub const SIDEBAR_AUTO_WIDTH: u16 = 120;

/// What the app asks the outside world to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Core(Op),
    /// Put text on the clipboard (OSC 52, works over SSH).
    Copy(String),
    /// Run a shell command the user typed (`!cmd`); its output comes back to `on_shell`.
    Shell(String),
    /// Open this text in `$VISUAL` / `$EDITOR`; what is saved becomes the input.
    Editor(String),
    Quit,
}

/// Routing mode shown in the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    Auto,
    /// Pinned for the session (model id).
    Pinned(String),
    /// For the next message only (model id).
    Next(String),
}

/// What the model picker does with the chosen entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickerPurpose {
    NextMessage,
    Rerun,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    None,
    /// The key list, scrolled down by this many lines (for short terminals).
    Help(u16),
    Picker {
        purpose: PickerPurpose,
        selected: usize,
    },
    Conversations {
        list: Vec<ConversationItem>,
        selected: usize,
    },
    ConfirmQuit,
    /// Attachments over `attach_confirm_tokens`: send whole (w), an excerpt (t), or not.
    ConfirmAttach {
        text: String,
        mentions: Box<crate::attach::Mentions>,
        tokens: u64,
    },
    /// Edits an answer proposes, reviewed one at a time (`index` is the one shown).
    Edits {
        proposals: Vec<crate::edits::Proposal>,
        index: usize,
    },
}

pub struct App {
    /// Shared, so handing it to a cell per token is a reference-count bump.
    pub theme: std::sync::Arc<Theme>,
    pub keymap: Keymap,
    pub demo: bool,
    /// (id, short name) of every catalog model, in catalog order.
    pub models: Vec<(String, String)>,
    pub transcript: Transcript,
    pub composer: Composer,
    pub mode: Mode,
    /// The pin a one-message override interrupts: back in force after that message.
    pub pin_after_next: Option<String>,
    pub popup: Popup,
    /// The sidebar as F2 last set it; `None`: shown from [`SIDEBAR_AUTO_WIDTH`]
    /// columns up, so that an 80-column terminal keeps its width for the answer.
    pub sidebar: Option<bool>,
    pub budget: Option<BudgetSnapshot>,
    /// Width of the terminal at the last draw.
    pub width: u16,
    next_turn: TurnId,
    /// The running turn and when it was sent.
    pub running: Option<(TurnId, Instant)>,
    pub first_token_at: Option<Instant>,
    pub dirty: bool,
    /// Quality ↔ cost preference shown in the status bar.
    pub preference: u8,
    /// Where `@path` mentions are read and edits are written (the working directory).
    pub root: std::path::PathBuf,
    /// Applied edits, for `/undo` (none in tests that do not set one).
    pub undo: Option<crate::edits::UndoLog>,
    /// The files each turn attached, as the model was shown them.
    pub turn_files: std::collections::HashMap<TurnId, Vec<(String, String)>>,
    /// The core's system prompt has the edit format (files were attached last time).
    pub system_edits: bool,
    /// The session's system prompt without the edit format.
    pub base_system: String,
    /// The project's files for `@` completion (none: no completion).
    pub files: Option<crate::project_files::SharedIndex>,
    /// The `@` completion list shown, and the word it was closed for with Esc.
    /// Attachments above this many tokens are sent only when the user says how.
    pub attach_confirm_tokens: u64,
    /// Roles from the config, and the one in use.
    pub roles: std::collections::BTreeMap<String, crate::config::Role>,
    pub role: Option<String>,
    /// Earlier prompts, recalled with Up and Down.
    /// Edits seen so far in the answer streaming for a turn with files: (turn, the
    /// unfinished last line, blocks ended).
    pub streamed_edits: Option<(TurnId, String, usize)>,
    /// Output of `!command`s, attached to the next prompt.
    pub shell_outputs: Vec<crate::shell::ShellOutput>,
    /// The router explores (shown in the status bar).
    pub explore: bool,
}

/// Where the budget stands, in one line (`/budget` alone).
fn budget_line(b: &crate::core::BudgetSnapshot) -> String {
    let key = b
        .key
        .map(|k| format!(" · key: {} of {} left", k.left, k.limit))
        .unwrap_or_default();
    format!(
        "today {} spent, {} held, of {} a day · month {} of {}{key} · /budget <USD> sets today's limit",
        b.today.committed,
        b.today.reserved,
        b.limits.daily.exact(),
        b.month.total(),
        b.limits.monthly.exact()
    )
}

impl App {
    pub fn new(theme: Theme, keymap: Keymap, demo: bool, models: Vec<(String, String)>) -> Self {
        let composer = Composer::new(&keymap);
        let mut app = Self {
            theme: std::sync::Arc::new(theme),
            keymap,
            demo,
            models,
            transcript: Transcript::default(),
            composer,
            mode: Mode::Auto,
            pin_after_next: None,
            popup: Popup::None,
            sidebar: None,
            budget: None,
            width: u16::MAX,
            next_turn: TurnId(1),
            running: None,
            first_token_at: None,
            dirty: true,
            preference: 5,
            explore: false,
            root: std::path::PathBuf::from("."),
            undo: None,
            turn_files: std::collections::HashMap::new(),
            system_edits: false,
            base_system: crate::core::SYSTEM_PROMPT.to_string(),
            shell_outputs: Vec::new(),
            streamed_edits: None,
            roles: std::collections::BTreeMap::new(),
            role: None,
            files: None,
            attach_confirm_tokens: crate::attach::CONFIRM_TOKENS,
        };
        if demo {
            app.transcript.push(Cell::notice(
                "Demo mode: no OPENROUTER_API_KEY set, so answers come from the built-in simulator. Set the key to use OpenRouter.",
                app.theme.warn,
            ));
        }
        app
    }

    /// A warning shown at the top of the transcript (start-up: insecure transport).
    pub fn warn(&mut self, text: &str) {
        self.transcript.push(Cell::notice(text, self.theme.warn));
    }

    /// Tab after `/` and part of a command's name: the name completed when one fits, the
    /// names that fit listed when several do. `false` if the input is no command name.
    fn complete_slash(&mut self) -> bool {
        let text = self.composer.input.lines().join("\n");
        let Some(part) = text.strip_prefix('/') else {
            return false;
        };
        if part.contains(char::is_whitespace) {
            return false;
        }
        let fits: Vec<&str> = super::slash::NAMES
            .iter()
            .copied()
            .filter(|c| c.starts_with(part))
            .collect();
        match fits.as_slice() {
            [one] => self.set_input(&format!("/{one} ")),
            [] => self.notice(
                &format!("no command starts with /{part}; /help lists them"),
                true,
            ),
            many => {
                let list: Vec<String> = many.iter().map(|c| format!("/{c}")).collect();
                self.notice(&list.join("  "), false);
            }
        }
        true
    }

    /// Readline's keys where the text area differs: Ctrl-U kills to the line's start (the
    /// text area's Ctrl-U is undo, which moves to Ctrl-Z), and with text in the input
    /// Ctrl-E goes to the line's end (with the input empty it is still the card's key).
    fn readline_key(&mut self, key: &KeyEvent) -> bool {
        use ratatui_textarea::CursorMove;
        if key.modifiers != KeyModifiers::CONTROL {
            return false;
        }
        let has_text = self.composer.input.lines().iter().any(|l| !l.is_empty());
        match key.code {
            KeyCode::Char('u') => {
                self.composer.input.delete_line_by_head();
            }
            KeyCode::Char('z') => {
                self.composer.input.undo();
            }
            KeyCode::Char('e') if has_text => self.composer.input.move_cursor(CursorMove::End),
            KeyCode::Char('a') => self.composer.input.move_cursor(CursorMove::Head),
            _ => return false,
        }
        true
    }

    /// Replace the input's text, the cursor at its end.
    pub fn set_input(&mut self, text: &str) {
        self.composer.set_text(text);
    }

    /// A plain note at the top of the transcript (start-up: project instructions in use).
    pub fn note(&mut self, text: &str) {
        self.transcript.push(Cell::notice(text, self.theme.muted));
    }

    /// The sidebar is drawn at this width (F2's choice, or by default from
    /// [`SIDEBAR_AUTO_WIDTH`] up; never below [`SIDEBAR_MIN_WIDTH`]).
    pub fn sidebar_shown(&self, width: u16) -> bool {
        width >= SIDEBAR_MIN_WIDTH && self.sidebar.unwrap_or(width >= SIDEBAR_AUTO_WIDTH)
    }

    fn last_answer(&self) -> Option<&Answer> {
        self.transcript.last_answer()
    }

    fn last_answer_mut(&mut self) -> Option<&mut Answer> {
        self.transcript.last_answer_mut()
    }

    pub(super) fn answer_mut(&mut self, turn: TurnId) -> Option<&mut Answer> {
        self.transcript.answer_mut(turn)
    }

    fn name_of(&self, id: &str) -> String {
        self.models
            .iter()
            .find(|(i, _)| i == id)
            .map_or(id.to_string(), |(_, n)| n.clone())
    }

    pub(super) fn notice(&mut self, text: &str, error: bool) {
        let style = if error {
            self.theme.danger
        } else {
            self.theme.muted
        };
        self.transcript.push(Cell::notice(text, style));
        self.transcript.follow();
    }

    /// A bracketed paste: inserted whole into the input (never sent by its newlines); a
    /// long one as a one-line token that is expanded when the prompt is sent.
    pub fn on_paste(&mut self, text: &str) -> Vec<Command> {
        self.dirty = true;
        if self.popup == Popup::None {
            self.composer.paste(text);
        }
        Vec::new()
    }

    pub fn on_mouse(&mut self, kind: MouseEventKind) {
        match kind {
            MouseEventKind::ScrollUp => self.transcript.scroll_by(3),
            MouseEventKind::ScrollDown => self.transcript.scroll_by(-3),
            _ => return,
        }
        self.dirty = true;
    }

    pub fn on_key(&mut self, key: KeyEvent) -> Vec<Command> {
        if key.kind != KeyEventKind::Press {
            return Vec::new();
        }
        self.dirty = true;
        match self.popup.clone() {
            Popup::None => {}
            Popup::Help(top) => {
                // Arrows and pages scroll a help taller than the terminal; any other key
                // closes it.
                self.popup = match key.code {
                    KeyCode::Down => Popup::Help(top.saturating_add(1)),
                    KeyCode::PageDown => Popup::Help(top.saturating_add(10)),
                    KeyCode::Up => Popup::Help(top.saturating_sub(1)),
                    KeyCode::PageUp => Popup::Help(top.saturating_sub(10)),
                    _ => Popup::None,
                };
                return Vec::new();
            }
            Popup::Edits { proposals, index } => {
                return self.edits_key(key, proposals, index);
            }
            Popup::ConfirmAttach {
                text,
                mentions,
                tokens,
            } => return self.confirm_attach_key(key, text, *mentions, tokens),
            Popup::ConfirmQuit => {
                // The quit key again confirms, as y does (Ctrl-C twice quits).
                let again = self.keymap.action(&key) == Some(Action::Quit);
                return match key.code {
                    _ if again => vec![Command::Core(Op::Quit), Command::Quit],
                    KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter => {
                        vec![Command::Core(Op::Quit), Command::Quit]
                    }
                    _ => {
                        self.popup = Popup::None;
                        Vec::new()
                    }
                };
            }
            Popup::Picker { purpose, selected } => return self.picker_key(key, purpose, selected),
            Popup::Conversations { list, selected } => {
                return self.conversations_key(key, list, selected);
            }
        }
        if self.completion_key(&key) {
            return Vec::new();
        }
        if self.readline_key(&key) {
            return Vec::new();
        }
        if super::graphemes::key(&mut self.composer.input, &key) {
            self.refresh_completion();
            return Vec::new();
        }
        if key.code == KeyCode::Tab && key.modifiers.is_empty() && self.complete_slash() {
            return Vec::new();
        }
        // End (input empty) or Ctrl-End: back to the bottom, following the answer again.
        let to_bottom = key.code == KeyCode::End
            && (key.modifiers == KeyModifiers::CONTROL
                || (key.modifiers.is_empty()
                    && self.composer.input.lines().iter().all(|l| l.is_empty())));
        if to_bottom && self.transcript.scroll > 0 {
            self.transcript.follow();
            return Vec::new();
        }
        if let Some(action) = self.keymap.action(&key) {
            return self.act(action);
        }
        // Up on the first line and Down on the last browse earlier prompts.
        if key.modifiers.is_empty() {
            let row = self.composer.input.cursor().0;
            let last = self.composer.input.lines().len().saturating_sub(1);
            let recalled = match key.code {
                KeyCode::Up if row == 0 => {
                    let current = self.composer.input.lines().join("\n");
                    self.composer.history.older(&current)
                }
                KeyCode::Down if row == last => self.composer.history.newer(),
                _ => None,
            };
            if let Some(text) = recalled {
                self.set_input(&text);
                return Vec::new();
            }
        }
        // Everything else edits the input.
        self.composer.input.input(key);
        self.refresh_completion();
        Vec::new()
    }

    fn act(&mut self, action: Action) -> Vec<Command> {
        match action {
            Action::Send => return self.send(),
            Action::Newline => self.composer.input.insert_newline(),
            Action::Cancel => return self.cancel(),
            Action::Quit if self.running.is_some() => self.popup = Popup::ConfirmQuit,
            Action::Quit => return vec![Command::Core(Op::Quit), Command::Quit],
            Action::Picker => {
                self.popup = Popup::Picker {
                    purpose: PickerPurpose::NextMessage,
                    selected: 0,
                };
            }
            Action::Rerun => return self.rerun_key(),
            Action::Pin => self.pin_key(),
            Action::ThumbsUp | Action::ThumbsDown => return self.rate(action == Action::ThumbsUp),
            Action::CopyAnswer => return self.copy_answer(),
            Action::Editor => return vec![Command::Editor(self.composer.input.lines().join("\n"))],
            Action::Copy => return self.copy_code(),
            Action::ScrollUp => self.transcript.page(true),
            Action::ScrollDown => self.transcript.page(false),
            Action::NewConversation | Action::Conversations if self.running.is_some() => {
                self.notice("an answer is still streaming: Esc cancels it", true);
            }
            Action::NewConversation => return vec![Command::Core(Op::NewConversation)],
            Action::Conversations => return vec![Command::Core(Op::ListConversations)],
            Action::Help => self.popup = Popup::Help(0),
            Action::Sidebar => self.toggle_sidebar(),
            Action::Expand => {
                if let Some(a) = self.last_answer_mut() {
                    a.expanded = !a.expanded;
                    a.touch_head();
                }
            }
        }
        Vec::new()
    }

    /// Esc while an answer streams: it stops growing on screen in this frame (whatever is
    /// still queued), and the core closes the stream.
    fn cancel(&mut self) -> Vec<Command> {
        let Some((turn, _)) = self.running else {
            return Vec::new();
        };
        if let Some(a) = self.answer_mut(turn) {
            a.stopped = true;
        }
        self.dirty = true;
        vec![Command::Core(Op::Cancel)]
    }

    /// Ctrl-R: a cut or failed answer runs again at once on the next candidate; a
    /// finished one opens the picker.
    fn rerun_key(&mut self) -> Vec<Command> {
        if self.running.is_some() {
            self.notice("an answer is still streaming: Esc cancels it", true);
        } else if self.last_answer().is_none() {
            self.notice("no answer to run again yet", false);
        } else if self
            .last_answer()
            .is_some_and(|a| matches!(a.state, AnswerState::Cut(_) | AnswerState::Failed(_)))
        {
            let (_, next, _) = self.picker(PickerPurpose::Rerun);
            match next {
                Some(m) => return self.rerun(m),
                None => self.notice("no other model to run it on", true),
            }
        } else {
            self.popup = Popup::Picker {
                purpose: PickerPurpose::Rerun,
                selected: 0,
            };
        }
        Vec::new()
    }

    /// Pin the model of the last answer, or unpin.
    fn pin_key(&mut self) {
        if let Mode::Pinned(_) = self.mode {
            return self.set_mode(Mode::Auto);
        }
        let last = self.last_answer().and_then(|a| {
            a.outcome
                .as_ref()
                .map(|o| o.requested_model.clone())
                .or_else(|| a.card.as_ref().map(|d| d.model.clone()))
        });
        if let Some(m) = last {
            self.set_mode(Mode::Pinned(m));
        }
    }

    /// 👍 or 👎 on the last finished answer.
    fn rate(&mut self, up: bool) -> Vec<Command> {
        match self.last_answer().and_then(|a| a.outcome.as_ref()) {
            Some(o) => vec![Command::Core(Op::Feedback {
                request_id: o.request_id,
                up,
            })],
            None => {
                self.notice("no finished answer to rate yet", false);
                Vec::new()
            }
        }
    }

    fn copy_answer(&mut self) -> Vec<Command> {
        match self
            .last_answer()
            .and_then(|a| a.outcome.as_ref().map(|o| o.content.to_string()))
        {
            Some(text) if !text.is_empty() => {
                self.notice("copied the last answer to the clipboard", false);
                vec![Command::Copy(text)]
            }
            _ => {
                self.notice("no answer to copy yet", false);
                Vec::new()
            }
        }
    }

    fn copy_code(&mut self) -> Vec<Command> {
        let code = self
            .last_answer()
            .and_then(|a| a.md.code_blocks().last().cloned());
        match code {
            Some(c) => {
                self.notice("copied the last code block to the clipboard", false);
                vec![Command::Copy(c)]
            }
            None => {
                self.notice("no code block in the last answer to copy", false);
                Vec::new()
            }
        }
    }

    /// F2: the sidebar in or out, where the terminal is wide enough for it.
    fn toggle_sidebar(&mut self) {
        if self.width >= SIDEBAR_MIN_WIDTH {
            self.sidebar = Some(!self.sidebar_shown(self.width));
        } else {
            self.notice(
                &format!(
                    "the sidebar needs {} columns; this terminal has {}",
                    SIDEBAR_MIN_WIDTH, self.width
                ),
                false,
            );
        }
    }

    /// The picker's first entry and the models it lists. For the next message: automatic
    /// routing, then every model. To run the last prompt again: the next model in that
    /// answer's ranking, then every model but the one that answered.
    pub fn picker(
        &self,
        purpose: PickerPurpose,
    ) -> (String, Option<String>, Vec<(String, String)>) {
        match purpose {
            PickerPurpose::NextMessage => {
                ("Auto: the router decides".into(), None, self.models.clone())
            }
            PickerPurpose::Rerun => {
                let answer = self.last_answer();
                let answered = answer.and_then(|a| {
                    a.outcome
                        .as_ref()
                        .map(|o| o.requested_model.clone())
                        .or_else(|| a.card.as_ref().map(|d| d.model.clone()))
                });
                let others: Vec<(String, String)> = self
                    .models
                    .iter()
                    .filter(|(id, _)| Some(id) != answered.as_ref())
                    .cloned()
                    .collect();
                let next = answer
                    .and_then(|a| a.card.as_ref())
                    .and_then(|d| {
                        d.candidates
                            .iter()
                            .find(|c| c.excluded.is_none() && Some(&c.model) != answered.as_ref())
                            .map(|c| c.model.clone())
                    })
                    .or_else(|| others.first().map(|m| m.0.clone()));
                let name = next
                    .as_ref()
                    .and_then(|id| self.models.iter().find(|m| &m.0 == id))
                    .map_or("none", |m| m.1.as_str());
                (format!("Next in the ranking: {name}"), next, others)
            }
        }
    }

    /// "An answer is streaming. Quit?" no longer applies once the answer ended.
    fn close_stale_quit_question(&mut self) {
        if matches!(self.popup, Popup::ConfirmQuit) {
            self.popup = Popup::None;
        }
    }

    /// Change the routing mode. A one-message override keeps the pin it interrupts (to
    /// restore after that message); any other change forgets it.
    fn set_mode(&mut self, mode: Mode) {
        self.pin_after_next = match (&self.mode, &mode) {
            (Mode::Pinned(p), Mode::Next(_)) => Some(p.clone()),
            (Mode::Next(_), Mode::Next(_)) => self.pin_after_next.take(),
            _ => None,
        };
        self.mode = mode;
    }

    fn picker_key(
        &mut self,
        key: KeyEvent,
        purpose: PickerPurpose,
        selected: usize,
    ) -> Vec<Command> {
        let (_, first, models) = self.picker(purpose);
        let n = models.len() + 1;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => self.popup = Popup::None,
            KeyCode::Up | KeyCode::Char('k') => {
                self.popup = Popup::Picker {
                    purpose,
                    selected: (selected + n - 1) % n,
                }
            }
            KeyCode::Down | KeyCode::Char('j') => {
                self.popup = Popup::Picker {
                    purpose,
                    selected: (selected + 1) % n,
                }
            }
            KeyCode::Enter | KeyCode::Char('p') | KeyCode::Char('P') => {
                let pin = matches!(key.code, KeyCode::Char('p') | KeyCode::Char('P')) || ctrl;
                self.popup = Popup::None;
                let model = match selected.checked_sub(1) {
                    Some(i) => models.get(i).map(|m| m.0.clone()),
                    None => first,
                };
                match (purpose, model) {
                    (PickerPurpose::NextMessage, None) => self.set_mode(Mode::Auto),
                    (PickerPurpose::NextMessage, Some(m)) => {
                        self.set_mode(if pin { Mode::Pinned(m) } else { Mode::Next(m) })
                    }
                    (PickerPurpose::Rerun, Some(m)) => return self.rerun(m),
                    (PickerPurpose::Rerun, None) => {
                        self.notice("no other model to run it on", true);
                    }
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn conversations_key(
        &mut self,
        key: KeyEvent,
        list: Vec<ConversationItem>,
        selected: usize,
    ) -> Vec<Command> {
        let n = list.len().max(1);
        match key.code {
            KeyCode::Esc => self.popup = Popup::None,
            KeyCode::Up => {
                self.popup = Popup::Conversations {
                    list,
                    selected: (selected + n - 1) % n,
                }
            }
            KeyCode::Down => {
                self.popup = Popup::Conversations {
                    list,
                    selected: (selected + 1) % n,
                }
            }
            KeyCode::Enter => {
                self.popup = Popup::None;
                if let Some(c) = list.get(selected) {
                    return vec![Command::Core(Op::Resume(c.id))];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn rerun(&mut self, model: String) -> Vec<Command> {
        let Some((prompt, prev)) = self
            .last_answer()
            // A re-run after a failed or cut answer is about availability, not a verdict on
            // the first answer: only a complete answer is rated down by asking elsewhere.
            .map(|a| {
                (
                    a.prompt.clone(),
                    a.outcome
                        .as_ref()
                        .filter(|o| o.status == TurnStatus::Ok)
                        .map(|o| o.request_id),
                )
            })
        else {
            return Vec::new();
        };
        let turn = self.start_turn(&prompt);
        vec![Command::Core(Op::Rerun {
            turn,
            text: prompt,
            model,
            previous_request: prev,
        })]
    }

    fn start_turn(&mut self, prompt: &str) -> TurnId {
        let turn = self.next_turn;
        self.next_turn = self.next_turn.next();
        self.transcript.push(Cell::user(prompt));
        let mut answer = Answer::new(turn, prompt.to_string());
        answer.expand_key = self.key_name(Action::Expand);
        self.transcript.push(Cell::Answer(Box::new(answer)));
        self.running = Some((turn, Instant::now()));
        self.first_token_at = None;
        self.transcript.follow();
        turn
    }

    fn send(&mut self) -> Vec<Command> {
        let text = self.composer.expanded();
        // Nothing but whitespace or control characters (NUL bytes): nothing to send.
        if text.chars().all(|c| c.is_whitespace() || c.is_control()) {
            return Vec::new();
        }
        if self.running.is_some() {
            self.notice("an answer is still streaming: Esc cancels it", true);
            return Vec::new();
        }
        self.composer.sent(&text);
        if let Some(cmd) = text.trim().strip_prefix('/') {
            return self.slash(cmd.trim());
        }
        if let Some(cmd) = text.trim().strip_prefix('!') {
            let cmd = cmd.trim();
            if cmd.is_empty() {
                self.notice(
                    "!command runs a shell command here and attaches its output to your next prompt",
                    true,
                );
                return Vec::new();
            }
            self.notice(&format!("running `{cmd}`…"), false);
            return vec![Command::Shell(cmd.to_string())];
        }
        let mentions = crate::attach::mentions(&text, &self.root);
        for reason in &mentions.refused {
            self.notice(reason, true);
        }
        // Big attachments: the user chooses (whole, an excerpt, or not at all).
        let tokens = crate::attach::tokens(&mentions.files);
        if tokens > self.attach_confirm_tokens {
            self.popup = Popup::ConfirmAttach {
                text,
                mentions: Box::new(mentions),
                tokens,
            };
            return Vec::new();
        }
        self.submit(&text, mentions)
    }

    /// Send `text` as a prompt with what `mentions` attached (and the pending `!command`
    /// output).
    pub(super) fn submit(
        &mut self,
        text: &str,
        mut mentions: crate::attach::Mentions,
    ) -> Vec<Command> {
        let choice = match std::mem::replace(&mut self.mode, Mode::Auto) {
            Mode::Auto => Choice::Auto,
            Mode::Next(m) => {
                // A one-message override of a pin: the pin is back for the next one.
                if let Some(p) = self.pin_after_next.take() {
                    self.mode = Mode::Pinned(p);
                }
                Choice::Override(m)
            }
            Mode::Pinned(m) => {
                self.mode = Mode::Pinned(m.clone());
                Choice::Pinned(m)
            }
        };
        for out in std::mem::take(&mut self.shell_outputs) {
            self.notice(&format!("attached the output of `{}`", out.command), false);
            mentions.prompt.push_str("\n\n");
            mentions.prompt.push_str(&out.attachment());
        }
        let turn = self.start_turn(text);
        let mut cmds = Vec::new();
        let edits = !mentions.files.is_empty();
        if edits != self.system_edits {
            self.system_edits = edits;
            cmds.push(Command::Core(Op::SetSystem(self.system_prompt(edits))));
        }
        if edits {
            // Above the answer's card: what went with the prompt, and its tokens.
            let note = Cell::notice(
                &format!("attached {}", mentions.attached.join(", ")),
                self.theme.muted,
            );
            let at = self.transcript.cells.len().saturating_sub(1);
            self.transcript.cells.insert(at, note);
            self.turn_files.insert(turn, mentions.files);
        }
        cmds.push(Command::Core(Op::Submit {
            turn,
            text: mentions.prompt,
            choice,
        }));
        cmds
    }

    fn slash(&mut self, cmd: &str) -> Vec<Command> {
        match Slash::parse(cmd) {
            Slash::Help => self.popup = Popup::Help(0),
            Slash::New => return vec![Command::Core(Op::NewConversation)],
            Slash::Undo => self.undo_edit(),
            Slash::Export(file) => return vec![Command::Core(Op::Export(file))],
            Slash::Auto => self.set_mode(Mode::Auto),
            Slash::Model(None) | Slash::Pin(None) => {
                self.popup = Popup::Picker {
                    purpose: PickerPurpose::NextMessage,
                    selected: 0,
                };
            }
            Slash::Model(Some(name)) => self.choose_model(&name, Mode::Next),
            Slash::Pin(Some(name)) => self.choose_model(&name, Mode::Pinned),
            // The core checks the amount (and says the range when it is out of it).
            Slash::Budget(BudgetArg::Amount(v)) => {
                return vec![Command::Core(Op::SetDailyLimit(v))];
            }
            // `/budget` alone: where the budget stands.
            Slash::Budget(BudgetArg::None) if self.budget.is_some() => {
                self.sidebar = Some(true);
                let text = self.budget.as_ref().map(budget_line).unwrap_or_default();
                self.notice(&text, false);
            }
            Slash::Budget(_) => {
                self.sidebar = Some(true);
                self.notice("/budget <USD> sets today's limit, e.g. /budget 5", false);
            }
            Slash::Role(arg) => return self.role_command(&arg),
            Slash::Pref(Some(v)) => {
                self.preference = v;
                return vec![Command::Core(Op::SetPreference(v))];
            }
            Slash::Pref(None) => self.notice(
                "/pref <0-10>: 0 = cheapest that fits … 10 = best regardless of cost",
                true,
            ),
            Slash::Explore(Some(on)) => {
                self.explore = on;
                return vec![Command::Core(Op::SetExplore(on))];
            }
            Slash::Explore(None) => self.notice(
                "/explore on|off: on tries the models your ratings know least about",
                true,
            ),
            Slash::Stats => {
                self.sidebar = Some(true);
                let text = self.stats_text();
                self.notice(&text, false);
            }
            Slash::Unknown(other) => {
                self.notice(&format!("unknown command /{other} (try /help)"), true);
            }
        }
        Vec::new()
    }

    /// `/model NAME` or `/pin NAME`: the catalog model of that id or short name.
    fn choose_model(&mut self, name: &str, mode: fn(String) -> Mode) {
        match self.models.iter().find(|(id, n)| id == name || n == name) {
            Some((id, _)) => {
                let id = id.clone();
                self.set_mode(mode(id));
            }
            None => self.notice(&format!("unknown model `{name}`"), true),
        }
    }

    fn stats_text(&self) -> String {
        match &self.budget {
            None => "no spend recorded yet".into(),
            Some(b) => {
                let mut s = format!(
                    "today {}: {} spent, {} held of {} · saved {} vs always-{}",
                    b.day,
                    b.today.committed,
                    b.today.reserved,
                    b.limits.daily,
                    b.saved_today,
                    b.baseline_model
                );
                // What the router weighs: requests today, and its moving averages of success
                // and latency (`codeforge stats` gives the ledger's percentiles).
                for m in &b.model_stats {
                    s.push_str(&format!(
                        "\n{}: {} requests today · {:.0}% ok recently · first token ~{}, whole answer ~{} (moving averages)",
                        self.name_of(&m.model),
                        m.requests,
                        m.success_rate * 100.0,
                        m.ttft_ms.map_or("-".into(), |v| format!("{v} ms")),
                        m.latency_ms.map_or("-".into(), |v| format!("{v} ms"))
                    ));
                }
                s
            }
        }
    }

    /// Apply an event from the core.
    pub fn on_core(&mut self, ev: Event) {
        self.dirty = true;
        let theme = self.theme.clone();
        match ev {
            Event::Routed { turn, card } => {
                if let Some(a) = self.answer_mut(turn) {
                    a.card = Some(card);
                    a.state = AnswerState::Waiting;
                    a.touch_head();
                }
            }
            Event::Reserved {
                turn,
                history_trimmed,
                ..
            } => {
                if let Some(a) = self.answer_mut(turn)
                    && let Some(d) = a.card.as_mut()
                {
                    d.history_trimmed = history_trimmed;
                    a.touch_head();
                }
            }
            Event::Fallback {
                turn,
                from,
                error,
                to,
            } => {
                // The error's head: up to its first ": " (a URL's colon is not an end), capped.
                let head = error.split(": ").next().unwrap_or(&error);
                let short_err: String = head.chars().take(80).collect();
                if let Some(a) = self.answer_mut(turn) {
                    a.fallbacks.push(format!("{from}: {short_err} → {to}"));
                    a.serving = Some(to);
                    a.touch_head();
                }
            }
            Event::Waiting { .. } => {}
            Event::Started { .. } => {}
            Event::Reasoning { turn, text } => {
                self.first_token_at.get_or_insert_with(Instant::now);
                if let Some(a) = self.answer_mut(turn) {
                    a.push_reasoning(&text);
                }
            }
            Event::Content { turn, text } => {
                self.first_token_at.get_or_insert_with(Instant::now);
                self.count_streamed_edits(turn, &text);
                if let Some(a) = self.answer_mut(turn) {
                    a.push_content(&text, &theme);
                }
            }
            Event::Finished { turn, outcome } => {
                if let Some(a) = self.answer_mut(turn) {
                    a.state = if outcome.status == TurnStatus::Cancelled {
                        AnswerState::Cancelled
                    } else {
                        AnswerState::Done
                    };
                    a.outcome = Some(outcome);
                    a.finish(&theme);
                }
                self.running = None;
                self.close_stale_quit_question();
                self.review_edits(turn);
            }
            Event::Failed {
                turn,
                message,
                outcome,
                ..
            } => {
                if let Some(a) = self.answer_mut(turn) {
                    a.state = match outcome {
                        Some(_) => AnswerState::Cut(message),
                        None => AnswerState::Failed(message),
                    };
                    a.outcome = outcome;
                    a.finish(&theme);
                }
                self.running = None;
                self.close_stale_quit_question();
            }
            Event::Budget(b) => self.budget = Some(b),
            Event::ConversationLoaded { id, messages } => {
                if id.is_none() {
                    self.notice("new conversation", false);
                }
                self.load(messages, &theme);
            }
            Event::Conversations(list) => {
                if list.is_empty() {
                    self.notice("no saved conversations yet", false);
                } else {
                    self.popup = Popup::Conversations { list, selected: 0 };
                }
            }
            Event::Notice(t) => self.notice(&t, false),
            Event::Error(t) => self.notice(&t, true),
        }
    }

    /// A resumed conversation (or an empty new one) in place of the transcript.
    fn load(&mut self, messages: Vec<crate::core::LoadedMessage>, theme: &Theme) {
        self.transcript.clear();
        // The old transcript's memory goes back to the system, not only to the allocator.
        super::memory::give_back_freed_memory();
        let mut pending_prompt = String::new();
        for m in messages {
            if m.role == Role::User {
                self.transcript.push(Cell::user(&m.content));
                pending_prompt = m.content.to_string();
                continue;
            }
            let turn = self.next_turn;
            self.next_turn = self.next_turn.next();
            let mut a = Answer::new(turn, pending_prompt.clone());
            a.expand_key = self.key_name(Action::Expand);
            a.push_content(&m.content, theme);
            a.state = match m.outcome.as_ref().map(|o| o.status) {
                Some(TurnStatus::Cancelled) => AnswerState::Cancelled,
                Some(TurnStatus::Cut) => AnswerState::Cut("the stream was cut".into()),
                _ => AnswerState::Done,
            };
            a.card = m.card;
            a.outcome = m.outcome;
            // Finished with its outcome, so it holds the resumed history's text, not a copy.
            a.finish(theme);
            self.transcript.push(Cell::Answer(Box::new(a)));
        }
    }

    /// The status-bar description of the stream.
    pub fn stream_state(&self) -> String {
        let Some((turn, since)) = self.running else {
            return String::new();
        };
        let routed = self
            .transcript
            .answer(turn)
            .is_some_and(|a| a.card.is_some());
        if !routed {
            return "routing…".into();
        }
        match self.first_token_at {
            None => format!(
                "waiting for first token {:.1}s",
                since.elapsed().as_secs_f64()
            ),
            Some(t) => {
                let tokens = self.transcript.answer(turn).map_or(0, |a| a.tokens);
                let secs = t.elapsed().as_secs_f64().max(0.001);
                let edits = match &self.streamed_edits {
                    Some((t, _, n)) if *t == turn && *n > 0 => {
                        format!(" · ✎ {n} edit{} so far", if *n == 1 { "" } else { "s" })
                    }
                    _ => String::new(),
                };
                format!("streaming {:.0} tok/s{edits}", tokens as f64 / secs)
            }
        }
    }

    /// The first key bound to `action`, as the help names it.
    fn key_name(&self, action: Action) -> String {
        self.keymap
            .keys_for(action)
            .first()
            .cloned()
            .unwrap_or_default()
    }

    /// The running answer's expected cost (its route card's estimate), zero when idle.
    pub fn expected_cost(&self) -> crate::money::Usd {
        let Some((turn, _)) = self.running else {
            return crate::money::Usd::ZERO;
        };
        self.transcript
            .answer(turn)
            .and_then(|a| a.card.as_ref())
            .map_or(crate::money::Usd::ZERO, |d| d.estimated_cost)
    }

    pub fn mode_label(&self) -> String {
        match &self.mode {
            Mode::Auto if self.explore => format!("AUTO pref {} explore", self.preference),
            Mode::Auto => format!("AUTO pref {}", self.preference),
            Mode::Pinned(m) => format!("PINNED {}", self.name_of(m)),
            Mode::Next(m) => match &self.pin_after_next {
                Some(p) => format!("NEXT {} then PINNED {}", self.name_of(m), self.name_of(p)),
                None => format!("NEXT {}", self.name_of(m)),
            },
        }
    }
}
