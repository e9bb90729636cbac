//! Attaching files to a prompt: a file's text (refused with the reason when missing,
//! binary or too big), fenced under its name with its language, and `@path` mentions in a
//! TUI prompt. Reads files; must not import `tui`, `core` or `commands`.

use std::path::Path;

/// The most one attachment may hold.
pub const MAX_ATTACHMENT_BYTES: usize = 2 * 1024 * 1024;

/// A file's text, or why it cannot be attached (missing, binary, too big).
pub fn read(path: &Path) -> Result<String, String> {
    let bytes =
        std::fs::read(path).map_err(|e| format!("cannot attach {}: {e}", path.display()))?;
    if bytes.len() > MAX_ATTACHMENT_BYTES {
        return Err(format!(
            "{} is {:.1} MB, over the {} MB an attachment may be: attach a part of it (e.g. `sed -n 1,400p {} | codeforge ask \"...\"`)",
            path.display(),
            bytes.len() as f64 / (1024.0 * 1024.0),
            MAX_ATTACHMENT_BYTES / (1024 * 1024),
            path.display()
        ));
    }
    if bytes.iter().take(8192).any(|&b| b == 0) {
        return Err(format!(
            "{} looks binary (it holds NUL bytes): not attached",
            path.display()
        ));
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// An attachment as the model sees it: its name, then its text fenced.
pub fn block(name: &str, text: &str, lang: Option<&str>) -> String {
    let body = text.trim_end_matches('\n');
    // A fence longer than any run of backticks inside, so the text cannot close it.
    let longest = body.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{name}:\n{fence}{}\n{body}\n{fence}", lang.unwrap_or(""))
}

pub fn size(text: &str) -> String {
    let lines = text.lines().count();
    format!(
        "{lines} line{}, ~{} tokens",
        if lines == 1 { "" } else { "s" },
        text.len().div_ceil(4)
    )
}

/// The fence's language tag from a file's extension.
pub fn language(path: &Path) -> Option<&'static str> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    Some(match ext.as_str() {
        "rs" => "rust",
        "py" => "python",
        "js" | "mjs" | "cjs" => "javascript",
        "ts" | "tsx" => "typescript",
        "go" => "go",
        "java" => "java",
        "kt" => "kotlin",
        "swift" => "swift",
        "c" | "h" => "c",
        "cc" | "cpp" | "hpp" | "cxx" => "cpp",
        "rb" => "ruby",
        "php" => "php",
        "sh" | "bash" => "bash",
        "sql" => "sql",
        "toml" => "toml",
        "yaml" | "yml" => "yaml",
        "json" => "json",
        "md" => "markdown",
        "html" => "html",
        "css" => "css",
        _ => return None,
    })
}

/// The most files one directory mention attaches, and the most bytes they may hold.
pub const MAX_DIR_FILES: usize = 100;
pub const MAX_DIR_BYTES: u64 = 512 * 1024;

/// The files under `root` whose relative path matches the glob `pattern` (`src/**/*.rs`),
/// listed as [`dir_files`] lists them, with its limits.
fn glob_files(root: &Path, pattern: &str) -> Result<Vec<(String, std::path::PathBuf)>, String> {
    let glob = globset::GlobBuilder::new(pattern)
        .literal_separator(true)
        .build()
        .map_err(|e| format!("not a pattern: {e}"))?
        .compile_matcher();
    let all = list(root, root, crate::project_files::MAX_FILES, u64::MAX)?;
    let mut bytes = 0u64;
    let mut out = Vec::new();
    for (name, path) in all.into_iter().filter(|(name, _)| glob.is_match(name)) {
        bytes += std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        out.push((name, path));
        if out.len() > MAX_DIR_FILES || bytes > MAX_DIR_BYTES {
            return Err(format!(
                "more than {MAX_DIR_FILES} files or {} KB match: name fewer",
                MAX_DIR_BYTES / 1024
            ));
        }
    }
    Ok(out)
}

/// The files under `dir` as ripgrep lists them (`.gitignore`, `.ignore` and hidden files
/// respected), sorted, named relative to `root`; refused when there are more than
/// [`MAX_DIR_FILES`] or they hold more than [`MAX_DIR_BYTES`] (name a smaller directory).
fn dir_files(root: &Path, dir: &Path) -> Result<Vec<(String, std::path::PathBuf)>, String> {
    list(root, dir, MAX_DIR_FILES, MAX_DIR_BYTES)
}

/// The files under `dir`, named relative to `root`; an error past `max_files` or
/// `max_bytes`.
fn list(
    root: &Path,
    dir: &Path,
    max_files: usize,
    max_bytes: u64,
) -> Result<Vec<(String, std::path::PathBuf)>, String> {
    let mut out = Vec::new();
    let mut bytes = 0u64;
    let walk = ignore::WalkBuilder::new(dir)
        // `.gitignore` counts in a directory that is not (yet) a git repository too.
        .require_git(false)
        .sort_by_file_name(std::ffi::OsStr::cmp)
        .build();
    for entry in walk {
        let entry = entry.map_err(|e| e.to_string())?;
        if !entry.file_type().is_some_and(|t| t.is_file()) {
            continue;
        }
        bytes += entry.metadata().map(|m| m.len()).unwrap_or(0);
        let path = entry.into_path();
        let name = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .to_string_lossy()
            .replace('\\', "/");
        out.push((name, path));
        if out.len() > max_files || bytes > max_bytes {
            return Err(format!(
                "more than {max_files} files or {} KB: name a smaller directory or the files",
                max_bytes / 1024
            ));
        }
    }
    Ok(out)
}

/// Attachments above this many tokens are sent only when the user says how (a default;
/// `attach_confirm_tokens` in the config).
pub const CONFIRM_TOKENS: u64 = 20_000;

/// Estimated tokens of attached files (4 bytes a token, as everywhere before sending).
pub fn tokens(files: &[(String, String)]) -> u64 {
    files
        .iter()
        .map(|(_, t)| (t.len() as u64).div_ceil(4))
        .sum()
}

/// `mentions` with each file cut to its first lines, so that together they fit in about
/// `limit` tokens, each cut marked with how much was left out. The files' full texts stay
/// in `files` (an edit is checked against the file, not the excerpt).
pub fn trimmed(text: &str, mentions: &Mentions, limit: u64) -> Mentions {
    let per_file = (limit as usize * 4) / mentions.files.len().max(1);
    let mut out = Mentions {
        prompt: text.to_string(),
        files: mentions.files.clone(),
        refused: mentions.refused.clone(),
        attached: Vec::new(),
    };
    for (name, body) in &mentions.files {
        let mut end = 0;
        for line in body.split_inclusive('\n') {
            if end + line.len() > per_file {
                break;
            }
            end += line.len();
        }
        let kept = &body[..end];
        let left = body[end..].lines().count();
        let mut excerpt = kept.to_string();
        if left > 0 {
            excerpt.push_str(&format!("[… {left} more lines left out]\n"));
        }
        out.prompt.push_str("\n\n");
        out.prompt
            .push_str(&block(name, &excerpt, language(Path::new(name))));
        out.attached
            .push(format!("{name} (excerpt: {})", size(kept)));
    }
    out
}

/// A prompt with its `@path` mentions attached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mentions {
    /// The prompt as typed, then each attached file fenced under its name.
    pub prompt: String,
    /// (path as written, text) of each attached file.
    pub files: Vec<(String, String)>,
    /// "src/lib.rs (7 lines, ~28 tokens)", one per file.
    pub attached: Vec<String>,
    /// Mentions of files that exist but could not be attached, with the reason.
    pub refused: Vec<String>,
}

/// Attach the files that `@path` words of `text` name under `root` (a directory: its files,
/// `.gitignore` respected). A word whose path is not there (`@team`, an e-mail address)
/// stays plain text.
pub fn mentions(text: &str, root: &Path) -> Mentions {
    let mut m = Mentions {
        prompt: text.to_string(),
        ..Mentions::default()
    };
    let mut parts = Vec::new();
    for word in text.split_whitespace() {
        let Some(rel) = word.strip_prefix('@') else {
            continue;
        };
        let rel = rel.trim_end_matches([',', ';', '?', '!', ')']);
        let path = root.join(rel);
        if rel.is_empty() {
            continue;
        }
        let files = if rel.contains(['*', '?', '[']) {
            match glob_files(root, rel) {
                Ok(files) if files.is_empty() => {
                    m.refused.push(format!("@{rel}: no file matches"));
                    continue;
                }
                Ok(files) => files,
                Err(reason) => {
                    m.refused.push(format!("@{rel}: {reason}"));
                    continue;
                }
            }
        } else if path.is_file() {
            vec![(rel.to_string(), path)]
        } else if path.is_dir() {
            match dir_files(root, &path) {
                Ok(files) => files,
                Err(reason) => {
                    m.refused.push(format!("@{rel}: {reason}"));
                    continue;
                }
            }
        } else {
            continue;
        };
        for (name, path) in files {
            if m.files.iter().any(|(p, _)| *p == name) {
                continue;
            }
            match read(&path) {
                Ok(body) => {
                    parts.push(block(&name, &body, language(&path)));
                    m.attached.push(format!("{name} ({})", size(&body)));
                    m.files.push((name, body));
                }
                Err(reason) => m.refused.push(reason),
            }
        }
    }
    for p in parts {
        m.prompt.push_str("\n\n");
        m.prompt.push_str(&p);
    }
    m
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn at_paths_attach_files_and_leave_other_words_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "fn f() {}\n").unwrap();
        std::fs::write(dir.path().join("blob.bin"), b"\0\0\0").unwrap();
        let m = mentions(
            "why is @src/lib.rs slow? ask @team, mail a@b.c, see @blob.bin",
            dir.path(),
        );
        assert_eq!(
            m.files,
            vec![("src/lib.rs".to_string(), "fn f() {}\n".to_string())]
        );
        assert!(m.prompt.starts_with("why is @src/lib.rs slow?"));
        assert!(
            m.prompt.ends_with("src/lib.rs:\n```rust\nfn f() {}\n```"),
            "{}",
            m.prompt
        );
        assert_eq!(
            m.attached,
            vec!["src/lib.rs (1 line, ~3 tokens)".to_string()]
        );
        assert!(m.refused[0].contains("looks binary"), "{:?}", m.refused);
        assert!(mentions("no mentions here", dir.path()).files.is_empty());
    }

    #[test]
    fn a_glob_attaches_the_files_it_matches() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/a")).unwrap();
        std::fs::write(dir.path().join("src/a/x.rs"), "x\n").unwrap();
        std::fs::write(dir.path().join("src/y.rs"), "y\n").unwrap();
        std::fs::write(dir.path().join("src/z.py"), "z\n").unwrap();
        let m = mentions("check @src/**/*.rs", dir.path());
        let names: Vec<&str> = m.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["src/a/x.rs", "src/y.rs"]);
        let m = mentions("check @src/*.go", dir.path());
        assert_eq!(m.refused, ["@src/*.go: no file matches"]);
    }

    #[test]
    fn a_directory_attaches_its_files_as_git_would_see_them() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(src.join("gen")).unwrap();
        std::fs::write(src.join(".gitignore"), "gen/\n*.log\n").unwrap();
        std::fs::write(src.join("b.rs"), "fn b() {}\n").unwrap();
        std::fs::write(src.join("a.rs"), "fn a() {}\n").unwrap();
        std::fs::write(src.join("run.log"), "noise\n").unwrap();
        std::fs::write(src.join("gen/out.rs"), "generated\n").unwrap();
        let m = mentions("review @src", dir.path());
        let names: Vec<&str> = m.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["src/a.rs", "src/b.rs"], "{:?}", m.attached);
        // Too big a directory is named, not half attached.
        for i in 0..=MAX_DIR_FILES {
            std::fs::write(src.join(format!("f{i}.rs")), "x\n").unwrap();
        }
        let m = mentions("review @src", dir.path());
        assert!(m.files.is_empty());
        assert!(
            m.refused[0].starts_with("@src: more than 100 files"),
            "{:?}",
            m.refused
        );
    }
}
