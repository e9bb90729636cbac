//! Prompt history: Up on the input's first line recalls earlier prompts, Down on its last
//! line comes back (to the draft being typed last). Kept in a file beside the ledger (one
//! JSON string per line, readable by its owner only), so it survives restarts. Must not
//! import `core`, `provider` or `ledger`.

use std::io::Write;
use std::path::PathBuf;

/// Prompts kept (the oldest go first).
pub const KEPT: usize = 1000;
/// A longer prompt (a big paste) is not kept.
pub const MAX_BYTES: usize = 64 * 1024;

#[derive(Debug, Default)]
pub struct History {
    entries: Vec<String>,
    /// The entry shown, while browsing.
    at: Option<usize>,
    /// What was typed before browsing started.
    draft: String,
    file: Option<PathBuf>,
}

impl History {
    /// The history in `file` (empty if it does not exist or cannot be read).
    pub fn load(file: PathBuf) -> Self {
        let mut entries: Vec<String> = std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let skip = entries.len().saturating_sub(KEPT);
        entries.drain(..skip);
        Self {
            entries,
            file: Some(file),
            ..Self::default()
        }
    }

    /// A prompt was sent: remember it (not twice in a row), and stop browsing.
    pub fn push(&mut self, prompt: &str) {
        self.at = None;
        self.draft.clear();
        if prompt.trim().is_empty()
            || prompt.len() > MAX_BYTES
            || self.entries.last().is_some_and(|l| l == prompt)
        {
            return;
        }
        self.entries.push(prompt.to_string());
        if let Some(file) = &self.file {
            // Losing a history line is not worth an error on screen.
            let _ = append(file, prompt);
        }
        if self.entries.len() > KEPT * 2 {
            self.entries.drain(..KEPT);
        }
    }

    /// The prompt before the one shown (`current` is the input, kept as the draft when
    /// browsing starts); `None` at the oldest.
    pub fn older(&mut self, current: &str) -> Option<String> {
        let next = match self.at {
            None => {
                self.draft = current.to_string();
                self.entries.len().checked_sub(1)?
            }
            Some(i) => i.checked_sub(1)?,
        };
        self.at = Some(next);
        self.entries.get(next).cloned()
    }

    /// The prompt after the one shown, or the draft after the newest; `None` when not
    /// browsing.
    pub fn newer(&mut self) -> Option<String> {
        let i = self.at?;
        if i + 1 < self.entries.len() {
            self.at = Some(i + 1);
            self.entries.get(i + 1).cloned()
        } else {
            self.at = None;
            Some(std::mem::take(&mut self.draft))
        }
    }
}

fn append(file: &std::path::Path, prompt: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file)?;
    let line = serde_json::to_string(prompt).map_err(std::io::Error::other)?;
    writeln!(f, "{line}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn browsing_goes_back_and_returns_to_the_draft_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("history.jsonl");
        let mut h = History::load(file.clone());
        for p in [
            "first",
            "second\nwith two lines",
            "second\nwith two lines",
            " ",
        ] {
            h.push(p);
        }
        assert_eq!(h.older("draft").as_deref(), Some("second\nwith two lines"));
        assert_eq!(h.older("ignored").as_deref(), Some("first"));
        assert_eq!(h.older("ignored"), None, "the oldest");
        assert_eq!(h.newer().as_deref(), Some("second\nwith two lines"));
        assert_eq!(h.newer().as_deref(), Some("draft"));
        assert_eq!(h.newer(), None);
        let mut again = History::load(file.clone());
        assert_eq!(again.older("").as_deref(), Some("second\nwith two lines"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
