//! Search/replace blocks found in an answer, complete ones only: an answer still streaming
//! yields the blocks it has finished. Pure: no IO.

/// One proposed change to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// The path as the model wrote it (relative to the working directory).
    pub path: String,
    /// The text to find (empty: create the file).
    pub search: String,
    pub replace: String,
}

/// A block, or why text shaped like one cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Edit(Block),
    Malformed {
        path: Option<String>,
        reason: String,
    },
}

fn marker(line: &str, ch: char, word: &str) -> bool {
    let t = line.trim();
    let run = t.chars().take_while(|c| *c == ch).count();
    (5..=9).contains(&run) && t[run..].trim() == word
}

/// The line that ends a block (`>>>>>>> REPLACE`): counting these as an answer streams
/// says how many edits are on the way.
pub fn ends_block(line: &str) -> bool {
    marker(line, '>', "REPLACE")
}

fn is_fence(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// A line naming a file: one word with a dot or a slash, stripped of Markdown decoration
/// (`**src/lib.rs**`, `` `src/lib.rs` ``, `src/lib.rs:`).
fn path_of(line: &str) -> Option<String> {
    let t = line
        .trim()
        .trim_matches(|c: char| c == '*' || c == '`' || c == '#' || c == ':' || c.is_whitespace());
    let t = t.strip_prefix("File:").map_or(t, str::trim);
    let plausible = !t.is_empty()
        && !t.contains(char::is_whitespace)
        && (t.contains('.') || t.contains('/'))
        && !t.starts_with("```");
    plausible.then(|| t.to_string())
}

enum State {
    Outside,
    Search(Vec<String>),
    Replace(Vec<String>, Vec<String>),
}

/// The blocks of `text`. With `finished` false (still streaming), a block not yet closed
/// is left for later; with `finished` true it is reported as malformed.
pub fn parse(text: &str, finished: bool) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut path: Option<String> = None;
    let mut state = State::Outside;
    for line in text.lines() {
        state = match state {
            State::Outside => {
                if marker(line, '<', "SEARCH") {
                    State::Search(Vec::new())
                } else {
                    if !is_fence(line)
                        && !line.trim().is_empty()
                        && let Some(p) = path_of(line)
                    {
                        path = Some(p);
                    }
                    State::Outside
                }
            }
            State::Search(mut s) => {
                if marker(line, '=', "") {
                    State::Replace(s, Vec::new())
                } else if marker(line, '<', "SEARCH") || marker(line, '>', "REPLACE") {
                    out.push(Parsed::Malformed {
                        path: path.clone(),
                        reason: "a SEARCH part without its ======= divider".into(),
                    });
                    if marker(line, '<', "SEARCH") {
                        State::Search(Vec::new())
                    } else {
                        State::Outside
                    }
                } else {
                    s.push(line.to_string());
                    State::Search(s)
                }
            }
            State::Replace(s, mut r) => {
                if marker(line, '>', "REPLACE") {
                    out.push(match &path {
                        Some(p) => Parsed::Edit(Block {
                            path: p.clone(),
                            search: joined(&s),
                            replace: joined(&r),
                        }),
                        None => Parsed::Malformed {
                            path: None,
                            reason: "no file name before the block".into(),
                        },
                    });
                    State::Outside
                } else if marker(line, '<', "SEARCH") || marker(line, '=', "") {
                    out.push(Parsed::Malformed {
                        path: path.clone(),
                        reason: "a REPLACE part without its >>>>>>> REPLACE end".into(),
                    });
                    if marker(line, '<', "SEARCH") {
                        State::Search(Vec::new())
                    } else {
                        State::Outside
                    }
                } else {
                    r.push(line.to_string());
                    State::Replace(s, r)
                }
            }
        };
    }
    if finished && !matches!(state, State::Outside) {
        out.push(Parsed::Malformed {
            path,
            reason: "the answer ended inside the block".into(),
        });
    }
    out
}

/// Lines back to text, each ending in a newline (none for no lines).
fn joined(lines: &[String]) -> String {
    lines.iter().map(|l| format!("{l}\n")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = "Rename it:\n\nsrc/lib.rs\n```rust\n<<<<<<< SEARCH\nfn old() {}\n=======\nfn new() {}\n>>>>>>> REPLACE\n```\nDone.";

    #[test]
    fn a_block_names_its_file_and_both_parts() {
        assert_eq!(
            parse(ONE, true),
            vec![Parsed::Edit(Block {
                path: "src/lib.rs".into(),
                search: "fn old() {}\n".into(),
                replace: "fn new() {}\n".into(),
            })]
        );
    }

    #[test]
    fn decorated_paths_and_two_blocks_in_one_fence() {
        let text = "**src/a.py**:\n```python\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n<<<<<<< SEARCH\ny = 1\n=======\n>>>>>>> REPLACE\n```";
        let got = parse(text, true);
        assert_eq!(got.len(), 2);
        for g in &got {
            assert!(
                matches!(g, Parsed::Edit(b) if b.path == "src/a.py"),
                "{g:?}"
            );
        }
        assert!(matches!(&got[1], Parsed::Edit(b) if b.replace.is_empty()));
    }

    #[test]
    fn a_block_still_streaming_waits_and_a_cut_one_is_malformed() {
        let cut = &ONE[..ONE.find("fn new").unwrap_or(0)];
        assert!(parse(cut, false).is_empty());
        assert!(matches!(
            parse(cut, true).as_slice(),
            [Parsed::Malformed { reason, .. }] if reason.contains("ended inside")
        ));
    }

    #[test]
    fn broken_blocks_are_reported_not_guessed() {
        let no_divider = "a.rs\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n";
        assert!(matches!(
            parse(no_divider, true).as_slice(),
            [Parsed::Malformed { reason, .. }] if reason.contains("divider")
        ));
        let no_path = "<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n";
        assert!(matches!(
            parse(no_path, true).as_slice(),
            [Parsed::Malformed { path: None, .. }]
        ));
        assert!(parse("no edits here, just prose.\n```rust\nfn x() {}\n```", true).is_empty());
    }

    proptest::proptest! {
        /// Any text parses without panicking, and each block found is either an edit with
        /// a path or a reason.
        #[test]
        fn never_panics(text in "(<<<<<<< SEARCH\n|=======\n|>>>>>>> REPLACE\n|src/x.rs\n|```\n|[a-z \n]{0,12})*") {
            for p in parse(&text, true) {
                match p {
                    Parsed::Edit(b) => proptest::prop_assert!(!b.path.is_empty()),
                    Parsed::Malformed { reason, .. } => proptest::prop_assert!(!reason.is_empty()),
                }
            }
        }
    }
}
