//! The edits an answer proposes, from the command line: `ask` shows each as a diff and
//! keeps them as pending; `codeforge apply` writes them (each re-checked against the file),
//! `ask --apply` does both at once; `codeforge undo` takes the last applied change back.
//! Every change is the user's decision: nothing is written without `apply`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::attach::Composed;
use super::{CommandError, Output};
use crate::config::Config;
use crate::edits::{EditError, Parsed, Proposal, UndoLog, Workspace};

/// Proposals waiting for `codeforge apply`, with the directory they were made in.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    root: PathBuf,
    proposals: Vec<Proposal>,
}

fn pending_file(config: &Config) -> PathBuf {
    config.paths.data_dir.join("pending-edits.json")
}

fn undo_log(config: &Config) -> UndoLog {
    UndoLog::new(config.paths.data_dir.join("undo.json"))
}

fn edit_error(e: EditError) -> CommandError {
    CommandError::Usage(e.to_string())
}

fn cwd() -> Result<PathBuf, CommandError> {
    std::env::current_dir()
        .map_err(|e| CommandError::Io(format!("cannot read the working directory: {e}")))
}

/// After `ask`: the answer's edits as diffs, kept as pending (or applied with `apply_now`).
/// Edits that cannot be used are named with the reason; none is half-applied.
pub fn review(
    config: &Config,
    answer: &str,
    composed: &Composed,
    apply_now: bool,
    out: &mut Output,
) -> Result<(), CommandError> {
    let parsed = crate::edits::parse(answer, true);
    if parsed.is_empty() {
        return Ok(());
    }
    let root = cwd()?;
    let ws = Workspace::new(&root);
    let mut blocks = Vec::new();
    for p in parsed {
        match p {
            Parsed::Edit(block) => blocks.push(block),
            Parsed::Malformed { path, reason } => out.err_line(&format!(
                "✗ malformed edit{}: {reason}",
                path.map_or(String::new(), |p| format!(" to {p}"))
            )),
        }
    }
    let (proposals, errors) = ws.propose_all(&blocks, |p| composed.attached_text(p));
    for e in errors {
        out.err_line(&format!("✗ edit not usable: {e}"));
    }
    if proposals.is_empty() {
        return Ok(());
    }
    for p in &proposals {
        show(p, out);
    }
    if apply_now {
        return apply_all(config, &ws, &proposals, out);
    }
    store_pending(config, &root, proposals)?;
    out.err_line("apply with `codeforge apply`, see them again with `codeforge apply --show`");
    Ok(())
}

fn show(p: &Proposal, out: &mut Output) {
    let (added, removed) = p.stat();
    let what = if p.before.is_none() { "new file " } else { "" };
    out.err_line(&format!(
        "✎ proposed edit to {what}{} (+{added} −{removed})",
        p.path
    ));
    for line in p.diff.lines() {
        out.err_line(&format!("  {line}"));
    }
}

fn store_pending(
    config: &Config,
    root: &Path,
    proposals: Vec<Proposal>,
) -> Result<(), CommandError> {
    let file = pending_file(config);
    let json = serde_json::to_vec(&Pending {
        root: root.to_path_buf(),
        proposals,
    })
    .map_err(|e| CommandError::Io(e.to_string()))?;
    std::fs::create_dir_all(&config.paths.data_dir)
        .and_then(|_| std::fs::write(&file, json))
        .map_err(|e| CommandError::Io(format!("cannot keep the edits in {}: {e}", file.display())))
}

fn apply_all(
    config: &Config,
    ws: &Workspace,
    proposals: &[Proposal],
    out: &mut Output,
) -> Result<(), CommandError> {
    let log = undo_log(config);
    let mut failed = 0;
    for p in proposals {
        match ws.apply(p) {
            Ok(applied) => {
                log.push(applied).map_err(edit_error)?;
                out.err_line(&format!("✓ applied {} (undo: codeforge undo)", p.path));
            }
            Err(e) => {
                failed += 1;
                out.err_line(&format!("✗ {e}"));
            }
        }
    }
    let paths: Vec<&str> = proposals.iter().map(|p| p.path.as_str()).collect();
    if failed < proposals.len()
        && let Some(git) = crate::edits::git::summary(ws.root(), &paths)
    {
        out.err_line(&git);
    }
    if failed > 0 {
        return Err(CommandError::Usage(format!(
            "{failed} of {} edits not applied",
            proposals.len()
        )));
    }
    Ok(())
}

/// `codeforge apply [--show]`.
pub fn apply(config: &Config, show_only: bool, out: &mut Output) -> Result<(), CommandError> {
    let file = pending_file(config);
    let pending: Pending = match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            CommandError::Usage(format!("{} is damaged ({e}); ask again", file.display()))
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(CommandError::Usage(
                "no edits are waiting: an answer to `codeforge ask -f FILE …` proposes them".into(),
            ));
        }
        Err(e) => {
            return Err(CommandError::Io(format!(
                "cannot read {}: {e}",
                file.display()
            )));
        }
    };
    if show_only {
        for p in &pending.proposals {
            show(p, out);
        }
        return Ok(());
    }
    let ws = Workspace::new(&pending.root);
    let result = apply_all(config, &ws, &pending.proposals, out);
    // Applied or refused, they are done with: a refused one is stale and must be asked again.
    let _ = std::fs::remove_file(&file);
    result
}

/// `codeforge undo`.
pub fn undo(config: &Config, out: &mut Output) -> Result<(), CommandError> {
    let log = undo_log(config);
    let undone = log.undo().map_err(edit_error)?;
    let left = log.len().map_err(edit_error)?;
    out.err_line(&format!(
        "↶ undid the edit to {} ({} more to undo)",
        undone.root.join(&undone.path).display(),
        left
    ));
    Ok(())
}
