//! The project's files for `@` completion: listed once the way ripgrep lists them
//! (`.gitignore`, `.ignore` and hidden files respected), in the background, and matched
//! fuzzily as the user types (nucleo's matcher, Helix's, with its path scoring). Reads the
//! file tree; must not import `tui`, `core` or `commands`.

use std::path::Path;
use std::sync::{Arc, RwLock};

use nucleo_matcher::pattern::{CaseMatching, Normalization, Pattern};
use nucleo_matcher::{Config, Matcher, Utf32Str};

/// The most files listed (a bigger tree is listed up to here).
pub const MAX_FILES: usize = 200_000;

/// Paths relative to the root, `/`-separated.
#[derive(Debug, Default, Clone)]
pub struct FileIndex {
    paths: Vec<String>,
}

impl FileIndex {
    pub fn from_paths(paths: Vec<String>) -> Self {
        Self { paths }
    }

    /// The files under `root`.
    pub fn walk(root: &Path) -> Self {
        let mut paths = Vec::new();
        let walk = ignore::WalkBuilder::new(root).require_git(false).build();
        for entry in walk.flatten() {
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                continue;
            }
            if let Ok(rel) = entry.path().strip_prefix(root) {
                paths.push(rel.to_string_lossy().replace('\\', "/"));
            }
            if paths.len() >= MAX_FILES {
                break;
            }
        }
        paths.sort();
        Self { paths }
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The `n` paths that match `query` best (fuzzy, smart case); shorter paths first when
    /// the query is empty or scores tie.
    pub fn best(&self, query: &str, n: usize) -> Vec<String> {
        let pattern = Pattern::parse(query, CaseMatching::Smart, Normalization::Smart);
        let mut matcher = Matcher::new(Config::DEFAULT.match_paths());
        let mut buf = Vec::new();
        let mut scored: Vec<(u32, usize)> = self
            .paths
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                pattern
                    .score(Utf32Str::new(p, &mut buf), &mut matcher)
                    .map(|s| (s, i))
            })
            .collect();
        let rank = |a: &(u32, usize), b: &(u32, usize)| {
            b.0.cmp(&a.0)
                .then_with(|| self.paths[a.1].len().cmp(&self.paths[b.1].len()))
                .then_with(|| a.1.cmp(&b.1))
        };
        if scored.len() > n && n > 0 {
            scored.select_nth_unstable_by(n - 1, rank);
            scored.truncate(n);
        }
        scored.sort_by(rank);
        scored
            .into_iter()
            .take(n)
            .filter_map(|(_, i)| self.paths.get(i).cloned())
            .collect()
    }
}

/// An index filled in the background: empty until the first walk ends, then replaced by
/// each refresh (at most one walk at a time).
#[derive(Debug, Clone, Default)]
pub struct SharedIndex {
    index: Arc<RwLock<Arc<FileIndex>>>,
    /// When the last walk started, while one runs or after it ended.
    walked_at: Arc<RwLock<Option<std::time::Instant>>>,
    walking: Arc<std::sync::atomic::AtomicBool>,
}

/// A file list older than this is listed again when `@` completion opens.
pub const REFRESH_AFTER: std::time::Duration = std::time::Duration::from_secs(30);

impl SharedIndex {
    /// Start listing `root` on a thread of its own.
    pub fn spawn(root: std::path::PathBuf) -> Self {
        let shared = Self::default();
        shared.refresh(root);
        shared
    }

    /// List `root` again in the background, unless a walk is running.
    pub fn refresh(&self, root: std::path::PathBuf) {
        use std::sync::atomic::Ordering;
        if self.walking.swap(true, Ordering::AcqRel) {
            return;
        }
        if let Ok(mut at) = self.walked_at.write() {
            *at = Some(std::time::Instant::now());
        }
        let filled = self.clone();
        let started = std::thread::Builder::new()
            .name("file-index".into())
            .spawn(move || {
                filled.set(FileIndex::walk(&root));
                filled.walking.store(false, Ordering::Release);
            });
        if started.is_err() {
            self.walking.store(false, Ordering::Release);
        }
    }

    /// [`Self::refresh`] when the list is older than [`REFRESH_AFTER`].
    pub fn refresh_if_stale(&self, root: &std::path::Path) {
        let stale = self
            .walked_at
            .read()
            .map(|at| at.is_none_or(|t| t.elapsed() >= REFRESH_AFTER))
            .unwrap_or(false);
        if stale {
            self.refresh(root.to_path_buf());
        }
    }

    /// Put in a listed index (it counts as fresh).
    pub fn set(&self, index: FileIndex) {
        if let Ok(mut slot) = self.index.write() {
            *slot = Arc::new(index);
        }
        if let Ok(mut at) = self.walked_at.write()
            && at.is_none()
        {
            *at = Some(std::time::Instant::now());
        }
    }

    /// The index as last listed.
    pub fn get(&self) -> Arc<FileIndex> {
        self.index
            .read()
            .map(|i| Arc::clone(&i))
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn fuzzy_matches_rank_paths_and_ignored_files_are_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "src/router/payload.rs",
            "src/tui/app.rs",
            "README.md",
            "target/x.rs",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "x").unwrap();
        }
        std::fs::write(dir.path().join(".gitignore"), "target/\n").unwrap();
        let index = FileIndex::walk(dir.path());
        assert_eq!(index.len(), 3, "{:?}", index.best("", 10));
        assert_eq!(index.best("payl", 5), ["src/router/payload.rs"]);
        assert_eq!(index.best("srapp", 5), ["src/tui/app.rs"]);
        assert_eq!(index.best("", 1), ["README.md"], "shortest first");
        assert!(index.best("zzzz", 5).is_empty());
    }

    #[test]
    fn the_background_list_is_filled_and_refreshed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.rs"), "x").unwrap();
        let shared = SharedIndex::spawn(dir.path().to_path_buf());
        let wait = |n: usize| {
            for _ in 0..500 {
                if shared.get().len() == n {
                    return;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            panic!("the list never had {n} files");
        };
        wait(1);
        std::fs::write(dir.path().join("b.rs"), "x").unwrap();
        // Fresh: not listed again; then forced.
        shared.refresh_if_stale(dir.path());
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(shared.get().len(), 1);
        shared.refresh(dir.path().to_path_buf());
        wait(2);
    }
}
