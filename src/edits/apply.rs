//! Edits against the user's files: a block becomes a proposal (the file's text before and
//! after, and the diff to review), a proposal is applied atomically (temporary file and
//! rename, the file's permissions kept) only if the file still holds what the proposal was
//! made from, and every applied change can be undone from a log kept on disk. Nothing
//! outside the workspace's root is ever read or written.

use std::io::Write;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::parse::Block;

/// Why an edit was not proposed, applied or undone. Nothing was written when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{path}: outside the working directory; edits stay inside it")]
    Outside { path: String },
    #[error("{path}: the SEARCH text is not in the file")]
    NotFound { path: String },
    #[error("{path}: the SEARCH text is in the file {count} times; it must name one place")]
    Ambiguous { path: String, count: usize },
    #[error("{path}: an empty SEARCH creates a file, and this one exists")]
    Exists { path: String },
    #[error("{path}: changed since {since}; not applied (ask again with the file as it is now)")]
    Changed { path: String, since: &'static str },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: changed since the edit was applied; not undone")]
    ChangedSinceApplied { path: String },
    #[error("nothing to undo")]
    NothingToUndo,
    #[error("the undo log {path} is damaged: {reason}")]
    Log { path: String, reason: String },
}

/// A change ready for review: the file's text now and after, and the diff between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Proposal {
    /// As the model named it, relative to the root.
    pub path: String,
    /// `None`: the file does not exist yet.
    pub before: Option<String>,
    pub after: String,
    /// Unified diff (`--- a/PATH`, `+++ b/PATH`).
    pub diff: String,
}

impl Proposal {
    /// Lines added and removed.
    pub fn stat(&self) -> (usize, usize) {
        let added = self
            .diff
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .count();
        let removed = self
            .diff
            .lines()
            .filter(|l| l.starts_with('-') && !l.starts_with("---"))
            .count();
        (added, removed)
    }
}

/// One applied change, as the undo log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The workspace's root when it was applied.
    pub root: PathBuf,
    pub path: String,
    pub before: Option<String>,
    pub after: String,
}

/// Where edits may go: a root directory (the working directory).
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

impl Workspace {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file `path` names inside the root; `..`, absolute paths and symbolic links that
    /// lead out are refused.
    fn resolve(&self, path: &str) -> Result<PathBuf, EditError> {
        let outside = || EditError::Outside { path: path.into() };
        let rel = Path::new(path);
        if rel
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(outside());
        }
        let full = self.root.join(rel);
        // The deepest existing ancestor must resolve inside the root.
        let root = self.root.canonicalize().map_err(|source| EditError::Io {
            path: self.root.display().to_string(),
            source,
        })?;
        let mut probe = full.as_path();
        while !probe.exists() {
            probe = probe.parent().ok_or_else(outside)?;
        }
        let real = probe.canonicalize().map_err(|source| EditError::Io {
            path: path.into(),
            source,
        })?;
        if !real.starts_with(&root) {
            return Err(outside());
        }
        Ok(full)
    }

    fn read(&self, path: &str) -> Result<Option<String>, EditError> {
        let full = self.resolve(path)?;
        match std::fs::read(&full) {
            Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(EditError::Io {
                path: path.into(),
                source,
            }),
        }
    }

    /// The proposal for `block` against the file as it is now. `attached`: the text the
    /// model was shown, if the file was attached (a file changed since is refused).
    pub fn propose(&self, block: &Block, attached: Option<&str>) -> Result<Proposal, EditError> {
        let (mut proposals, mut errors) =
            self.propose_all(std::slice::from_ref(block), |_| attached);
        match (proposals.pop(), errors.pop()) {
            (_, Some(e)) => Err(e),
            (Some(p), None) => Ok(p),
            (None, None) => Err(EditError::NotFound {
                path: block.path.clone(),
            }),
        }
    }

    /// One proposal per file for `blocks`, each file's blocks applied in order to its text
    /// (two blocks for one file make one change, reviewed and undone as one), and the blocks
    /// that cannot be used, each with its reason. `attached` gives the text the model was
    /// shown of a path, if it was attached.
    pub fn propose_all<'a>(
        &self,
        blocks: &[Block],
        attached: impl Fn(&str) -> Option<&'a str>,
    ) -> (Vec<Proposal>, Vec<EditError>) {
        let mut paths: Vec<&str> = Vec::new();
        for b in blocks {
            if !paths.contains(&b.path.as_str()) {
                paths.push(&b.path);
            }
        }
        let (mut proposals, mut errors) = (Vec::new(), Vec::new());
        for path in paths {
            let before = match self.read(path) {
                Ok(b) => b,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if let (Some(shown), Some(now)) = (attached(path), before.as_deref())
                && shown != now
            {
                errors.push(EditError::Changed {
                    path: path.into(),
                    since: "it was attached",
                });
                continue;
            }
            let mut text = before.clone();
            for b in blocks.iter().filter(|b| b.path == path) {
                match step(text.as_deref(), b) {
                    Ok(next) => text = Some(next),
                    Err(e) => errors.push(e),
                }
            }
            let Some(after) = text.filter(|t| Some(t) != before.as_ref()) else {
                continue;
            };
            let diff = similar::TextDiff::from_lines(before.as_deref().unwrap_or(""), &after)
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{path}"), &format!("b/{path}"))
                .to_string();
            proposals.push(Proposal {
                path: path.into(),
                before,
                after,
                diff,
            });
        }
        (proposals, errors)
    }

    /// Write `p` if the file still holds what it was proposed from.
    pub fn apply(&self, p: &Proposal) -> Result<Applied, EditError> {
        if self.read(&p.path)? != p.before {
            return Err(EditError::Changed {
                path: p.path.clone(),
                since: "the edit was proposed",
            });
        }
        self.write(&p.path, Some(&p.after))?;
        Ok(Applied {
            root: self.root.clone(),
            path: p.path.clone(),
            before: p.before.clone(),
            after: p.after.clone(),
        })
    }

    /// Put back what `a` replaced, if the file still holds what `a` wrote.
    pub fn revert(&self, a: &Applied) -> Result<(), EditError> {
        if self.read(&a.path)?.as_deref() != Some(a.after.as_str()) {
            return Err(EditError::ChangedSinceApplied {
                path: a.path.clone(),
            });
        }
        self.write(&a.path, a.before.as_deref())
    }

    /// Atomically replace (or create, or with `None` remove) a file.
    fn write(&self, path: &str, text: Option<&str>) -> Result<(), EditError> {
        let full = self.resolve(path)?;
        let io = |source| EditError::Io {
            path: path.into(),
            source,
        };
        let Some(text) = text else {
            return std::fs::remove_file(&full).map_err(io);
        };
        let dir = full.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        tmp.write_all(text.as_bytes()).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        if let Ok(meta) = std::fs::metadata(&full) {
            tmp.as_file()
                .set_permissions(meta.permissions())
                .map_err(io)?;
        }
        tmp.persist(&full).map_err(|e| io(e.error))?;
        Ok(())
    }
}

/// A file's text (`None`: no such file) after one block.
fn step(text: Option<&str>, block: &Block) -> Result<String, EditError> {
    let path = &block.path;
    match text {
        None if block.search.trim().is_empty() => Ok(block.replace.clone()),
        None => Err(EditError::NotFound { path: path.clone() }),
        Some(t) if block.search.trim().is_empty() => {
            if t.is_empty() {
                Ok(block.replace.clone())
            } else {
                Err(EditError::Exists { path: path.clone() })
            }
        }
        Some(t) => replace_once(t, block, path),
    }
}

/// `text` with the block's SEARCH part replaced, if it occurs exactly once (exactly, or
/// else line by line ignoring trailing whitespace, which models often drop).
fn replace_once(text: &str, block: &Block, path: &str) -> Result<String, EditError> {
    let crlf = text.contains("\r\n");
    let (search, replace) = if crlf {
        (
            block.search.replace('\n', "\r\n"),
            block.replace.replace('\n', "\r\n"),
        )
    } else {
        (block.search.clone(), block.replace.clone())
    };
    match text.matches(&search).count() {
        1 => return Ok(text.replacen(&search, &replace, 1)),
        0 => {}
        count => {
            return Err(EditError::Ambiguous {
                path: path.into(),
                count,
            });
        }
    }
    // Line by line, trailing whitespace ignored.
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let want: Vec<&str> = block.search.lines().map(str::trim_end).collect();
    let hits: Vec<usize> = (0..lines.len().saturating_sub(want.len() - 1))
        .filter(|&i| {
            want.iter()
                .enumerate()
                .all(|(j, w)| lines.get(i + j).is_some_and(|l| l.trim_end() == *w))
        })
        .collect();
    match hits.as_slice() {
        [i] => {
            let mut out: String = lines[..*i].concat();
            out.push_str(&replace);
            out.push_str(&lines[i + want.len()..].concat());
            Ok(out)
        }
        [] => Err(EditError::NotFound { path: path.into() }),
        many => Err(EditError::Ambiguous {
            path: path.into(),
            count: many.len(),
        }),
    }
}

/// Applied changes, newest last, kept in a JSON file so `undo` works across processes.
#[derive(Debug, Clone)]
pub struct UndoLog {
    path: PathBuf,
}

/// Changes kept for undo.
const UNDO_KEPT: usize = 50;

impl UndoLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    fn load(&self) -> Result<Vec<Applied>, EditError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| EditError::Log {
                path: self.path.display().to_string(),
                reason: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(source) => Err(EditError::Io {
                path: self.path.display().to_string(),
                source,
            }),
        }
    }

    fn store(&self, entries: &[Applied]) -> Result<(), EditError> {
        let io = |source| EditError::Io {
            path: self.path.display().to_string(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        let json = serde_json::to_vec(entries).map_err(|e| EditError::Log {
            path: self.path.display().to_string(),
            reason: e.to_string(),
        })?;
        tmp.write_all(&json).map_err(io)?;
        tmp.persist(&self.path).map_err(|e| io(e.error))?;
        Ok(())
    }

    pub fn push(&self, a: Applied) -> Result<(), EditError> {
        let mut all = self.load()?;
        all.push(a);
        let skip = all.len().saturating_sub(UNDO_KEPT);
        self.store(&all[skip..])
    }

    /// Undo the newest change: the file gets its text back, and the entry leaves the log.
    pub fn undo(&self) -> Result<Applied, EditError> {
        let mut all = self.load()?;
        let last = all.pop().ok_or(EditError::NothingToUndo)?;
        Workspace::new(&last.root).revert(&last)?;
        self.store(&all)?;
        Ok(last)
    }

    pub fn len(&self) -> Result<usize, EditError> {
        Ok(self.load()?.len())
    }

    pub fn is_empty(&self) -> Result<bool, EditError> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn block(path: &str, search: &str, replace: &str) -> Block {
        Block {
            path: path.into(),
            search: search.into(),
            replace: replace.into(),
        }
    }

    #[test]
    fn propose_apply_undo_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let file = dir.path().join("a.rs");
        std::fs::write(&file, "fn old() {}\nfn keep() {}\n").unwrap();
        let p = ws
            .propose(
                &block("a.rs", "fn old() {}\n", "fn new() {}\n"),
                Some("fn old() {}\nfn keep() {}\n"),
            )
            .unwrap();
        assert!(
            p.diff.contains("-fn old() {}") && p.diff.contains("+fn new() {}"),
            "{}",
            p.diff
        );
        assert_eq!(p.stat(), (1, 1));
        // Previewing writes nothing.
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "fn old() {}\nfn keep() {}\n"
        );
        let log = UndoLog::new(dir.path().join("state/undo.json"));
        log.push(ws.apply(&p).unwrap()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "fn new() {}\nfn keep() {}\n"
        );
        log.undo().unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "fn old() {}\nfn keep() {}\n"
        );
        assert!(matches!(log.undo(), Err(EditError::NothingToUndo)));
    }

    #[test]
    fn a_file_changed_in_between_is_refused_at_every_step() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let file = dir.path().join("a.py");
        std::fs::write(&file, "x = 1\n").unwrap();
        let b = block("a.py", "x = 1\n", "x = 2\n");
        assert!(matches!(
            ws.propose(&b, Some("x = 0\n")),
            Err(EditError::Changed { .. })
        ));
        let p = ws.propose(&b, Some("x = 1\n")).unwrap();
        std::fs::write(&file, "x = 1\ny = 2\n").unwrap();
        assert!(matches!(ws.apply(&p), Err(EditError::Changed { .. })));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "x = 1\ny = 2\n");
        // Applied, then edited by hand: undo refuses rather than losing the hand edit.
        let p = ws
            .propose(&block("a.py", "y = 2\n", "y = 3\n"), None)
            .unwrap();
        let a = ws.apply(&p).unwrap();
        std::fs::write(&file, "hand edit\n").unwrap();
        assert!(matches!(
            ws.revert(&a),
            Err(EditError::ChangedSinceApplied { .. })
        ));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "hand edit\n");
    }

    #[test]
    fn search_must_name_one_place_and_paths_stay_inside() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        std::fs::write(dir.path().join("a.txt"), "a\nb\na\n").unwrap();
        assert!(matches!(
            ws.propose(&block("a.txt", "a\n", "c\n"), None),
            Err(EditError::Ambiguous { count: 2, .. })
        ));
        assert!(matches!(
            ws.propose(&block("a.txt", "zzz\n", "c\n"), None),
            Err(EditError::NotFound { .. })
        ));
        // Trailing whitespace the model dropped still matches, line by line.
        std::fs::write(dir.path().join("w.txt"), "one  \ntwo\n").unwrap();
        let p = ws.propose(&block("w.txt", "one\n", "uno\n"), None).unwrap();
        assert_eq!(p.after, "uno\ntwo\n");
        for bad in ["../x.txt", "/etc/passwd", "a/../../x"] {
            assert!(
                matches!(
                    ws.propose(&block(bad, "", "x\n"), None),
                    Err(EditError::Outside { .. })
                ),
                "{bad}"
            );
        }
        // An empty SEARCH creates a file (and its directory), and never overwrites one.
        let p = ws
            .propose(&block("new/mod.rs", "", "pub fn f() {}\n"), None)
            .unwrap();
        ws.apply(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("new/mod.rs")).unwrap(),
            "pub fn f() {}\n"
        );
        assert!(matches!(
            ws.propose(&block("a.txt", "", "x\n"), None),
            Err(EditError::Exists { .. })
        ));
    }

    #[cfg(unix)]
    #[test]
    fn permissions_survive_and_links_out_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::new(dir.path());
        let file = dir.path().join("run.sh");
        std::fs::write(&file, "echo a\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        let p = ws
            .propose(&block("run.sh", "echo a\n", "echo b\n"), None)
            .unwrap();
        ws.apply(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o755
        );
        let outside = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
        assert!(matches!(
            ws.propose(&block("out/x.txt", "", "x\n"), None),
            Err(EditError::Outside { .. })
        ));
    }
}
