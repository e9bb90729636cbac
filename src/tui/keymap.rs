//! Key bindings: the actions, their default keys, and overrides from `[keys]` in the
//! config (`action = "ctrl-x"`).

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Send,
    Newline,
    Cancel,
    Quit,
    Picker,
    Pin,
    Rerun,
    ThumbsUp,
    ThumbsDown,
    Copy,
    CopyAnswer,
    Editor,
    ScrollUp,
    ScrollDown,
    NewConversation,
    Conversations,
    Help,
    Sidebar,
    Expand,
}

impl Action {
    pub const ALL: [Action; 19] = [
        Action::Send,
        Action::Newline,
        Action::Cancel,
        Action::Quit,
        Action::Picker,
        Action::Pin,
        Action::Rerun,
        Action::ThumbsUp,
        Action::ThumbsDown,
        Action::Copy,
        Action::CopyAnswer,
        Action::Editor,
        Action::ScrollUp,
        Action::ScrollDown,
        Action::NewConversation,
        Action::Conversations,
        Action::Help,
        Action::Sidebar,
        Action::Expand,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::Send => "send",
            Action::Newline => "newline",
            Action::Cancel => "cancel",
            Action::Quit => "quit",
            Action::Picker => "model_picker",
            Action::Pin => "pin",
            Action::Rerun => "rerun",
            Action::ThumbsUp => "thumbs_up",
            Action::ThumbsDown => "thumbs_down",
            Action::Copy => "copy_code",
            Action::CopyAnswer => "copy_answer",
            Action::Editor => "editor",
            Action::ScrollUp => "scroll_up",
            Action::ScrollDown => "scroll_down",
            Action::NewConversation => "new_conversation",
            Action::Conversations => "conversations",
            Action::Help => "help",
            Action::Sidebar => "sidebar",
            Action::Expand => "expand",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::Send => "send the message",
            Action::Newline => "new line in the message",
            Action::Cancel => "cancel the stream (cost settled) / close a popup",
            Action::Quit => "quit (asks first while streaming)",
            Action::Picker => "choose the model for the next message (p in the list pins it)",
            Action::Pin => "pin / unpin the model that answered last",
            Action::Rerun => "run the last prompt again on another model",
            Action::ThumbsUp => "rate the last answer up",
            Action::ThumbsDown => "rate the last answer down",
            Action::Copy => "copy the last code block (OSC 52)",
            Action::CopyAnswer => "copy the whole last answer (OSC 52)",
            Action::Editor => "edit the message in $VISUAL / $EDITOR",
            Action::ScrollUp => "scroll up",
            Action::ScrollDown => "scroll down",
            Action::NewConversation => "new conversation",
            Action::Conversations => "conversations: resume one",
            Action::Help => "this help",
            Action::Sidebar => "show / hide the budget sidebar",
            Action::Expand => "expand the route card and reasoning",
        }
    }

    fn defaults(self) -> &'static [&'static str] {
        match self {
            Action::Send => &["enter"],
            Action::Newline => &["shift-enter", "alt-enter", "ctrl-j"],
            Action::Cancel => &["esc"],
            Action::Quit => &["ctrl-c"],
            Action::Picker => &["ctrl-o"],
            Action::Pin => &["ctrl-p"],
            Action::Rerun => &["ctrl-r"],
            Action::ThumbsUp => &["alt-up"],
            Action::ThumbsDown => &["alt-down"],
            Action::Copy => &["ctrl-y"],
            Action::CopyAnswer => &["alt-y"],
            Action::Editor => &["ctrl-g"],
            Action::ScrollUp => &["pageup"],
            Action::ScrollDown => &["pagedown"],
            Action::NewConversation => &["ctrl-n"],
            Action::Conversations => &["ctrl-l"],
            Action::Help => &["f1"],
            Action::Sidebar => &["f2"],
            Action::Expand => &["ctrl-e"],
        }
    }
}

/// A key with its modifiers, comparable with crossterm's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

/// Parse `ctrl-o`, `alt-enter`, `shift-enter`, `f1`, `pageup`, `esc`, `x`.
pub fn parse_key(s: &str) -> Result<Key, String> {
    let lower = s.trim().to_lowercase();
    let mut parts: Vec<&str> = lower.split('-').collect();
    // "ctrl--" style minus key
    if lower.ends_with("--") {
        parts.pop();
        if let Some(last) = parts.last_mut() {
            *last = "-";
        }
    }
    let name = parts.pop().ok_or_else(|| format!("empty key `{s}`"))?;
    let mut mods = KeyModifiers::NONE;
    for m in parts {
        mods |= match m {
            "ctrl" | "c" => KeyModifiers::CONTROL,
            "alt" | "meta" | "m" => KeyModifiers::ALT,
            "shift" | "s" => KeyModifiers::SHIFT,
            other => return Err(format!("unknown modifier `{other}` in `{s}`")),
        };
    }
    let code = match name {
        "enter" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backspace" => KeyCode::Backspace,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" => KeyCode::PageDown,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        f if f.starts_with('f') && f.len() > 1 && f[1..].chars().all(|c| c.is_ascii_digit()) => {
            KeyCode::F(
                f[1..]
                    .parse()
                    .map_err(|_| format!("bad function key `{s}`"))?,
            )
        }
        c if c.chars().count() == 1 => KeyCode::Char(c.chars().next().unwrap_or(' ')),
        other => return Err(format!("unknown key `{other}` in `{s}`")),
    };
    Ok(Key { code, mods })
}

fn normalise(k: &KeyEvent) -> Key {
    let mut mods = k.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
    let code = match k.code {
        KeyCode::Char(c) if c.is_ascii_uppercase() => {
            mods -= KeyModifiers::SHIFT;
            KeyCode::Char(c.to_ascii_lowercase())
        }
        c => c,
    };
    Key { code, mods }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    bindings: Vec<(Key, Action)>,
}

impl Default for Keymap {
    fn default() -> Self {
        let mut bindings = Vec::new();
        for a in Action::ALL {
            for k in a.defaults() {
                if let Ok(key) = parse_key(k) {
                    bindings.push((key, a));
                }
            }
        }
        Self { bindings }
    }
}

impl Keymap {
    /// Defaults with `[keys]` overrides: each named action gets exactly the given key. An
    /// error names the override at fault (its `[keys]` name) and says why: not an action, a
    /// key that does not parse, or a key that leaves another action with none.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Self, (String, String)> {
        let mut map = Self::default();
        // Which override took an action's key away, to name it if that was the last one.
        let mut taken: Vec<(Action, String, String)> = Vec::new();
        for (name, key_text) in overrides {
            let fail = |m: String| (name.clone(), m);
            let action = Action::ALL
                .into_iter()
                .find(|a| a.name() == name)
                .ok_or_else(|| {
                    fail(format!(
                        "not an action (actions: {})",
                        Action::ALL.map(Action::name).join(", ")
                    ))
                })?;
            let key = parse_key(key_text).map_err(fail)?;
            // A bare character (or shift + one) would stop you typing it in a message.
            if let (KeyCode::Char(c), m) = (key.code, key.mods)
                && !m.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
            {
                return Err(fail(format!(
                    "`{key_text}` is a character you type ('{c}'); use ctrl-, alt- or a function key"
                )));
            }
            for (_, a) in map
                .bindings
                .iter()
                .filter(|(k, a)| *k == key && *a != action)
            {
                taken.push((*a, name.clone(), key_text.clone()));
            }
            map.bindings.retain(|(k, a)| *a != action && *k != key);
            map.bindings.push((key, action));
        }
        for (lost, by, key_text) in taken {
            if !map.bindings.iter().any(|(_, a)| *a == lost) {
                return Err((
                    by,
                    format!(
                        "`{key_text}` is already {}'s key, which would leave it none: give `{}` another key too",
                        lost.name(),
                        lost.name()
                    ),
                ));
            }
        }
        Ok(map)
    }

    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        let k = normalise(key);
        self.bindings.iter().find(|(b, _)| *b == k).map(|(_, a)| *a)
    }

    /// The keys bound to an action, for the help overlay and hints.
    pub fn keys_for(&self, action: Action) -> Vec<String> {
        self.bindings
            .iter()
            .filter(|(_, a)| *a == action)
            .map(|(k, _)| describe(*k))
            .collect()
    }
}

pub fn describe(k: Key) -> String {
    let mut s = String::new();
    if k.mods.contains(KeyModifiers::CONTROL) {
        s.push_str("Ctrl-");
    }
    if k.mods.contains(KeyModifiers::ALT) {
        s.push_str("Alt-");
    }
    if k.mods.contains(KeyModifiers::SHIFT) {
        s.push_str("Shift-");
    }
    s.push_str(&match k.code {
        KeyCode::Char(c) => c.to_ascii_uppercase().to_string(),
        KeyCode::F(n) => format!("F{n}"),
        KeyCode::Enter => "Enter".into(),
        KeyCode::Esc => "Esc".into(),
        KeyCode::PageUp => "PgUp".into(),
        KeyCode::PageDown => "PgDn".into(),
        KeyCode::Up => "↑".into(),
        KeyCode::Down => "↓".into(),
        other => format!("{other:?}"),
    });
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let m = Keymap::default();
        let ctrl_o = KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL);
        assert_eq!(m.action(&ctrl_o), Some(Action::Picker));
        let alt_enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT);
        assert_eq!(m.action(&alt_enter), Some(Action::Newline));
        let mut o = BTreeMap::new();
        o.insert("model_picker".to_string(), "ctrl-k".to_string());
        let m = Keymap::with_overrides(&o).unwrap();
        assert_eq!(m.action(&ctrl_o), None);
        let ctrl_k = KeyEvent::new(KeyCode::Char('k'), KeyModifiers::CONTROL);
        assert_eq!(m.action(&ctrl_k), Some(Action::Picker));
        assert_eq!(m.keys_for(Action::Picker), ["Ctrl-K"]);
        o.insert("explode".to_string(), "x".to_string());
        let (name, why) = Keymap::with_overrides(&o).unwrap_err();
        assert_eq!(name, "explode");
        assert!(why.contains("not an action"), "{why}");
        // Taking another action's only key is an error, unless that action gets a new one.
        let mut o = BTreeMap::new();
        o.insert("model_picker".to_string(), "ctrl-p".to_string());
        let (name, why) = Keymap::with_overrides(&o).unwrap_err();
        assert_eq!(name, "model_picker");
        assert!(why.contains("`ctrl-p` is already pin's key"), "{why}");
        o.insert("pin".to_string(), "ctrl-t".to_string());
        let m = Keymap::with_overrides(&o).unwrap();
        // A plain letter would stop you typing it.
        let mut letter = BTreeMap::new();
        letter.insert("expand".to_string(), "x".to_string());
        let (name, why) = Keymap::with_overrides(&letter).unwrap_err();
        assert_eq!(name, "expand");
        assert!(why.contains("a character you type"), "{why}");
        let ctrl_p = KeyEvent::new(KeyCode::Char('p'), KeyModifiers::CONTROL);
        assert_eq!(m.action(&ctrl_p), Some(Action::Picker));
        assert_eq!(m.keys_for(Action::Pin), ["Ctrl-T"]);
        assert!(parse_key("hyper-x").is_err());
    }
}
