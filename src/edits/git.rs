//! What git says of files after edits were applied (` M src/lib.rs`), so the user sees
//! what is now modified in their repository. Runs `git`; nothing when there is no git or
//! no repository.

use std::path::Path;

/// `git status --porcelain` of `paths` under `root`: one line each that git reports.
/// `None` outside a repository or without git.
pub fn status(root: &Path, paths: &[&str]) -> Option<Vec<String>> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["status", "--porcelain=v1", "--"])
        .args(paths)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    )
}

/// "git: M src/lib.rs, ?? src/new.rs", or nothing to say.
pub fn summary(root: &Path, paths: &[&str]) -> Option<String> {
    let lines = status(root, paths)?;
    (!lines.is_empty()).then(|| format!("git: {}", lines.join(", ")))
}
