//! The system prompt a session sends: CodeForge's own, then the config's `system_prompt`,
//! then the project's instructions: `CODEFORGE.md`, else `AGENTS.md` (the convention Codex
//! and opencode read), at the root of the repository the working directory is in (the
//! nearest ancestor with `.git`; the working directory itself outside a repository). Reads
//! files; must not import `tui`, `core` or `commands`.

use std::path::{Path, PathBuf};

/// The most of a project's instructions sent (they go with every request).
pub const MAX_PROJECT_BYTES: usize = 32 * 1024;

/// Instruction file names, in the order they are looked for.
pub const FILES: [&str; 2] = ["CODEFORGE.md", "AGENTS.md"];

/// A system prompt and where its project part came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemPrompt {
    pub text: String,
    /// The project's instruction file, its estimated tokens, and whether it was cut.
    pub project: Option<(PathBuf, u64, bool)>,
}

impl SystemPrompt {
    /// What to tell the user once, if project instructions are sent.
    pub fn notice(&self) -> Option<String> {
        self.project.as_ref().map(|(path, tokens, cut)| {
            format!(
                "project instructions from {} (~{tokens} tokens) go with every request{}",
                path.display(),
                if *cut {
                    format!(", cut to its first {} KB", MAX_PROJECT_BYTES / 1024)
                } else {
                    String::new()
                }
            )
        })
    }
}

/// The repository root above `dir` (the nearest ancestor holding `.git`), else `dir`.
pub fn project_root(dir: &Path) -> PathBuf {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .unwrap_or(dir)
        .to_path_buf()
}

/// The system prompt: `base`, the config's `extra`, and the project's instructions for
/// work in `dir`. An unreadable instruction file is left out (named in `project` as cut).
pub fn system_prompt(base: &str, extra: Option<&str>, dir: &Path) -> SystemPrompt {
    let mut text = base.to_string();
    if let Some(extra) = extra.filter(|e| !e.trim().is_empty()) {
        text.push_str("\n\n");
        text.push_str(extra.trim());
    }
    let root = project_root(dir);
    let project = FILES.iter().find_map(|name| {
        let path = root.join(name);
        let bytes = std::fs::read(&path).ok()?;
        let body = String::from_utf8_lossy(&bytes);
        let cut = body.len() > MAX_PROJECT_BYTES;
        let mut end = body.len().min(MAX_PROJECT_BYTES);
        while !body.is_char_boundary(end) {
            end -= 1;
        }
        let body = body[..end].trim();
        if body.is_empty() {
            return None;
        }
        text.push_str(&format!(
            "\n\nThe project's instructions ({name}), to follow:\n{body}"
        ));
        Some((path, (body.len() as u64).div_ceil(4), cut))
    });
    SystemPrompt { text, project }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_roots_instructions_follow_the_config_and_codeforge_md_wins() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        let sub = repo.path().join("src/deep");
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(repo.path().join("AGENTS.md"), "Use tabs.\n").unwrap();
        let s = system_prompt("BASE", Some("Be brief."), &sub);
        assert_eq!(
            s.text,
            "BASE\n\nBe brief.\n\nThe project's instructions (AGENTS.md), to follow:\nUse tabs."
        );
        assert_eq!(s.project.as_ref().unwrap().0, repo.path().join("AGENTS.md"));
        assert!(s.notice().unwrap().contains("AGENTS.md (~3 tokens)"));
        std::fs::write(repo.path().join("CODEFORGE.md"), "Use spaces.").unwrap();
        assert!(
            system_prompt("BASE", None, &sub)
                .text
                .ends_with("(CODEFORGE.md), to follow:\nUse spaces.")
        );
    }

    #[test]
    fn nothing_to_add_leaves_the_base_and_big_files_are_cut() {
        let dir = tempfile::tempdir().unwrap();
        let s = system_prompt("BASE", Some("  "), dir.path());
        assert_eq!(
            s,
            SystemPrompt {
                text: "BASE".into(),
                project: None
            }
        );
        std::fs::write(dir.path().join("AGENTS.md"), "é".repeat(MAX_PROJECT_BYTES)).unwrap();
        let s = system_prompt("BASE", None, dir.path());
        assert!(s.project.as_ref().unwrap().2, "cut");
        assert!(s.text.len() < "BASE".len() + MAX_PROJECT_BYTES + 100);
        assert!(s.notice().unwrap().contains("cut to its first 32 KB"));
    }
}
