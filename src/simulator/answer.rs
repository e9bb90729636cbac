//! Deterministic answers that fit the prompt, so the demo looks real: a code request gets
//! a fenced block in the asked language, a math question a worked solution, a design
//! question a structured answer.
//!
//! Pure functions of the prompt text; no IO.

/// An attached file (`NAME:` then a fenced block, as `ask -f` and `@path` attach it): its
/// name, its fence's language tag and its text.
fn attachments(prompt: &str) -> Vec<(String, String, String)> {
    let lines: Vec<&str> = prompt.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < lines.len() {
        let (head, open) = (lines[i], lines[i + 1]);
        let ticks = open.chars().take_while(|c| *c == '`').count();
        if head.ends_with(':') && !head.contains(' ') && ticks >= 3 {
            let fence = &open[..ticks];
            let lang = open[ticks..].trim().to_string();
            let body: Vec<&str> = lines[i + 2..]
                .iter()
                .take_while(|l| l.trim_end() != fence)
                .copied()
                .collect();
            i += 2 + body.len();
            out.push((
                head.trim_end_matches(':').to_string(),
                lang,
                body.join("\n"),
            ));
        }
        i += 1;
    }
    out
}

/// "rename OLD to NEW" / "replace OLD with NEW" over an attached file: search/replace
/// blocks, one per distinct line holding OLD, as a model answers the edit format.
fn edit_answer(prompt: &str) -> Option<String> {
    let instruction = prompt.lines().next()?.to_lowercase();
    let clean = |w: &str| {
        w.trim_matches(|c: char| c == '`' || c == '"' || c == '\'' || c == '.' || c == ',')
            .to_string()
    };
    let words: Vec<&str> = instruction.split_whitespace().collect();
    let (old, new) = words.windows(4).find_map(|w| match w {
        ["rename", old, "to", new] | ["replace", old, "with", new] => {
            Some((clean(old), clean(new)))
        }
        _ => None,
    })?;
    if old.is_empty() || new.is_empty() {
        return None;
    }
    // The words as written (the instruction was lower-cased to find them).
    let find = |w: &str| {
        prompt
            .lines()
            .next()
            .and_then(|l| {
                l.split_whitespace()
                    .map(clean)
                    .find(|x| x.to_lowercase() == w)
            })
            .unwrap_or_else(|| w.to_string())
    };
    let (old, new) = (find(&old), find(&new));
    let (path, lang, body) = attachments(prompt)
        .into_iter()
        .find(|(_, _, body)| body.contains(old.as_str()))?;
    let mut seen = Vec::new();
    let mut blocks = String::new();
    for line in body.lines().filter(|l| l.contains(old.as_str())) {
        if seen.contains(&line) {
            continue;
        }
        seen.push(line);
        blocks.push_str(&format!(
            "{path}\n```{lang}\n<<<<<<< SEARCH\n{line}\n=======\n{}\n>>>>>>> REPLACE\n```\n\n",
            line.replace(old.as_str(), &new)
        ));
    }
    Some(format!(
        "Renaming `{old}` to `{new}` in `{path}`:\n\n{blocks}Each block replaces one line; review them before applying."
    ))
}

/// Compose the answer to the last user message.
pub fn compose(prompt: &str, model_name: &str) -> String {
    if let Some(answer) = edit_answer(prompt) {
        return answer;
    }
    let p = prompt.to_lowercase();
    if let Some(answer) = arithmetic(&p) {
        return answer;
    }
    if is_debug(&p) {
        return debug_answer(prompt);
    }
    if is_code(&p) {
        return code_answer(&p);
    }
    if is_math(&p) {
        return math_answer(prompt);
    }
    if is_design(&p) {
        return design_answer(prompt);
    }
    if is_explain(&p) {
        return explain_answer(prompt);
    }
    general_answer(prompt, model_name)
}

/// Reasoning text for models that stream it (shown dimmed by clients).
pub fn reasoning(prompt: &str) -> String {
    let topic: String = prompt
        .split_whitespace()
        .take(8)
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "The user asks: \"{topic}\". Identify the constraints, compare the options, then \
         answer with a short structure."
    )
}

fn has_any(p: &str, words: &[&str]) -> bool {
    words.iter().any(|w| p.contains(w))
}

fn is_code(p: &str) -> bool {
    has_any(
        p,
        &[
            "write a",
            "function",
            "implement",
            "refactor",
            "code",
            "script",
            "class ",
            "struct",
            "unit test",
            "program",
            "snippet",
            "method",
        ],
    )
}

fn is_debug(p: &str) -> bool {
    has_any(
        p,
        &[
            "error",
            "panic",
            "traceback",
            "stack trace",
            "exception",
            "segfault",
            "fails",
            "failing",
            "doesn't work",
            "does not work",
            "bug",
            "crash",
        ],
    )
}

fn is_math(p: &str) -> bool {
    has_any(
        p,
        &[
            "prove",
            "integral",
            "derivative",
            "equation",
            "complexity",
            "big-o",
            "o(n",
            "probability",
            "matrix",
            "theorem",
            "sum of",
            "algorithm",
        ],
    )
}

fn is_design(p: &str) -> bool {
    has_any(
        p,
        &[
            "design",
            "architecture",
            "architect",
            "scale",
            "trade-off",
            "tradeoff",
            "microservice",
            "system",
            "distributed",
        ],
    )
}

fn is_explain(p: &str) -> bool {
    has_any(
        p,
        &[
            "explain",
            "what is",
            "what's",
            "how does",
            "why does",
            "difference between",
        ],
    )
}

/// `what is 12 * 7` style questions get the actual result.
fn arithmetic(p: &str) -> Option<String> {
    let expr: String = p
        .trim_start_matches("what is")
        .trim_start_matches("compute")
        .trim_start_matches("calculate")
        .trim()
        .trim_end_matches('?')
        .trim()
        .to_string();
    for op in ['+', '-', '*', '/', 'x'] {
        if let Some((a, b)) = expr.split_once(op) {
            let (a, b) = (a.trim().parse::<f64>().ok()?, b.trim().parse::<f64>().ok()?);
            let (r, sym) = match op {
                '+' => (a + b, "+"),
                '-' => (a - b, "−"),
                '*' | 'x' => (a * b, "×"),
                _ if b == 0.0 => return Some("Division by zero is undefined.\n".into()),
                _ => (a / b, "÷"),
            };
            return Some(format!(
                "**{a} {sym} {b} = {r}**\n\nWorked out: take {a}, apply {sym} with {b}, and the \
                 result is {r}.\n"
            ));
        }
    }
    None
}

const LANGS: &[(&str, &str)] = &[
    ("rust", "rust"),
    ("python", "python"),
    ("typescript", "typescript"),
    ("javascript", "javascript"),
    (" js ", "javascript"),
    ("golang", "go"),
    (" go ", "go"),
    ("java ", "java"),
    ("c++", "cpp"),
    ("sql", "sql"),
    ("bash", "bash"),
    ("shell", "bash"),
];

fn language(p: &str) -> &'static str {
    let padded = format!(" {p} ");
    LANGS
        .iter()
        .find(|(k, _)| padded.contains(k))
        .map_or("python", |(_, l)| l)
}

/// A function name from the prompt: "adds two numbers" → add.
fn subject(p: &str) -> (&'static str, &'static str) {
    if has_any(p, &["add", "sum"]) {
        ("add", "Adds two numbers.")
    } else if has_any(p, &["reverse"]) {
        ("reverse", "Reverses a string.")
    } else if has_any(p, &["sort"]) {
        ("sort_items", "Sorts the items in ascending order.")
    } else if has_any(p, &["fibonacci", "fib"]) {
        ("fibonacci", "Returns the n-th Fibonacci number.")
    } else {
        ("solve", "Solves the task described in the request.")
    }
}

fn code_answer(p: &str) -> String {
    let lang = language(p);
    let (name, doc) = subject(p);
    let body = match (lang, name) {
        ("rust", "add") => "/// Adds two numbers.\npub fn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n\n    #[test]\n    fn adds() {\n        assert_eq!(add(2, 3), 5);\n        assert_eq!(add(-4, 4), 0);\n    }\n}".to_string(),
        ("rust", "reverse") => "/// Reverses a string by characters.\npub fn reverse(s: &str) -> String {\n    s.chars().rev().collect()\n}".to_string(),
        ("rust", "fibonacci") => "/// Returns the n-th Fibonacci number.\npub fn fibonacci(n: u32) -> u64 {\n    let (mut a, mut b) = (0u64, 1u64);\n    for _ in 0..n {\n        (a, b) = (b, a + b);\n    }\n    a\n}".to_string(),
        ("rust", _) => format!("/// {doc}\npub fn {name}(input: &[i64]) -> Vec<i64> {{\n    let mut out = input.to_vec();\n    out.sort_unstable();\n    out\n}}"),
        ("python", "add") => "def add(a: float, b: float) -> float:\n    \"\"\"Adds two numbers.\"\"\"\n    return a + b\n\n\nassert add(2, 3) == 5".to_string(),
        ("python", _) => format!("def {name}(items):\n    \"\"\"{doc}\"\"\"\n    return sorted(items)"),
        ("javascript" | "typescript", "add") => "export function add(a, b) {\n  return a + b;\n}".to_string(),
        ("javascript" | "typescript", _) => format!("// {doc}\nexport function {name}(items) {{\n  return [...items].sort((a, b) => a - b);\n}}"),
        ("go", _) => format!("// {name}: {doc}\nfunc {name}(a, b int) int {{\n\treturn a + b\n}}"),
        ("sql", _) => "SELECT customer_id, SUM(amount) AS total\nFROM orders\nGROUP BY customer_id\nORDER BY total DESC;".to_string(),
        ("bash", _) => format!("#!/usr/bin/env bash\nset -euo pipefail\n# {doc}\n{name}() {{\n  echo \"$(( $1 + $2 ))\"\n}}"),
        (_, _) => format!("// {doc}\nint {name}(int a, int b) {{\n    return a + b;\n}}"),
    };
    format!(
        "Here is a small, tested implementation in {lang}:\n\n```{lang}\n{body}\n```\n\n\
         - `{name}` does one thing and has no side effects.\n\
         - Edge cases: empty input and overflow are the ones to watch.\n"
    )
}

fn math_answer(prompt: &str) -> String {
    let topic = first_words(prompt, 10);
    format!(
        "## Worked solution\n\n**Problem.** {topic}\n\n\
         1. State what is given and what is asked.\n\
         2. Reduce it to a known form: for a loop over `n` items with constant work per \
         item the cost is `T(n) = c·n`.\n\
         3. Solve: `T(n) = c·n ∈ O(n)`; with a nested loop it becomes `O(n²)`.\n\n\
         **Answer.** The bound is tight: `Θ(n)` for the single pass.\n"
    )
}

fn design_answer(prompt: &str) -> String {
    let topic = first_words(prompt, 10);
    format!(
        "## Design: {topic}\n\n\
         ### Requirements\n- Functional: the core flows, stated as use cases.\n\
         - Non-functional: latency target, throughput, availability, cost.\n\n\
         ### Components\n| component | responsibility |\n|---|---|\n\
         | API gateway | auth, rate limits |\n| service | business rules |\n\
         | store | durable state (Postgres) |\n| queue | async work |\n\n\
         ### Trade-offs\n- Consistency vs availability: choose per data type.\n\
         - Start with one service; split when a boundary proves itself.\n"
    )
}

fn debug_answer(prompt: &str) -> String {
    let topic = first_words(prompt, 12);
    format!(
        "Let's narrow it down: \"{topic}\".\n\n\
         1. **Reproduce** it with the smallest input that fails.\n\
         2. **Read the first error**, not the last: the root cause is usually at the top \
         of the trace.\n\
         3. **Check the assumption** the failing line makes (a `None`, an index, a type).\n\n\
         ```rust\nlet value = map.get(key).ok_or(Error::Missing(key))?;\n```\n\n\
         Replacing an `unwrap()` with a typed error like this turns a panic into a message.\n"
    )
}

fn explain_answer(prompt: &str) -> String {
    let topic = first_words(prompt, 12);
    format!(
        "**{topic}**, in short:\n\n\
         - *What it is*: the idea in one sentence.\n\
         - *How it works*: the mechanism, step by step.\n\
         - *When to use it*: and when a simpler tool does the job.\n\n\
         > Rule of thumb: understand the data flow first, the syntax second.\n"
    )
}

fn general_answer(prompt: &str, model_name: &str) -> String {
    let topic = first_words(prompt, 12);
    format!(
        "Sure. On \"{topic}\": here is a concise take.\n\n\
         The short answer depends on your goal; tell me more and I can go deeper. \
         (Simulated answer from {model_name}.)\n"
    )
}

fn first_words(s: &str, n: usize) -> String {
    let words: Vec<&str> = s.split_whitespace().take(n).collect();
    let mut out = words.join(" ");
    if s.split_whitespace().count() > n {
        out.push('…');
    }
    out.chars().filter(|c| !c.is_control()).collect()
}

/// The sections a long coding answer cycles through (see [`long_coding_answer`]).
const LONG_ANSWER_SECTIONS: [&str; 4] = [
    "## Step {n}: the storage layer\n\nThe store keeps **each key once** and writes through a \
     small `Cache` in front of the file, so a read after a write never touches the disk. \
     See [the design notes](https://example.com/notes) for why.\n\n\
     ```rust\n/// A key-value store with a write-through cache (step {n}).\n\
     pub struct Store<K, V> {\n    cache: HashMap<K, V>,\n    file: std::fs::File,\n}\n\n\
     impl<K: Hash + Eq + Clone, V: Clone> Store<K, V> {\n    \
     pub fn get(&self, key: &K) -> Option<&V> {\n        self.cache.get(key)\n    }\n\n    \
     pub fn put(&mut self, key: K, value: V) -> std::io::Result<()> {\n        \
     self.cache.insert(key, value);\n        self.file.sync_data()\n    }\n}\n```\n\n",
    "Things to check before step {n} ships:\n\n- every `put` is followed by `sync_data`;\n\
     - a failed write leaves the cache as it was;\n- keys larger than 4 KiB are refused.\n\n\
     ```python\n# The same check from Python (step {n}).\nimport json, sys\n\n\
     def check(path: str) -> int:\n    with open(path) as f:\n        \
     rows = [json.loads(line) for line in f if line.strip()]\n    \
     bad = [r for r in rows if len(r[\"key\"]) > 4096]\n    \
     print(f\"{len(bad)} of {len(rows)} rows are too large\")\n    \
     return 1 if bad else 0\n\nif __name__ == \"__main__\":\n    \
     sys.exit(check(sys.argv[1]))\n```\n\n",
    "Run it with:\n\n```sh\ncargo test --release -- store::step_{n} --nocapture\n\
     grep -c 'too large' target/check-{n}.log | tee -a summary.txt\n```\n\n\
     | case | reads | writes |\n|---|---|---|\n| cold | 12 | 3 |\n| warm {n} | 0 | 3 |\n\n",
    "> Note: step {n} keeps the cache bounded; an unbounded cache would grow with every \
     key ever written, which is the bug this answer is about. In short, *measure* before \
     you tune, and keep the `Store` API small.\n\n",
];

/// A markdown answer of `tokens` tokens: the sections above in turn, numbered, so a long
/// answer is prose, lists, a table and fenced Rust, Python and shell code all the way down.
pub fn long_coding_answer(tokens: usize) -> Vec<String> {
    let mut out = Vec::with_capacity(tokens);
    let mut n = 0usize;
    while out.len() < tokens {
        let section = LONG_ANSWER_SECTIONS[n % LONG_ANSWER_SECTIONS.len()];
        n += 1;
        out.extend(self::tokens(&section.replace("{n}", &n.to_string())));
    }
    out.truncate(tokens);
    out
}

/// Split text into token-like pieces (a word with its leading space), the unit the
/// simulator streams and counts.
pub fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        if (ch == ' ' || ch == '\n') && !cur.is_empty() && !cur.ends_with([' ', '\n']) {
            out.push(std::mem::take(&mut cur));
        }
        cur.push(ch);
        if cur.len() >= 12 && !ch.is_whitespace() {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_coding_answer_has_the_asked_length_and_closed_fences() {
        let t = long_coding_answer(5_000);
        assert_eq!(t.len(), 5_000);
        let text: String = long_coding_answer(20_000).concat();
        for fence in [
            "```rust\n",
            "```python\n",
            "```sh\n",
            "| case |",
            "> Note: step",
        ] {
            assert!(text.matches(fence).count() > 50, "{fence}");
        }
        // Whole sections: every block that opens is closed.
        let whole: String = long_coding_answer(1_000_000).concat();
        let cut = whole.rfind("## Step").unwrap();
        assert_eq!(whole[..cut].matches("```").count() % 2, 0);
        assert!(text.contains("store::step_39 ") && !text.contains("{n}"));
    }

    #[test]
    fn code_request_gets_a_fenced_block_in_the_asked_language() {
        let a = compose("write a rust function that adds two numbers", "m");
        assert!(a.contains("```rust\n/// Adds two numbers.\npub fn add(a: i64, b: i64)"));
        let a = compose("Write a Python function to reverse a string", "m");
        assert!(a.contains("```python\n"));
    }

    #[test]
    fn math_design_and_arithmetic() {
        assert!(compose("what is 12 * 7?", "m").contains("= 84"));
        assert!(
            compose("prove the complexity of merge sort", "m").starts_with("## Worked solution")
        );
        assert!(compose("design a url shortener architecture", "m").contains("### Trade-offs"));
    }

    #[test]
    fn tokens_rejoin_to_the_text() {
        let t = "Hello world,\n  a longer_identifier_here ok";
        assert_eq!(tokens(t).concat(), t);
        assert!(tokens(t).len() >= 5);
    }

    #[test]
    fn answers_are_deterministic() {
        assert_eq!(
            compose("explain closures", "m"),
            compose("explain closures", "m")
        );
    }
}
