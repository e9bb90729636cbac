//! Prompt features for the learned intent model and the replay router: lower-cased words,
//! code symbols, bigrams, keyword families (several languages) and a few shape flags, plus a
//! second block of character 4-grams from the start of the prompt; hashed (FNV-1a) into a
//! fixed number of buckets. Bounded work: only the first and last words of a long prompt are
//! used. Pure: no IO, nothing of the terminal.

/// Number of hash buckets (a power of two).
pub const BUCKETS: usize = 1 << 15;
/// Words read from the start and the end of a prompt.
const HEAD_WORDS: usize = 360;
const TAIL_WORDS: usize = 140;

fn fnv(bytes: &[u8], seed: u64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// [`fnv`] of the same bytes under three seeds, in one pass: three independent chains of
/// multiplications run side by side where three calls would wait on each other.
fn fnv3(bytes: &[u8], seeds: [u64; 3]) -> [u64; 3] {
    let mut h = seeds.map(|s| 0xcbf2_9ce4_8422_2325 ^ s);
    for b in bytes {
        for x in &mut h {
            *x ^= u64::from(*b);
            *x = x.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

fn bucket(h: u64) -> u32 {
    (h as usize & (BUCKETS - 1)) as u32
}

/// The code symbols that are tokens of their own, as a table (a lookup per character,
/// not a search of the list).
const SYMBOL: [bool; 128] = {
    let mut t = [false; 128];
    let symbols = b"{}();=<>$^\\*+/#[]|:`!?.,%&@~";
    let mut i = 0;
    while i < symbols.len() {
        t[symbols[i] as usize] = true;
        i += 1;
    }
    t
};

/// Token byte ranges in `lower` (already lower-cased): words, single code symbols, and
/// single CJK characters, at most `limit` of them. No allocation per token.
fn token_ranges(lower: &str, limit: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity((lower.len() / 4).min(limit));
    let mut start: Option<usize> = None;
    for (i, ch) in lower.char_indices() {
        if out.len() >= limit {
            return out;
        }
        let cjk = is_cjk(ch);
        let word = !cjk && (super::chars::is_alnum(ch) || ch == '_' || ch == '\'');
        if word {
            start.get_or_insert(i);
            continue;
        }
        if let Some(s) = start.take() {
            out.push((s, i));
        }
        if cjk || (ch.is_ascii() && SYMBOL[ch as usize]) {
            out.push((i, i + ch.len_utf8()));
        }
    }
    if let Some(s) = start {
        out.push((s, lower.len()));
    }
    out
}

/// Keyword families, matched in one aho-corasick pass over the prompt's window. Each
/// family's presence is one more feature, weighted by the learned model. Patterns of the
/// writing family and words in other alphabets (Cyrillic, Vietnamese) only count at the
/// start of a word ("verse" not in "reverse", "story" not in "history"); the other English
/// patterns match anywhere ("error" in "TypeError"); CJK has no word breaks.
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
            // The same in the other languages users write in (Chinese, Russian, Japanese,
            // Vietnamese): word problems and proofs are common there too.
            "求解",
            "求出",
            "证明",
            "计算",
            "概率",
            "方程",
            "已知",
            "解方程",
            "最大值",
            "最小值",
            "面积",
            "整数",
            "实数",
            "数列",
            "极限",
            "积分",
            "导数",
            "矩阵",
            "реши",
            "докаж",
            "вычисл",
            "уравнени",
            "вероятност",
            "найди",
            "интеграл",
            "производн",
            "числ",
            "задач",
            "確率",
            "証明",
            "求め",
            "方程式",
            "tính",
            "chứng minh",
            "phương trình",
            "xác suất",
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
            " vs ",
            " vs. ",
            "versus",
            "should i use",
            "should we",
            "or just",
            "worth it",
            "pros and cons",
            "which is better",
            // The same in other languages (design, architecture, choose, should).
            "设计",
            "架构",
            "方案",
            "应该",
            "还是",
            "選ぶ",
            "設計",
            "アーキテクチャ",
            "どちら",
            "べき",
            "entwerf",
            "architektur",
            "sollten",
            "설계",
            "아키텍처",
            "할까요",
            "проектир",
            "архитектур",
            "выбрать",
            "стоит ли",
            "diseñ",
            "arquitectura",
            "debería",
            "concevoir",
            "conception",
            "projetar",
            "arquitetura",
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
    (
        // Creative and other writing (a `general` cue), in several languages.
        "writing",
        &[
            "story",
            "poem",
            "novel",
            "essay",
            "fiction",
            "chapter",
            "lyrics",
            "screenplay",
            "roleplay",
            "role-play",
            "narrative",
            "dialogue",
            "haiku",
            "sonnet",
            "verse",
            "fairy tale",
            "tale",
            "rewrite",
            "slogan",
            "speech",
            "blog post",
            "commit message",
            "commit msg",
            "pr description",
            "pull request description",
            "release notes",
            "changelog",
            "translate",
            "email to",
            "better name",
            "mensagem de commit",
            "descrição",
            "mensaje de commit",
            "commit-nachricht",
            "提交信息",
            "コミットメッセージ",
            "коммит",
            "小说",
            "故事",
            "诗歌",
            "写诗",
            "文章",
            "剧本",
            "续写",
            "作文",
            "书名",
            "写一",
            "散文",
            "歌词",
            "角色",
            "情节",
            "章节",
            "第一章",
            "рассказ",
            "историю про",
            "историю о ",
            "стих",
            "сказк",
            "роман",
            "сочинени",
            "напиши",
            "придумай",
            "сюжет",
            "персонаж",
            "глава",
            "письмо",
            "物語",
            "小説",
            "詩を",
            "書いて",
            "truyện",
            "bài thơ",
            "câu chuyện",
        ],
    ),
];

/// Chinese, Japanese and Korean characters (written without spaces between words).
pub(super) fn is_cjk(ch: char) -> bool {
    (ch as u32) >= 0x2E80 && super::chars::is_alnum(ch)
}

/// Number of keyword families.
pub const FAMILIES: usize = 6;

/// Distinct keywords per family (in `KEYWORDS` order) in `lower` (already lower-cased).
pub fn keyword_hits(lower: &str) -> [usize; FAMILIES] {
    super::lexicon::scan(lower).families
}

/// The first `n` bytes of `s`, cut on a character boundary.
pub fn head(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut end = n;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The last `n` bytes of `s`, cut on a character boundary.
fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut start = s.len() - n;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

/// Bytes at the start read for character 4-grams, and their weight.
const CHAR_GRAM_BYTES: usize = 1500;
/// Share of the character-gram block next to the word block (both of unit length): chosen
/// by 4-fold cross-validation on the train split (`codeforge eval train` prints it).
const CHAR_GRAM_SHARE: f32 = 1.0;

/// Bytes read from each end of a prompt: enough for the head and tail word windows.
const HEAD_BYTES: usize = 1536;
const TAIL_BYTES: usize = 512;

/// Scratch space for merging features: a dense accumulator over the buckets and the list
/// of buckets touched, reused by each thread so that a call allocates only its result.
struct Scratch {
    dense: Vec<f32>,
    touched: Vec<u32>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch {
        dense: vec![0.0; BUCKETS],
        touched: Vec::with_capacity(1024),
    });
}

impl Scratch {
    /// Add a positive weight (every feature weight is positive, so a zero slot is untouched).
    fn add(&mut self, b: u32, w: f32) {
        debug_assert!(w > 0.0, "feature weights are positive");
        let slot = &mut self.dense[b as usize];
        if *slot == 0.0 {
            self.touched.push(b);
        }
        *slot += w;
    }

    /// The merged features in first-touch order, L2-normalised; leaves the scratch empty.
    fn drain(&mut self) -> Vec<(u32, f32)> {
        self.drain_with(|w| w)
    }

    fn drain_with(&mut self, tf: impl Fn(f32) -> f32) -> Vec<(u32, f32)> {
        let mut out = Vec::with_capacity(self.touched.len());
        let mut norm = 0f32;
        for b in self.touched.drain(..) {
            let slot = &mut self.dense[b as usize];
            let w = tf(*slot);
            norm += w * w;
            out.push((b, w));
            *slot = 0.0;
        }
        let norm = norm.sqrt().max(1e-6);
        for x in &mut out {
            x.1 /= norm;
        }
        out
    }
}

/// A text as the models read it: the whole of a short one, the first and last kilobytes of
/// a long one, and that window lower-cased. Made once per decision: the intent model's
/// features, the complexity signals and the follow-up test all read it.
pub struct Window<'a> {
    /// The window, as written.
    pub text: std::borrow::Cow<'a, str>,
    /// The window, lower-cased.
    pub lower: String,
    /// Length of the whole text in bytes.
    pub len: usize,
}

impl<'a> Window<'a> {
    pub fn of(text: &'a str) -> Window<'a> {
        let len = text.len();
        let text = if len > HEAD_BYTES + TAIL_BYTES {
            std::borrow::Cow::Owned(format!(
                "{}\n{}",
                head(text, HEAD_BYTES),
                tail(text, TAIL_BYTES)
            ))
        } else {
            std::borrow::Cow::Borrowed(text)
        };
        let lower = super::chars::lowercase(&text);
        Window { text, lower, len }
    }
}

/// Sparse features: (bucket, weight), each bucket once, L2-normalised. Work is bounded:
/// only the first and last few kilobytes of a long prompt are read.
pub fn features(text: &str) -> Vec<(u32, f32)> {
    features_of(&Window::of(text))
}

/// [`features`] of a text's window already made.
pub fn features_of(window: &Window) -> Vec<(u32, f32)> {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => features_into(window, &mut s),
        // Re-entered on this thread (not done today): use a fresh scratch.
        Err(_) => features_into(
            window,
            &mut Scratch {
                dense: vec![0.0; BUCKETS],
                touched: Vec::new(),
            },
        ),
    })
}

fn features_into(window: &Window, acc: &mut Scratch) -> Vec<(u32, f32)> {
    // Left dirty only if an earlier call on this thread unwound half-way.
    if !acc.touched.is_empty() {
        acc.drain();
    }
    let (text, lower, text_len) = (window.text.as_ref(), window.lower.as_str(), window.len);
    let ranges = token_ranges(lower, usize::MAX);
    let n_tokens = ranges.len();
    let picked: &mut dyn Iterator<Item = &(usize, usize)> = if n_tokens > HEAD_WORDS + TAIL_WORDS {
        &mut ranges[..HEAD_WORDS]
            .iter()
            .chain(ranges[n_tokens - TAIL_WORDS..].iter())
    } else {
        &mut ranges.iter()
    };
    let mut prev: Option<u64> = None;
    // The opening words say what is asked ("why", "write", "what does", "design"): the
    // first two tokens and their pair also count as positional features.
    let opening: Vec<&[u8]> = ranges
        .iter()
        .take(2)
        .map(|(a, b)| &lower.as_bytes()[*a..*b])
        .collect();
    if let Some(first) = opening.first() {
        acc.add(bucket(fnv(first, 15)), 1.0);
        if let Some(second) = opening.get(1) {
            acc.add(bucket(fnv(second, fnv(first, 16))), 1.0);
        }
    }
    for (a, b) in picked {
        let t = &lower.as_bytes()[*a..*b];
        // The word, its bigram with the previous word (seeded by that word's hash) and its
        // own hash as the next word's seed.
        let [word_hash, bigram_hash, next_seed] = fnv3(t, [1, prev.unwrap_or(0), 2]);
        acc.add(bucket(word_hash), 1.0);
        // Sub-word pieces (three characters) for words outside ASCII: inflected languages
        // share stems.
        if !t.is_ascii() {
            let word = &lower[*a..*b];
            let mut starts = [0usize; 4];
            for (n, (i, _)) in word.char_indices().chain([(word.len(), ' ')]).enumerate() {
                starts[n % 4] = i;
                if n >= 3 {
                    let from = starts[(n - 3) % 4];
                    acc.add(bucket(fnv(&word.as_bytes()[from..i], 6)), 0.5);
                }
            }
        }
        // Bigram with the previous token: seeded by the previous token's hash.
        if prev.is_some() {
            acc.add(bucket(bigram_hash), 1.0);
        }
        prev = Some(next_seed);
    }
    shape_flags(text, n_tokens, text_len, acc);
    // Keyword families: one automaton pass over the (lower-cased) window.
    for (family, hits) in KEYWORD_FEATURES.iter().zip(keyword_hits(lower)) {
        if hits > 0 {
            acc.add(bucket(fnv(family.as_bytes(), 5)), 1.0);
        }
    }
    acc.add(bucket(fnv(b"bias", 4)), 1.0);
    // Presence, not counts: a word repeated fifty times is not fifty times the evidence
    // (chosen by cross-validation over raw, log and square-root counts).
    let words = acc.drain_with(|w| w.min(1.0));
    char_grams(lower, acc);
    // The two blocks, each of unit length, the grams at a fixed share.
    let grams = acc.drain_with(|w| w.min(1.0));
    for (b, w) in words {
        acc.add(b, w);
    }
    for (b, w) in grams {
        acc.add(b, w * CHAR_GRAM_SHARE);
    }
    acc.drain()
}

/// Shape flags of the (windowed) text: a fence, short, long, many lines, a question, a
/// trace, many digits.
fn shape_flags(text: &str, n_tokens: usize, text_len: usize, acc: &mut Scratch) {
    let lines = text.lines().count();
    let flags: [(&[u8], bool); 7] = [
        (b"flag:fence", text.contains("```")),
        (b"flag:short", n_tokens < 12),
        (
            b"flag:long",
            n_tokens > 300 || text_len > HEAD_BYTES + TAIL_BYTES,
        ),
        (b"flag:multiline", lines > 5),
        (b"flag:question", text.trim_end().ends_with('?')),
        (
            b"flag:trace",
            text.contains("Traceback")
                || text.contains("panicked at")
                || text.contains("error[E")
                || text.contains("Exception"),
        ),
        (
            b"flag:digits",
            text.bytes().filter(u8::is_ascii_digit).count() > 6,
        ),
    ];
    for (name, on) in flags {
        if on {
            acc.add(bucket(fnv(name, 3)), 1.0);
        }
    }
}

/// Character 4-grams of longer words (and runs of CJK characters) near the start, with
/// word boundaries: morphology and spelling variants, in any language.
fn char_grams(lower: &str, acc: &mut Scratch) {
    let mut chars = [0usize; 5];
    let mut run = 0usize;
    let start = head(lower, CHAR_GRAM_BYTES);
    for (i, ch) in start.char_indices().chain([(start.len(), ' ')]) {
        if super::chars::is_alnum(ch) {
            chars[run % 5] = i;
            run += 1;
            if run >= 4 {
                let from = chars[(run - 4) % 5];
                let to = i + ch.len_utf8();
                // Inner grams; the first gram of a word is marked as a prefix.
                let seed = if run == 4 { 8 } else { 9 };
                acc.add(bucket(fnv(&start.as_bytes()[from..to], seed)), 1.0);
            }
        } else {
            if run >= 4 {
                // The last gram marked as a suffix.
                let from = chars[(run - 4) % 5];
                acc.add(bucket(fnv(&start.as_bytes()[from..i], 10)), 1.0);
            }
            run = 0;
        }
    }
}

/// Share of the payload block next to the instruction block (both of unit length).
const PAYLOAD_SHARE: f32 = 0.6;
/// Payload words read (from its start): its kind and vocabulary, not its whole text.
const PAYLOAD_WORDS: usize = 120;

/// Features of a whole prompt: the instruction's features (as [`features`]), and, when
/// something was pasted, a second block for the payload: its kind, its size and its words
/// under their own hashes, so that a pasted decorator does not make "what does this do" a
/// code request. One pass of [`super::payload::split`] over the bounded start.
pub fn prompt_features(prompt: &str) -> Vec<(u32, f32)> {
    let split = super::payload::split(prompt);
    prompt_features_of(&split, prompt)
}

/// [`prompt_features`] for a prompt already split.
pub fn prompt_features_of(split: &super::payload::Split, prompt: &str) -> Vec<(u32, f32)> {
    use super::payload::PayloadKind;
    let text = if split.kind == PayloadKind::None {
        prompt
    } else {
        &split.instruction
    };
    prompt_features_in(split, &Window::of(text))
}

/// [`prompt_features`] for a prompt already split, its instruction's window already made
/// (the instruction is the whole prompt when nothing was pasted).
pub fn prompt_features_in(split: &super::payload::Split, window: &Window) -> Vec<(u32, f32)> {
    use super::payload::PayloadKind;
    let instruction = features_of(window);
    if split.kind == PayloadKind::None {
        return instruction;
    }
    SCRATCH.with(|s| {
        let mut fresh;
        let mut guard = s.try_borrow_mut();
        let acc: &mut Scratch = match guard.as_deref_mut() {
            Ok(acc) => acc,
            Err(_) => {
                fresh = Scratch {
                    dense: vec![0.0; BUCKETS],
                    touched: Vec::new(),
                };
                &mut fresh
            }
        };
        if !acc.touched.is_empty() {
            acc.drain();
        }
        acc.add(bucket(fnv(split.kind.as_str().as_bytes(), 11)), 1.0);
        let size = match split.payload_lines {
            0..=3 => b"p:lines:few".as_slice(),
            4..=20 => b"p:lines:some",
            21..=80 => b"p:lines:many",
            _ => b"p:lines:huge",
        };
        acc.add(bucket(fnv(size, 11)), 1.0);
        if split.instruction.trim().is_empty() {
            acc.add(bucket(fnv(b"p:bare", 11)), 1.0);
        }
        let lower = &split.payload_head;
        for (a, b) in token_ranges(lower, PAYLOAD_WORDS)
            .iter()
            .take(PAYLOAD_WORDS)
        {
            acc.add(bucket(fnv(&lower.as_bytes()[*a..*b], 12)), 1.0);
        }
        for (family, hits) in KEYWORD_FEATURES.iter().zip(split.payload_words.families) {
            if hits > 0 {
                acc.add(bucket(fnv(family.as_bytes(), 13)), 1.0);
            }
        }
        let payload = acc.drain_with(|w| w.min(1.0));
        for (b, w) in instruction {
            acc.add(b, w);
        }
        for (b, w) in payload {
            acc.add(b, w * PAYLOAD_SHARE);
        }
        acc.drain()
    })
}

/// Feature names of the keyword families, in `KEYWORDS` order.
const KEYWORD_FEATURES: [&str; FAMILIES] = [
    "kw:debug",
    "kw:math",
    "kw:reasoning",
    "kw:code",
    "kw:explain",
    "kw:writing",
];

/// The bucket of a named feature (a model's extra inputs, such as complexity signals).
pub fn named_bucket(name: &[u8]) -> u32 {
    bucket(fnv(name, 14))
}

/// A stable 64-bit hash of a string (frozen train/test splits).
pub fn stable_hash(s: &str) -> u64 {
    fnv(s.as_bytes(), 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_hashes_in_one_pass_are_the_three_hashes() {
        for t in ["", "a", "функция", "设计", "fn main() { }"] {
            let seeds = [1, 0xdead_beef, 2];
            assert_eq!(
                fnv3(t.as_bytes(), seeds),
                seeds.map(|s| fnv(t.as_bytes(), s))
            );
        }
    }

    #[test]
    fn features_are_normalised_unique_and_bounded() {
        let f = features("Why does this borrow fail? fn main() { let x = &mut v; }");
        let mut buckets: Vec<u32> = f.iter().map(|x| x.0).collect();
        buckets.sort_unstable();
        buckets.dedup();
        assert_eq!(buckets.len(), f.len(), "each bucket once");
        let n: f32 = f.iter().map(|(_, w)| w * w).sum();
        assert!((n - 1.0).abs() < 1e-4);
        let huge = "word ".repeat(100_000);
        assert!(features(&huge).len() < 2 * (HEAD_WORDS + TAIL_WORDS) + 16);
        assert_eq!(features("same text"), features("same text"));
        // The keyword feature names follow the families.
        for (name, (family, _)) in KEYWORD_FEATURES.iter().zip(KEYWORDS) {
            assert_eq!(*name, format!("kw:{family}"));
        }
        assert_eq!(KEYWORD_FEATURES.len(), KEYWORDS.len());
    }

    #[test]
    fn every_keyword_fits_the_seen_set() {
        let n: usize = KEYWORDS.iter().map(|(_, w)| w.len()).sum();
        assert!(n < 512, "{n} patterns");
        // The last pattern of the last family still counts.
        let (_, last) = KEYWORDS[KEYWORDS.len() - 1];
        let hits = keyword_hits(&last[last.len() - 1].to_lowercase());
        assert!(hits[KEYWORDS.len() - 1] >= 1, "{hits:?}");
    }

    #[test]
    fn keywords_respect_word_starts_where_words_have_them() {
        let family = |name: &str| KEYWORDS.iter().position(|(n, _)| *n == name).unwrap();
        let (writing, math, debug) = (family("writing"), family("math"), family("debug"));
        assert_eq!(keyword_hits("write a short story about a fox")[writing], 1);
        assert_eq!(keyword_hits("reverse a linked list in place")[writing], 0);
        assert_eq!(keyword_hits("the commit history is messy")[writing], 0);
        assert_eq!(keyword_hits("plot it with matplotlib")[writing], 0);
        // English cues of the older families still match inside words.
        assert_eq!(keyword_hits("typeerror: x is not a function")[debug], 1);
        // Chinese: "why is this function's return value none?" is not a math cue; solving
        // an equation is.
        assert_eq!(keyword_hits("这个函数的返回值为什么是 none?")[math], 0);
        assert_eq!(keyword_hits("求解方程 x^2 = 4")[math], 3);
        // Russian stems match at the start of a word only.
        assert_eq!(keyword_hits("реши уравнение")[math], 2);
        assert_eq!(keyword_hits("перерешить")[math], 0);
    }
}
