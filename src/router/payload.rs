//! Instruction and payload apart: what the user asks ("why does this panic?") and what they
//! pasted (code, a diff, a stack trace, compiler errors, a log), found by line statistics and
//! per-language patterns. The intent is read from the instruction; the payload's kind and
//! size are features of their own. Pure: no IO; bounded work (the first lines only).

use serde::{Deserialize, Serialize};

/// What was pasted after (or before, or instead of) the instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadKind {
    #[default]
    None,
    Code,
    Diff,
    /// A runtime stack trace or panic (Python, Rust, Java, Go, JS).
    Trace,
    /// Compiler or type-checker diagnostics (rustc, tsc, gcc/clang, javac).
    CompilerError,
    /// Log lines, test-runner or tool output.
    Log,
}

impl PayloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadKind::None => "none",
            PayloadKind::Code => "code",
            PayloadKind::Diff => "diff",
            PayloadKind::Trace => "trace",
            PayloadKind::CompilerError => "compiler_error",
            PayloadKind::Log => "log",
        }
    }
}

/// A prompt seen as instruction plus payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// The prose the user wrote (possibly empty: a bare paste).
    pub instruction: String,
    /// The pasted part (bounded: at most [`MAX_LINES`] lines are read).
    pub payload: String,
    pub kind: PayloadKind,
    /// Lines of payload (counted within the bounded window).
    pub payload_lines: usize,
    /// The payload's first [`PAYLOAD_HEAD`] bytes, lower-cased: what both models read of it.
    pub payload_head: String,
    /// The router's words in `payload_head`, found once for both models.
    pub payload_words: super::lexicon::Lexicon,
}

/// Bytes of the payload the models read (its start: its kind and vocabulary).
pub const PAYLOAD_HEAD: usize = 2048;

/// Lines read from the start of a prompt, and from its end: a longer paste is judged by
/// its start, its instruction may follow it.
pub const MAX_LINES: usize = 200;
const TAIL_LINES: usize = 20;
const TAIL_BYTES: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Blank,
    Prose,
    Code,
    Diff,
    Trace,
    Compiler,
    Log,
}

fn starts_with_any(s: &str, pats: &[&str]) -> bool {
    pats.iter().any(|p| s.starts_with(p))
}

/// Substrings that mark a line anywhere in it, by kind: one automaton pass per line.
const COMPILER_INSIDE: &[&str] = &[": error TS", ": error: ", ": warning: "];
const TRACE_INSIDE: &[&str] = &[
    "Error: ",
    "Exception: ",
    "Error at ",
    ".go:",
    ".rs:",
    ".py\", line ",
    ".java:",
    ".js:",
    ".ts:",
    "(most recent call last)",
    "core dumped",
    "AddressSanitizer",
    "Invalid read of size",
    "Invalid write of size",
];
const LOG_INSIDE: &[&str] = &[" level=", "HTTP/1.1\" ", " [error] ", " [warn] "];

/// Which of the three kinds of inside-the-line markers `t` holds: (compiler, trace, log).
fn inside(t: &str) -> (bool, bool, bool) {
    static AC: std::sync::OnceLock<Option<aho_corasick::AhoCorasick>> = std::sync::OnceLock::new();
    let Some(ac) = AC
        .get_or_init(|| {
            let all: Vec<&str> = COMPILER_INSIDE
                .iter()
                .chain(TRACE_INSIDE)
                .chain(LOG_INSIDE)
                .copied()
                .collect();
            // A full DFA: one table lookup per byte (short patterns keep it small).
            aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .build(all)
                .ok()
        })
        .as_ref()
    else {
        return (false, false, false);
    };
    let (mut c, mut tr, mut l) = (false, false, false);
    for m in ac.find_iter(t) {
        let id = m.pattern().as_usize();
        if id < COMPILER_INSIDE.len() {
            c = true;
        } else if id < COMPILER_INSIDE.len() + TRACE_INSIDE.len() {
            tr = true;
        } else {
            l = true;
        }
    }
    (c, tr, l)
}

/// A compiler's source excerpt: a line number, spaces, then `| ` (`12 | let x = 1;`).
fn line_number_gutter(t: &str) -> bool {
    let digits = t.bytes().take_while(u8::is_ascii_digit).count();
    let rest = &t[digits..];
    let after_spaces = rest.trim_start_matches(' ');
    digits > 0 && after_spaces.len() < rest.len() && after_spaces.starts_with("| ")
}

/// A timestamp-like start: `2024-05-01`, `12:30:01`, `[2024`, `Jan 02`.
fn timestamped(t: &str) -> bool {
    let b = t.trim_start_matches('[').as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    (digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7))
        || (digits(0..2) && b.get(2) == Some(&b':') && digits(3..5))
        || starts_with_any(
            t,
            &[
                "Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ", "Jul ", "Aug ", "Sep ", "Oct ",
                "Nov ", "Dec ",
            ],
        )
}

/// Line starts, by kind, in priority order (a diagnostic before a trace before a diff
/// header before a log line before code).
const STARTS: [(Line, &[&str]); 5] = [
    (
        Line::Compiler,
        &[
            "error[E",
            "warning[",
            "error: ",
            "warning: ",
            "--> ",
            "= note:",
            "= help:",
            "note: ",
            "help: ",
            "error TS",
        ],
    ),
    (
        Line::Trace,
        &[
            "Traceback (most recent call last)",
            "File \"",
            "at ",
            "thread '",
            "panicked at",
            "goroutine ",
            "panic: ",
            "Caused by:",
            "Exception in thread",
            "stack backtrace:",
            "==",
            "#0 ",
            "#1 ",
            "#2 ",
            "#3 ",
            "Segmentation fault",
            "fatal error:",
            "Uncaught ",
            "RUST_BACKTRACE",
        ],
    ),
    (Line::Diff, &["diff --git", "@@ ", "+++ ", "--- a/"]),
    (
        Line::Log,
        &[
            "[INFO", "[WARN", "[ERROR", "[DEBUG", "INFO ", "WARN ", "ERROR ", "DEBUG ", "FAILED",
            "PASSED", "test ", "running ", "ok ", "npm ERR", "$ ", "> ", "E   ", "Step ", "=>",
        ],
    ),
    (
        Line::Code,
        &[
            "def ", "class ", "fn ", "pub ", "impl ", "use ", "import ", "from ", "#include",
            "package ", "func ", "let ", "const ", "var ", "return ", "if (", "for (", "while (",
            "}", "@", "//", "/*", "*/", "<?php", "SELECT ", "select ", "INSERT ", "UPDATE ",
            "CREATE ", "#!/", "async ", "export ", "public ", "private ", "struct ", "enum ",
            "match ", "print(", "console.", "echo ",
        ],
    ),
];

/// The kind of the highest-priority start `t` begins with. The starts are filed by their
/// first byte, so a line is compared with the few that share its first byte, in priority
/// order (an anchored automaton cost several times as much per line).
fn start_kind(t: &str) -> Option<Line> {
    static BY_FIRST_BYTE: std::sync::OnceLock<Vec<Vec<(&'static str, Line)>>> =
        std::sync::OnceLock::new();
    let table = BY_FIRST_BYTE.get_or_init(|| {
        let mut table = vec![Vec::new(); 256];
        for (kind, list) in STARTS {
            for p in list {
                if let Some(first) = p.bytes().next()
                    && let Some(slot) = table.get_mut(usize::from(first))
                {
                    slot.push((*p, kind));
                }
            }
        }
        table
    });
    let first = t.bytes().next()?;
    table
        .get(usize::from(first))?
        .iter()
        .find(|(p, _)| t.starts_with(p))
        .map(|(_, kind)| *kind)
}

/// `diffy`: the prompt has diff headers, so `+`/`-` lines are diff lines, not bullets.
fn classify_line(line: &str, in_fence: bool, diffy: bool) -> Line {
    let t = line.trim();
    if t.is_empty() {
        return Line::Blank;
    }
    // Markers sit near the start of a diagnostic line; long lines are not read to the end.
    let (compiler_inside, trace_inside, log_inside) = inside(super::features::head(t, 80));
    let start = start_kind(t);
    // Diagnostics and traces first: they often look like prose.
    if start == Some(Line::Compiler)
        || (t.starts_with('|') && t.len() > 1)
        || compiler_inside
        || line_number_gutter(t)
    {
        return Line::Compiler;
    }
    if start == Some(Line::Trace) || (trace_inside && !t.ends_with('?')) {
        return Line::Trace;
    }
    if start == Some(Line::Diff) || (diffy && (line.starts_with('+') || line.starts_with('-'))) {
        return Line::Diff;
    }
    if start == Some(Line::Log) || timestamped(t) || log_inside {
        return Line::Log;
    }
    if in_fence {
        return Line::Code;
    }
    let indented = line.starts_with("    ") || line.starts_with('\t');
    let ends_code = t.ends_with(';')
        || t.ends_with('{')
        || t.ends_with('}')
        // `f(x)` ends code; "dates (ISO 8601)" is prose.
        || (t.ends_with(')') && (indented || !t.contains(" (")))
        || t.ends_with(':') && indented
        || t.ends_with(',') && indented;
    if start == Some(Line::Code) || ends_code {
        return Line::Code;
    }
    // Symbol density, counted only when the ends did not decide.
    let symbols = t.bytes().filter(|b| CODE_SYMBOL[usize::from(*b)]).count();
    // Dense when symbols * 4 > words * 3: words are counted only as far as that needs.
    let words = super::chars::word_count_up_to(t, symbols * 4 / 3 + 1);
    if (indented && symbols > 0) || (symbols * 4 > words.max(1) * 3 && t.len() > 3) {
        return Line::Code;
    }
    Line::Prose
}

/// Bytes that are common in code and rare in prose, as a lookup table.
const CODE_SYMBOL: [bool; 256] = {
    let mut t = [false; 256];
    let symbols = b"{}();=<>[]:#$&|*/\\";
    let mut i = 0;
    while i < symbols.len() {
        t[symbols[i] as usize] = true;
        i += 1;
    }
    t
};

/// The first `n` lines of `text`, as `str::lines` gives them, and where the text after
/// them starts if any is left: one vectorised newline search (core's is bytewise).
fn lines_of(text: &str, n: usize) -> (Vec<&str>, Option<usize>) {
    let mut out = Vec::new();
    let mut from = 0;
    for nl in memchr::memchr_iter(b'\n', text.as_bytes()) {
        if out.len() == n {
            return (out, Some(from));
        }
        let line = &text[from..nl];
        out.push(line.strip_suffix('\r').unwrap_or(line));
        from = nl + 1;
    }
    if from < text.len() {
        if out.len() == n {
            return (out, Some(from));
        }
        out.push(&text[from..]);
    }
    (out, None)
}

/// Split a prompt into the user's instruction and what they pasted.
pub fn split(prompt: &str) -> Split {
    let mut kinds = Vec::new();
    let mut in_fence = false;
    // The head of a long paste, and its last lines: a question after 300 lines of code
    // ("why does this panic?") is the instruction.
    let lines: Vec<&str> = match lines_of(prompt, MAX_LINES) {
        (mut head, Some(end)) => {
            // The rest is read from its last few kilobytes only (bounded work).
            let rest = &prompt[end..];
            let mut from = rest.len().saturating_sub(TAIL_BYTES);
            while !rest.is_char_boundary(from) {
                from += 1;
            }
            let (mut tail, _) = lines_of(&rest[from..], usize::MAX);
            if from > 0 && !tail.is_empty() {
                tail.remove(0); // a cut line
            }
            let keep = tail.len().saturating_sub(TAIL_LINES);
            head.extend(tail.into_iter().skip(keep));
            head
        }
        (all, None) => all,
    };
    let diffy = lines
        .iter()
        .any(|l| l.starts_with("@@ ") || l.starts_with("diff --git") || l.starts_with("+++ "));
    for line in &lines {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            kinds.push(Line::Code);
            continue;
        }
        kinds.push(classify_line(line, in_fence, diffy));
    }
    // A single-line prompt is an instruction unless it is unmistakably a diagnostic.
    let payload_like = |k: Line| !matches!(k, Line::Prose | Line::Blank);
    let payload_count = kinds.iter().filter(|k| payload_like(**k)).count();
    let prose_count = kinds.iter().filter(|k| **k == Line::Prose).count();
    // One code-looking line among prose is prose ("use Vec::new() here?", "parse dates
    // (ISO 8601)"), unless it is unmistakably a diagnostic.
    let diagnostic = kinds
        .iter()
        .any(|k| matches!(k, Line::Trace | Line::Compiler));
    let is_paste = payload_count >= 2
        || (payload_count == 1 && (prose_count == 0 || diagnostic) && lines.len() >= 2)
        || (payload_count == 1 && diagnostic && prose_count == 0);
    if !is_paste {
        return Split {
            instruction: prompt.to_string(),
            payload: String::new(),
            kind: PayloadKind::None,
            payload_lines: 0,
            payload_head: String::new(),
            payload_words: super::lexicon::Lexicon::default(),
        };
    }
    // Prose lines form the instruction; a prose line inside a paste run (a message such as
    // "KeyError: 'user_id'" is caught above; a comment line is not) stays with the paste
    // when both its neighbours are payload.
    let mut instruction = String::new();
    let mut payload = String::new();
    let mut counts = [0usize; 7];
    for (i, (line, k)) in lines.iter().zip(&kinds).enumerate() {
        let prev = i.checked_sub(1).and_then(|j| kinds.get(j)).copied();
        let next = kinds.get(i + 1).copied();
        let surrounded = prev.is_some_and(payload_like) && next.is_some_and(payload_like);
        if *k == Line::Prose && !surrounded {
            if !instruction.is_empty() {
                instruction.push('\n');
            }
            instruction.push_str(line.trim());
        } else if *k != Line::Blank {
            payload.push_str(line);
            payload.push('\n');
            counts[*k as usize] += 1;
        }
    }
    let payload_lines: usize = counts.iter().sum();
    let c = |k: Line| counts[k as usize];
    // A kind needs a share of the paste: one `|x|` closure or "Error: " string in 200 lines
    // of code does not make them a diagnostic.
    let share = |n: usize| n * 5 >= payload_lines.max(1);
    let kind = if c(Line::Compiler) >= 1
        && share(c(Line::Compiler))
        && c(Line::Compiler) >= c(Line::Trace)
    {
        PayloadKind::CompilerError
    } else if c(Line::Trace) >= 1 && share(c(Line::Trace)) {
        PayloadKind::Trace
    } else if c(Line::Diff) >= 2 && c(Line::Diff) * 3 >= payload_lines {
        PayloadKind::Diff
    } else if c(Line::Log) * 2 >= payload_lines.max(1) {
        PayloadKind::Log
    } else if payload_lines > 0 {
        PayloadKind::Code
    } else {
        PayloadKind::None
    };
    let payload_head = super::chars::lowercase(super::features::head(&payload, PAYLOAD_HEAD));
    let payload_words = super::lexicon::scan(&payload_head);
    Split {
        instruction,
        payload,
        kind,
        payload_lines,
        payload_head,
        payload_words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_question_has_no_payload() {
        let s = split("how do I squash my last 4 commits");
        assert_eq!(s.kind, PayloadKind::None);
        assert_eq!(s.instruction, "how do I squash my last 4 commits");
        let s = split("SELECT * FROM users WHERE id = 1 is slow, how do I index it?");
        assert_eq!(s.kind, PayloadKind::None);
    }

    #[test]
    fn code_after_an_instruction_is_a_code_payload() {
        let p = "what does this do\n\ndef retry(n):\n    def wrap(f):\n        @functools.wraps(f)\n        def inner(*a, **k):\n            for i in range(n):\n                try:\n                    return f(*a, **k)\n                except Exception:\n                    pass\n        return inner\n    return wrap\n";
        let s = split(p);
        assert_eq!(s.kind, PayloadKind::Code);
        assert_eq!(s.instruction, "what does this do");
        assert!(s.payload_lines >= 10);
    }

    #[test]
    fn traces_compiler_errors_diffs_and_logs_are_told_apart() {
        let py = "why?\nTraceback (most recent call last):\n  File \"app.py\", line 42, in <module>\n    main()\nKeyError: 'user_id'";
        assert_eq!(split(py).kind, PayloadKind::Trace);
        assert_eq!(split(py).instruction, "why?");
        let rs = "error[E0382]: borrow of moved value: `v`\n --> src/main.rs:6:20\n  |\n4 |     let w = v;\n  |             - value moved here\n";
        assert_eq!(split(rs).kind, PayloadKind::CompilerError);
        assert_eq!(split(rs).instruction, "");
        let diff = "write a commit message for this\ndiff --git a/src/lib.rs b/src/lib.rs\n@@ -1,3 +1,4 @@\n-fn old() {}\n+fn new() {}\n+fn other() {}\n";
        assert_eq!(split(diff).kind, PayloadKind::Diff);
        let log = "pod keeps restarting\n2024-05-01T10:00:01Z INFO starting\n2024-05-01T10:00:02Z ERROR oom\n2024-05-01T10:00:03Z INFO exit 137\n";
        assert_eq!(split(log).kind, PayloadKind::Log);
        let valgrind = "==1234== Invalid read of size 4\n==1234==    at 0x4005F4: main (a.c:7)\n==1234==  Address 0x0 is not stack'd";
        assert_eq!(split(valgrind).kind, PayloadKind::Trace);
    }

    #[test]
    fn a_question_after_a_long_paste_is_the_instruction() {
        let mut p = "let x = compute(1, 2);\n".repeat(400);
        p.push_str("\nwhy does this panic at runtime?");
        let s = split(&p);
        assert_eq!(s.kind, PayloadKind::Code);
        assert_eq!(s.instruction, "why does this panic at runtime?");
        // A remark in parentheses is prose, not code.
        let s = split("Write a function to parse dates (ISO 8601)\nIt should return a Result");
        assert_eq!(s.kind, PayloadKind::None);
        // One closure line does not make a code paste a compiler error.
        let mut code = "fn f() {\n".to_string();
        code.push_str(&"    let y = g(1);\n".repeat(30));
        code.push_str("    v.iter().map(\n        |x| x + 1,\n    );\n}\n");
        assert_eq!(
            split(&format!("refactor this\n{code}")).kind,
            PayloadKind::Code
        );
    }

    #[test]
    fn bounded_on_huge_pastes() {
        let huge = "let x = 1;\n".repeat(100_000);
        let s = split(&huge);
        assert_eq!(s.kind, PayloadKind::Code);
        assert!(s.payload_lines <= MAX_LINES + TAIL_LINES);
    }

    proptest::proptest! {
        /// `lines_of` gives the lines `str::lines` gives, cut after `n`, and says where the
        /// rest starts exactly when lines are left.
        #[test]
        fn lines_of_agrees_with_str_lines(
            text in "[a\\r\\n\u{e9}]{0,40}",
            n in 0usize..8,
        ) {
            let all: Vec<&str> = text.lines().collect();
            let (head, rest) = lines_of(&text, n);
            proptest::prop_assert_eq!(&head[..], &all[..all.len().min(n)]);
            match rest {
                Some(from) => {
                    proptest::prop_assert!(all.len() > n);
                    let rest_lines: Vec<&str> = text[from..].lines().collect();
                    proptest::prop_assert_eq!(&rest_lines[..], &all[n..]);
                }
                None => proptest::prop_assert!(all.len() <= n),
            }
        }
    }
}
