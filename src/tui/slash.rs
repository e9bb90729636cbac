//! Slash commands typed in the composer: their names (Tab completes them) and each line
//! parsed into a [`Slash`] with its argument checked, so the app acts on a type and never
//! compares command words itself. Pure: no state. Must not import `app` or `ui`.

/// Every command's name, as typed after `/`.
pub const NAMES: [&str; 12] = [
    "auto", "budget", "explore", "export", "help", "model", "new", "pin", "pref", "role", "stats",
    "undo",
];

/// A slash command and its argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Slash {
    Help,
    New,
    Undo,
    /// Write the conversation to this file (a name of its own when `None`).
    Export(Option<String>),
    /// Back to automatic routing.
    Auto,
    /// `/model [name]`: the next message only; no name opens the picker.
    Model(Option<String>),
    /// `/pin [name]`: every message from now; no name opens the picker.
    Pin(Option<String>),
    /// `/budget [USD]`: alone, where the budget stands.
    Budget(BudgetArg),
    /// `/role [name|off]`, as typed (the roles are the config's).
    Role(String),
    /// `/pref 0..=10`; `None` when the argument is not one.
    Pref(Option<u8>),
    /// `/explore on|off`; `None` when the argument is neither.
    Explore(Option<bool>),
    Stats,
    /// Not a command: its name as typed.
    Unknown(String),
}

/// The argument of `/budget`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BudgetArg {
    None,
    /// An amount (a leading `$` allowed); its range is the core's to check.
    Amount(f64),
    Invalid,
}

impl Slash {
    /// `line` without its leading `/`.
    pub fn parse(line: &str) -> Slash {
        let line = line.trim();
        let (name, arg) = line
            .split_once(' ')
            .map_or((line, ""), |(a, b)| (a, b.trim()));
        let some = |a: &str| (!a.is_empty()).then(|| a.to_string());
        match name {
            "help" => Slash::Help,
            "new" => Slash::New,
            "undo" => Slash::Undo,
            "export" => Slash::Export(some(arg)),
            "auto" => Slash::Auto,
            "model" => Slash::Model(some(arg)),
            "pin" => Slash::Pin(some(arg)),
            "budget" => Slash::Budget(match arg.trim_start_matches('$').parse::<f64>() {
                _ if arg.is_empty() => BudgetArg::None,
                Ok(v) => BudgetArg::Amount(v),
                Err(_) => BudgetArg::Invalid,
            }),
            "role" => Slash::Role(arg.to_string()),
            "pref" => Slash::Pref(arg.parse::<u8>().ok().filter(|v| *v <= 10)),
            "explore" => Slash::Explore(match arg {
                "on" => Some(true),
                "off" => Some(false),
                _ => None,
            }),
            "stats" => Slash::Stats,
            other => Slash::Unknown(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_parses_to_its_command_and_arguments_are_checked() {
        for name in NAMES {
            assert_ne!(Slash::parse(name), Slash::Unknown(name.into()), "{name}");
        }
        assert_eq!(
            Slash::parse("pin  kimi-k2 "),
            Slash::Pin(Some("kimi-k2".into()))
        );
        assert_eq!(Slash::parse("model"), Slash::Model(None));
        assert_eq!(
            Slash::parse("budget $5"),
            Slash::Budget(BudgetArg::Amount(5.0))
        );
        assert_eq!(
            Slash::parse("budget -1"),
            Slash::Budget(BudgetArg::Amount(-1.0))
        );
        assert_eq!(
            Slash::parse("budget lots"),
            Slash::Budget(BudgetArg::Invalid)
        );
        assert_eq!(Slash::parse("budget"), Slash::Budget(BudgetArg::None));
        assert_eq!(Slash::parse("pref 10"), Slash::Pref(Some(10)));
        assert_eq!(Slash::parse("pref 11"), Slash::Pref(None));
        assert_eq!(Slash::parse("explore on"), Slash::Explore(Some(true)));
        assert_eq!(Slash::parse("explore maybe"), Slash::Explore(None));
        assert_eq!(
            Slash::parse("export notes.md"),
            Slash::Export(Some("notes.md".into()))
        );
        assert_eq!(
            Slash::parse("frobnicate x"),
            Slash::Unknown("frobnicate".into())
        );
    }
}
