//! The prompt of `ask` and `route`: the instruction (argument or stdin) with what is attached
//! to it, files (`-f`) and stdin when a prompt argument is given too, as llm and aichat do.
//! Nothing is dropped silently: a file that cannot be attached (missing, binary, too big)
//! stops the command with its path and the reason.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use super::CommandError;
use crate::attach::{block, language, size};

/// A prompt and, for the user, what was attached to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Composed {
    pub prompt: String,
    /// The prompt without the files (the instruction, and stdin if attached).
    pub head: String,
    /// "src/main.rs (~1,703 tokens)", one per attachment.
    pub attached: Vec<String>,
    /// The attached files as the model was shown them: (path as given, text). Edits to
    /// them are checked against this text.
    pub files: Vec<(String, String)>,
}

impl Composed {
    /// The system prompt for this prompt, from the session's `base`: with files attached,
    /// it says how to propose edits.
    pub fn system(&self, base: &str) -> String {
        let mut s = base.to_string();
        if !self.files.is_empty() {
            s.push_str(crate::edits::EDIT_FORMAT);
        }
        s
    }

    /// The files cut to an excerpt each, so that together they fit in `limit` tokens.
    pub fn trim_files(&mut self, limit: u64) {
        let m = crate::attach::Mentions {
            prompt: self.head.clone(),
            files: self.files.clone(),
            ..Default::default()
        };
        let t = crate::attach::trimmed(&self.head, &m, limit);
        self.prompt = t.prompt;
        self.attached = t.attached;
    }

    /// The text `path` had when it was attached (`./src/a.rs` and `src/a.rs` are one file).
    pub fn attached_text(&self, path: &str) -> Option<&str> {
        let norm = |p: &str| p.trim_start_matches("./").to_string();
        self.files
            .iter()
            .find(|(p, _)| norm(p) == norm(path))
            .map(|(_, t)| t.as_str())
    }
}

/// The instruction (`arg`, else stdin) with `files` attached, and stdin too when `arg` is
/// given and stdin is not a terminal.
pub fn compose(arg: Option<&str>, files: &[PathBuf]) -> Result<Composed, CommandError> {
    let stdin = if std::io::stdin().is_terminal() {
        None
    } else {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| CommandError::Usage(format!("cannot read stdin: {e}")))?;
        Some(bytes)
    };
    compose_from(arg, stdin, files)
}

/// [`compose`] with stdin given (`None`: a terminal, nothing read).
pub fn compose_from(
    arg: Option<&str>,
    stdin: Option<Vec<u8>>,
    files: &[PathBuf],
) -> Result<Composed, CommandError> {
    let mut attached = Vec::new();
    let mut parts = Vec::new();
    let mut shown = Vec::new();
    let instruction = match (arg, stdin) {
        (Some(a), Some(bytes)) => {
            let text = String::from_utf8_lossy(&bytes).into_owned();
            if !super::is_blank(&text) {
                parts.push(block("stdin", &text, None));
                attached.push(format!("stdin ({})", size(&text)));
            }
            a.to_string()
        }
        (Some(a), None) => a.to_string(),
        (None, Some(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        (None, None) => String::new(),
    };
    for path in files {
        let text = read_attachment(path)?;
        parts.push(block(&path.display().to_string(), &text, language(path)));
        attached.push(format!("{} ({})", path.display(), size(&text)));
        shown.push((path.display().to_string(), text));
    }
    if super::is_blank(&instruction) && parts.is_empty() {
        return Err(CommandError::Usage(
            "empty prompt: pass it as an argument or on stdin".into(),
        ));
    }
    let mut prompt = instruction;
    let stdin_parts = parts.len() - shown.len();
    let mut head = String::new();
    for (i, p) in parts.iter().enumerate() {
        if i == stdin_parts {
            head = prompt.clone();
        }
        prompt.push_str("\n\n");
        prompt.push_str(p);
    }
    if shown.is_empty() {
        head = prompt.clone();
    }
    Ok(Composed {
        head,
        prompt,
        attached,
        files: shown,
    })
}

fn read_attachment(path: &Path) -> Result<String, CommandError> {
    crate::attach::read(path).map_err(CommandError::Usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_with_a_prompt_is_attached_not_dropped() {
        let c = compose_from(Some("review this"), Some(b"fn main() {}\n".to_vec()), &[]).unwrap();
        assert_eq!(c.prompt, "review this\n\nstdin:\n```\nfn main() {}\n```");
        assert_eq!(c.attached, vec!["stdin (1 line, ~4 tokens)".to_string()]);
        // Without a prompt argument stdin is the prompt, as before.
        let c = compose_from(None, Some(b"just a question".to_vec()), &[]).unwrap();
        assert_eq!(c.prompt, "just a question");
        assert!(c.attached.is_empty());
    }

    #[test]
    fn files_are_attached_fenced_with_their_language_and_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let rs = dir.path().join("main.rs");
        std::fs::write(&rs, "let s = \"```\";\n").unwrap();
        let c = compose_from(Some("explain"), None, std::slice::from_ref(&rs)).unwrap();
        // A fence longer than the backticks inside.
        assert!(
            c.prompt.ends_with(&format!(
                "{}:\n````rust\nlet s = \"```\";\n````",
                rs.display()
            )),
            "{}",
            c.prompt
        );
        let missing = dir.path().join("nope.rs");
        let e = compose_from(Some("x"), None, std::slice::from_ref(&missing)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("cannot attach {}", missing.display())),
            "{e}"
        );
        let bin = dir.path().join("a.out");
        std::fs::write(&bin, [0x7f, b'E', 0, 1]).unwrap();
        let e = compose_from(Some("x"), None, &[bin]).unwrap_err();
        assert!(e.to_string().contains("looks binary"), "{e}");
        let big = dir.path().join("big.log");
        std::fs::write(&big, "x".repeat(crate::attach::MAX_ATTACHMENT_BYTES + 1)).unwrap();
        let e = compose_from(Some("x"), None, &[big]).unwrap_err();
        assert!(e.to_string().contains("over the 2 MB"), "{e}");
        // Nothing at all: refused.
        assert!(compose_from(None, Some(b"  \n".to_vec()), &[]).is_err());
    }
}
