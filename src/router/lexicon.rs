//! The router's word lists in one automaton: the intent keyword families
//! ([`super::features::KEYWORDS`]) and the complexity words ([`super::complexity`]'s hard
//! and design words), found in one pass over lower-cased text. A pasted payload is read
//! once for both models instead of once per model. Pure: no IO. Must not import anything
//! outside the router.

use super::features::{FAMILIES, KEYWORDS, is_cjk};

/// What one pass found: distinct keywords per family (in `KEYWORDS` order), and distinct
/// hard and design words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lexicon {
    pub families: [usize; FAMILIES],
    pub hard: usize,
    pub medium: usize,
}

impl Lexicon {
    const ZERO: Lexicon = Lexicon {
        families: [0; FAMILIES],
        hard: 0,
        medium: 0,
    };
}

/// What a pattern counts towards.
#[derive(Debug, Clone, Copy)]
enum Role {
    Family(usize),
    Hard,
    Medium,
}

/// One word of a list: what it counts towards, and whether it must start a word.
#[derive(Debug, Clone, Copy)]
struct Word {
    role: Role,
    word_start: bool,
}

/// One automaton and, per pattern, the list entries it stands for (a word may sit in two
/// lists).
struct Part {
    ac: aho_corasick::AhoCorasick,
    words: Vec<Vec<(usize, Word)>>,
    /// Length in bytes of the shortest pattern.
    shortest: usize,
}

impl Part {
    fn build(entries: &[(String, Word)], take: impl Fn(&str) -> bool, kind: Kind) -> Option<Part> {
        let mut patterns: Vec<&str> = Vec::new();
        let mut words: Vec<Vec<(usize, Word)>> = Vec::new();
        for (id, (text, word)) in entries.iter().enumerate() {
            if !take(text) {
                continue;
            }
            match patterns.iter().position(|p| p == text) {
                Some(at) => words.get_mut(at)?.push((id, *word)),
                None => {
                    patterns.push(text);
                    words.push(vec![(id, *word)]);
                }
            }
        }
        aho_corasick::AhoCorasick::builder()
            .kind(Some(kind))
            .build(&patterns)
            .ok()
            .map(|ac| Part {
                ac,
                words,
                shortest: patterns.iter().map(|p| p.len()).min().unwrap_or(0).max(1),
            })
    }
}

type Kind = aho_corasick::AhoCorasickKind;

/// ASCII words in a full DFA (one table lookup per byte; 400 KB, 1.3 ms to build), read
/// in every text; words in other alphabets in one small DFA per script, each built on the
/// first text that holds a character of its script and read only in such texts. One DFA
/// over all the words took 2.4 MB and 3.6 ms on each process's first decision (CJK and
/// Cyrillic widen its alphabet); one contiguous NFA for the other alphabets cost 70
/// instructions a byte, a third of a decision on Russian prose. Each occurrence of each
/// word is reported by an overlapping search whichever automaton holds it, so splitting
/// the words changes nothing found.
struct Matcher {
    ascii: Part,
    scripts: [Script; SCRIPTS.len()],
    entries: Vec<(String, Word)>,
}

/// The words of one script outside ASCII, and the lead bytes that gate reading them.
struct Script {
    /// Which words belong here: by their first character outside ASCII.
    belongs: fn(char) -> bool,
    /// UTF-8 lead byte of the first character outside ASCII of each word: a text with
    /// none of them holds none of the words.
    leads: Bytes,
    part: std::sync::OnceLock<Option<Part>>,
}

/// The scripts, by first character outside ASCII: Cyrillic; CJK (and whatever else lies
/// past U+2E80); the rest (Latin with diacritics: Vietnamese, Spanish, Portuguese).
const SCRIPTS: [fn(char) -> bool; 3] = [cyrillic, cjk, |c| !cyrillic(c) && !cjk(c)];

fn cyrillic(c: char) -> bool {
    ('\u{400}'..='\u{52f}').contains(&c)
}

fn cjk(c: char) -> bool {
    u32::from(c) >= 0x2E80
}

/// A set of byte values.
#[derive(Default)]
struct Bytes([u64; 4]);

impl Bytes {
    fn insert(&mut self, b: u8) {
        self.0[usize::from(b >> 6)] |= 1 << (b & 63);
    }

    fn meets(&self, other: &Bytes) -> bool {
        self.0.iter().zip(&other.0).any(|(a, b)| a & b != 0)
    }
}

fn first_other(word: &str) -> Option<char> {
    word.chars().find(|c| !c.is_ascii())
}

impl Script {
    fn new(belongs: fn(char) -> bool, entries: &[(String, Word)]) -> Script {
        let mut leads = Bytes::default();
        for (text, _) in entries {
            if let Some(c) = first_other(text).filter(|c| belongs(*c)) {
                let mut buf = [0u8; 4];
                leads.insert(c.encode_utf8(&mut buf).as_bytes()[0]);
            }
        }
        Script {
            belongs,
            leads,
            part: std::sync::OnceLock::new(),
        }
    }

    /// The automaton, if a text with the bytes `present` may hold one of the words (built
    /// on first need).
    fn part_for(&self, present: &Bytes, entries: &[(String, Word)]) -> Option<&Part> {
        if !self.leads.meets(present) {
            return None;
        }
        let belongs = self.belongs;
        self.part
            .get_or_init(|| {
                Part::build(entries, |w| first_other(w).is_some_and(belongs), Kind::DFA)
            })
            .as_ref()
    }
}

fn matcher() -> Option<&'static Matcher> {
    static M: std::sync::OnceLock<Option<Matcher>> = std::sync::OnceLock::new();
    M.get_or_init(|| {
        let entries = entries();
        Some(Matcher {
            ascii: Part::build(&entries, str::is_ascii, Kind::DFA)?,
            scripts: SCRIPTS.map(|belongs| Script::new(belongs, &entries)),
            entries,
        })
    })
    .as_ref()
}

/// Every list entry, in a fixed order (its index is its identity when counting distinct
/// hits), lower-cased as the text it is matched against.
fn entries() -> Vec<(String, Word)> {
    let mut entries: Vec<(String, Word)> = Vec::new();
    for (i, (name, words)) in KEYWORDS.iter().enumerate() {
        for w in *words {
            let first = w.chars().next().unwrap_or(' ');
            let other_alphabet = !first.is_ascii() && first.is_alphabetic() && !is_cjk(first);
            // Keywords were matched ASCII-case-insensitively: the text is lower-cased, so
            // their ASCII letters are too.
            entries.push((
                w.to_ascii_lowercase(),
                Word {
                    role: Role::Family(i),
                    word_start: *name == "writing" || other_alphabet,
                },
            ));
        }
    }
    for (list, role) in [
        (super::complexity::HARD, Role::Hard),
        (super::complexity::MEDIUM, Role::Medium),
    ] {
        for w in list {
            // ASCII words that begin with a letter or digit must start a word.
            let word_start = w.is_ascii() && w.starts_with(|c: char| c.is_alphanumeric());
            entries.push((w.to_string(), Word { role, word_start }));
        }
    }
    entries
}

/// Count list entry `id` once.
fn count(out: &mut Lexicon, seen: &mut [u64], id: usize, role: Role) {
    let (slot, bit) = (id / 64, 1u64 << (id % 64));
    let Some(s) = seen.get_mut(slot) else {
        return;
    };
    if *s & bit != 0 {
        return;
    }
    *s |= bit;
    match role {
        Role::Family(f) => {
            if let Some(n) = out.families.get_mut(f) {
                *n += 1;
            }
        }
        Role::Hard => out.hard += 1,
        Role::Medium => out.medium += 1,
    }
}

thread_local! {
    /// The last text scanned on this thread and what was found: a prompt without a paste
    /// is read by the intent model and the complexity model alike, so the second scan of a
    /// decision is often of the same text.
    static LAST: std::cell::RefCell<(String, Lexicon)> =
        const { std::cell::RefCell::new((String::new(), Lexicon::ZERO)) };
}

/// Distinct list words in `lower` (already lower-cased), each counted once per list entry.
pub fn scan(lower: &str) -> Lexicon {
    let cached = LAST.with(|last| {
        last.try_borrow()
            .ok()
            .filter(|l| !lower.is_empty() && l.0 == lower)
            .map(|l| l.1)
    });
    if let Some(found) = cached {
        return found;
    }
    let found = scan_uncached(lower);
    LAST.with(|last| {
        if let Ok(mut l) = last.try_borrow_mut() {
            l.0.clear();
            l.0.push_str(lower);
            l.1 = found;
        }
    });
    found
}

fn scan_uncached(lower: &str) -> Lexicon {
    let mut out = Lexicon::default();
    let Some(m) = matcher() else {
        return out;
    };
    // Entries already counted, as a bit set (a few hundred entries).
    let mut seen = vec![0u64; m.entries.len().div_ceil(64)];
    if lower.is_ascii() {
        find(&m.ascii, lower, 0..lower.len(), &mut out, &mut seen);
        return out;
    }
    // An ASCII word can only be found inside a run of ASCII bytes: in prose of another
    // alphabet those are spaces and punctuation, mostly too short to hold one. The same
    // pass notes which bytes outside ASCII occur, for the scripts' gates.
    let mut present = Bytes::default();
    let mut run: Option<usize> = None;
    for (i, &b) in lower.as_bytes().iter().enumerate() {
        if b.is_ascii() {
            run.get_or_insert(i);
            continue;
        }
        present.insert(b);
        if let Some(start) = run.take()
            && i - start >= m.ascii.shortest
        {
            find(&m.ascii, lower, start..i, &mut out, &mut seen);
        }
    }
    if let Some(start) = run
        && lower.len() - start >= m.ascii.shortest
    {
        find(&m.ascii, lower, start..lower.len(), &mut out, &mut seen);
    }
    for script in &m.scripts {
        if let Some(part) = script.part_for(&present, &m.entries) {
            find(part, lower, 0..lower.len(), &mut out, &mut seen);
        }
    }
    out
}

/// Count the words of `part` found in `lower[span]` (positions stay those of `lower`).
fn find(
    part: &Part,
    lower: &str,
    span: std::ops::Range<usize>,
    out: &mut Lexicon,
    seen: &mut [u64],
) {
    let input = aho_corasick::Input::new(lower).span(span);
    for hit in part.ac.find_overlapping_iter(input) {
        let Some(words) = part.words.get(hit.pattern().as_usize()) else {
            continue;
        };
        let inside_a_word = lower[..hit.start()]
            .chars()
            .next_back()
            .is_some_and(char::is_alphanumeric);
        for (id, word) in words {
            if !(inside_a_word && word.word_start) {
                count(out, seen, *id, word.role);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_counts_both_lists_and_each_word_once() {
        let l = scan("design a lock-free queue; the design must scale. error, error");
        assert_eq!(l.hard, 1, "{l:?}");
        // "design" twice is one word; "scale" is another.
        assert_eq!(l.medium, 2, "{l:?}");
        let debug = KEYWORDS
            .iter()
            .position(|(n, _)| *n == "debug")
            .unwrap_or(0);
        assert_eq!(l.families[debug], 1, "{l:?}");
    }

    #[test]
    fn words_in_other_alphabets_are_found_beside_ascii_ones() {
        // "设计" (design) sits in the second automaton, read only in non-ASCII text.
        let l = scan("设计 a lock-free queue");
        assert_eq!((l.hard, l.medium), (1, 1), "{l:?}");
        assert_eq!(scan("a lock-free queue").medium, 0);
    }

    #[test]
    fn ascii_words_in_other_prose_keep_their_word_starts() {
        // Read run by run, an ASCII word at either end of the text or glued to a word of
        // another alphabet is judged on the whole text, as before.
        assert_eq!(scan("lock-free очередь").hard, 1);
        assert_eq!(scan("очередь, lock-free").hard, 1);
        assert_eq!(scan("очередьlock-free").hard, 0);
        // "error" may sit inside a word: found between Cyrillic letters too.
        let debug = KEYWORDS
            .iter()
            .position(|(n, _)| *n == "debug")
            .unwrap_or(0);
        assert_eq!(scan("этоerrorздесь").families[debug], 1);
        assert_eq!(scan("это ош, да").families[debug], 0);
    }

    #[test]
    fn the_last_scan_is_remembered_and_never_stale() {
        let a = scan("design a lock-free queue");
        let b = scan("prove it");
        assert_ne!(a, b);
        assert_eq!(scan("design a lock-free queue"), a);
        assert_eq!(scan("design a lock-free queue"), a);
        assert_eq!(scan("prove it"), b);
        assert_eq!(scan(""), Lexicon::default());
    }

    /// What a scan must find, by the definition: every occurrence of every entry, a
    /// word-start entry only where no letter or digit precedes it, each entry once.
    fn naive(lower: &str) -> Lexicon {
        let mut out = Lexicon::default();
        let entries = entries();
        let mut seen = vec![0u64; entries.len().div_ceil(64)];
        for (id, (text, word)) in entries.iter().enumerate() {
            let found = lower.match_indices(text.as_str()).any(|(at, _)| {
                !word.word_start
                    || !lower[..at]
                        .chars()
                        .next_back()
                        .is_some_and(char::is_alphanumeric)
            });
            if found {
                count(&mut out, &mut seen, id, word.role);
            }
        }
        out
    }

    #[test]
    fn words_of_every_script_are_found_as_by_their_definition() {
        let words: Vec<String> = entries().into_iter().map(|(w, _)| w).collect();
        let mut texts: Vec<String> = vec![
            "объясните, почему эта функция возвращает неправильный результат".into(),
            "帮我写一个python函数，读取csv文件并按日期列排序".into(),
            "tính xác suất để tung hai con xúc xắc".into(),
            "¿cómo diseño la arquitectura? ñ é ü".into(),
        ];
        // Every word alone, glued after a letter of each script, and after a space, with a
        // word of each other script beside it.
        for (i, w) in words.iter().enumerate() {
            let other = &words[(i * 7 + 3) % words.len()];
            for glue in ["", "ж", "字", "a", "é", " "] {
                texts.push(format!("{glue}{w} {other}"));
                texts.push(format!("{other}{glue}{w}"));
            }
        }
        for t in &texts {
            assert_eq!(scan_uncached(t), naive(t), "{t:?}");
        }
    }

    #[test]
    fn word_starts_hold_per_list() {
        // "redesign" does not hold the design word at a word start; "unscalable" neither.
        let l = scan("redesign the unscalable parts");
        assert_eq!(l.medium, 0, "{l:?}");
        assert_eq!(scan("").families, [0; FAMILIES]);
    }
}
