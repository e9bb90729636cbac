//! The composer component: the input box (a text area with readline keys), prompt
//! history, Tab completion's state, and long pastes folded into one-line tokens that go
//! out whole. Must not import `app` or `ui`.

use ratatui_textarea::{CursorMove, TextArea};

use super::keymap::{Action, Keymap};

/// A paste longer than this many lines (or [`FOLD_PASTE_BYTES`]) is kept out of the input
/// box as a one-line token and sent whole: an editor of 70,000 lines helps nobody (and
/// the input widget counts rows in 16 bits).
pub const FOLD_PASTE_LINES: usize = 200;
/// See [`FOLD_PASTE_LINES`].
pub const FOLD_PASTE_BYTES: usize = 32 * 1024;

/// The input's placeholder, naming the keys as they are bound.
fn placeholder(keymap: &Keymap) -> String {
    let k = |a: Action| {
        // Shift-Enter reaches few terminals as itself: name another key when there is one.
        let keys = keymap.keys_for(a);
        keys.iter()
            .find(|k| *k != "Shift-Enter")
            .or(keys.first())
            .cloned()
            .unwrap_or_default()
    };
    format!(
        "Ask anything · {} sends · {} new line · {} help",
        k(Action::Send),
        k(Action::Newline),
        k(Action::Help)
    )
}

/// The token a folded paste shows in the input box.
fn paste_token(n: usize, text: &str) -> String {
    let lines = text.lines().count();
    let size = if text.len() >= 1024 * 1024 {
        format!("{:.1} MB", text.len() as f64 / (1024.0 * 1024.0))
    } else {
        format!("{} KB", text.len().div_ceil(1024))
    };
    format!("[paste #{n} · {} lines · {size}]", group_thousands(lines))
}

fn group_thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub struct Composer {
    pub input: TextArea<'static>,
    /// Prompts sent before (Up and Down), kept across sessions.
    pub history: super::history::History,
    /// Tab completion on screen, and the text it was closed for (Esc).
    pub completion: Option<super::complete::Completion>,
    pub completion_closed_for: Option<String>,
    /// Folded pastes: (token in the input, the text it stands for).
    pastes: Vec<(String, String)>,
    placeholder: String,
}

impl Composer {
    pub fn new(keymap: &Keymap) -> Self {
        let mut c = Composer {
            input: TextArea::default(),
            history: super::history::History::default(),
            completion: None,
            completion_closed_for: None,
            pastes: Vec::new(),
            placeholder: placeholder(keymap),
        };
        c.set_text("");
        c
    }

    /// The text as typed (folded pastes as their tokens).
    pub fn text(&self) -> String {
        self.input.lines().join("\n")
    }

    pub fn is_empty(&self) -> bool {
        self.input.lines().iter().all(|l| l.is_empty())
    }

    /// Replace the text, the cursor at its end.
    pub fn set_text(&mut self, text: &str) {
        let mut t = TextArea::new(text.split('\n').map(str::to_string).collect());
        t.set_placeholder_text(self.placeholder.clone());
        t.set_cursor_line_style(ratatui::style::Style::default());
        t.move_cursor(CursorMove::Bottom);
        t.move_cursor(CursorMove::End);
        self.input = t;
    }

    /// Insert a paste at the cursor: whole, or a long one as a one-line token.
    pub fn paste(&mut self, text: &str) {
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        if text.lines().count() > FOLD_PASTE_LINES || text.len() > FOLD_PASTE_BYTES {
            let token = paste_token(self.pastes.len() + 1, &text);
            self.input.insert_str(&token);
            self.pastes.push((token, text));
        } else {
            self.input.insert_str(text);
        }
    }

    /// The text to send: folded pastes go out whole, where their tokens stand (a deleted
    /// token drops its paste).
    pub fn expanded(&self) -> String {
        let mut text = self.text();
        for (token, paste) in &self.pastes {
            text = text.replacen(token, paste, 1);
        }
        text
    }

    /// `text` was sent: into the history, and the box emptied.
    pub fn sent(&mut self, text: &str) {
        self.pastes.clear();
        self.history.push(text);
        self.set_text("");
    }
}
