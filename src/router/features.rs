//! Prompt features for the learned intent model and the replay router: lower-cased words,
//! code symbols, bigrams and a few shape flags, hashed (FNV-1a) into a fixed number of
//! buckets. Bounded work: only the first and last words of a long prompt are used.

/// Number of hash buckets (a power of two).
pub const BUCKETS: usize = 1 << 15;
/// Words read from the start and the end of a prompt.
const HEAD_WORDS: usize = 400;
const TAIL_WORDS: usize = 150;

fn fnv(bytes: &[u8], seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn bucket(h: u64) -> u32 {
    (h as usize & (BUCKETS - 1)) as u32
}

/// Split into lower-case words and single code-symbol tokens.
fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        // CJK scripts have no spaces: every character is a token (bigrams follow).
        if (ch as u32) >= 0x2E80 && ch.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(ch.to_string());
            continue;
        }
        if ch.is_alphanumeric() || ch == '_' || ch == '\'' {
            cur.extend(ch.to_lowercase());
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if "{}();=<>$^\\*+/#[]|:`!?.,%&@~".contains(ch) {
                out.push(ch.to_string());
            }
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Keyword families (aho-corasick would pay off with hundreds of patterns; with ~70 short
/// ones over a bounded prefix a linear scan is faster to build and as fast to run). Each hit
/// is one more feature, weighted by the learned model.
pub const KEYWORDS: &[(&str, &[&str])] = &[
    (
        "debug",
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
            "wrong",
            "broken",
            "undefined",
            "fix",
            "hangs",
            "flaky",
            "why does my",
            "not working",
            "denied",
        ],
    ),
    (
        "math",
        &[
            "prove",
            "proof",
            "integral",
            "derivative",
            "equation",
            "complexity",
            "big-o",
            "o(n",
            "probability",
            "matrix",
            "theorem",
            "solve",
            "compute",
            "calculate",
        ],
    ),
    (
        "reasoning",
        &[
            "design",
            "architecture",
            "architect",
            "trade-off",
            "tradeoff",
            "scalab",
            "microservice",
            "distributed",
            "system",
            "strategy",
            "compare",
            "migrate",
            "plan",
        ],
    ),
    (
        "code",
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
            "```",
            "def ",
            "fn ",
        ],
    ),
    (
        "explain",
        &[
            "explain",
            "what is",
            "what's the difference",
            "how does",
            "how do",
            "why is",
            "difference between",
            "what does",
            "walk me through",
            "mean",
        ],
    ),
];

/// Sparse features: (bucket, weight), L2-normalised.
pub fn features(text: &str) -> Vec<(u32, f32)> {
    let toks = tokens(text);
    let picked: Vec<&String> = if toks.len() > HEAD_WORDS + TAIL_WORDS {
        toks[..HEAD_WORDS]
            .iter()
            .chain(toks[toks.len() - TAIL_WORDS..].iter())
            .collect()
    } else {
        toks.iter().collect()
    };
    let mut f: Vec<(u32, f32)> = Vec::with_capacity(picked.len() * 2 + 8);
    for (i, t) in picked.iter().enumerate() {
        f.push((bucket(fnv(t.as_bytes(), 1)), 1.0));
        // Sub-word pieces for words outside ASCII (inflected languages share stems).
        if !t.is_ascii() {
            let chars: Vec<char> = t.chars().collect();
            for w in chars.windows(3) {
                let piece: String = w.iter().collect();
                f.push((bucket(fnv(piece.as_bytes(), 6)), 0.5));
            }
        }
        if let Some(next) = picked.get(i + 1) {
            let mut h = fnv(t.as_bytes(), 2);
            h = fnv(next.as_bytes(), h);
            f.push((bucket(h), 1.0));
        }
    }
    // Shape flags.
    let lines = text.lines().count();
    let flags: [(&str, bool); 7] = [
        ("flag:fence", text.contains("```")),
        ("flag:short", toks.len() < 12),
        ("flag:long", toks.len() > 300),
        ("flag:multiline", lines > 5),
        ("flag:question", text.trim_end().ends_with('?')),
        (
            "flag:trace",
            text.contains("Traceback")
                || text.contains("panicked at")
                || text.contains("error[E")
                || text.contains("Exception"),
        ),
        (
            "flag:digits",
            text.chars().filter(char::is_ascii_digit).count() > 6,
        ),
    ];
    for (name, on) in flags {
        if on {
            f.push((bucket(fnv(name.as_bytes(), 3)), 2.0));
        }
    }
    let head: String = text
        .chars()
        .take(2000)
        .flat_map(char::to_lowercase)
        .collect();
    for (family, words) in KEYWORDS {
        let hits = words.iter().filter(|w| head.contains(*w)).count();
        if hits > 0 {
            let name = format!("kw:{family}");
            f.push((bucket(fnv(name.as_bytes(), 5)), 1.5 * hits.min(3) as f32));
        }
    }
    f.push((bucket(fnv(b"bias", 4)), 1.0));
    f.sort_unstable_by_key(|x| x.0);
    let mut merged: Vec<(u32, f32)> = Vec::with_capacity(f.len());
    for (b, w) in f {
        match merged.last_mut() {
            Some(last) if last.0 == b => last.1 += w,
            _ => merged.push((b, w)),
        }
    }
    let norm = merged
        .iter()
        .map(|(_, w)| w * w)
        .sum::<f32>()
        .sqrt()
        .max(1e-6);
    for x in &mut merged {
        x.1 /= norm;
    }
    merged
}

/// A stable 64-bit hash of a string (frozen train/test splits).
pub fn stable_hash(s: &str) -> u64 {
    fnv(s.as_bytes(), 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_normalised_sorted_and_bounded() {
        let f = features("Why does this borrow fail? fn main() { let x = &mut v; }");
        assert!(f.windows(2).all(|w| w[0].0 < w[1].0));
        let n: f32 = f.iter().map(|(_, w)| w * w).sum();
        assert!((n - 1.0).abs() < 1e-4);
        let huge = "word ".repeat(100_000);
        assert!(features(&huge).len() < 2 * (HEAD_WORDS + TAIL_WORDS) + 16);
        assert_eq!(features("same text"), features("same text"));
    }
}
