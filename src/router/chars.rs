//! Character classes and lower-casing for the router's hot loops, exactly as the standard
//! library answers them ([`char::is_alphanumeric`], [`str::to_lowercase`]) but from a table
//! filled on first use, one 256-character block of the Basic Multilingual Plane at a time.
//! The standard library binary-searches its Unicode tables for every character outside
//! ASCII: on Cyrillic or Korean prose that was a third of a routing decision. Characters
//! outside the BMP, and the few whose lower case is not one character (or depends on the
//! characters around it, as Greek capital sigma does), take the standard library's path.
//! Pure: no IO. Must not import anything outside the router.

use std::sync::OnceLock;

/// Marks a character whose lower case is not a single character of its own.
const COMPLEX: u32 = u32::MAX;

/// What the table knows of 256 consecutive characters.
struct Block {
    /// Lower case of each character, or [`COMPLEX`].
    lower: [u32; 256],
    /// `is_alphanumeric`, one bit per character.
    alnum: [u64; 4],
}

impl Block {
    fn fill(block: u32) -> Box<Block> {
        let mut b = Box::new(Block {
            lower: [COMPLEX; 256],
            alnum: [0; 4],
        });
        for i in 0..256u32 {
            let Some(ch) = char::from_u32(block << 8 | i) else {
                continue;
            };
            if ch.is_alphanumeric() {
                b.alnum[(i / 64) as usize] |= 1 << (i % 64);
            }
            let mut lower = ch.to_lowercase();
            if let (Some(l), None, false) = (lower.next(), lower.next(), ch == 'Σ') {
                b.lower[i as usize] = u32::from(l);
            }
        }
        b
    }
}

/// The BMP's 256 blocks, each filled when first asked for.
static BLOCKS: [OnceLock<Box<Block>>; 256] = [const { OnceLock::new() }; 256];

fn block(ch: char) -> Option<&'static Block> {
    let code = u32::from(ch);
    let slot = BLOCKS.get((code >> 8) as usize)?;
    Some(slot.get_or_init(|| Block::fill(code >> 8)))
}

/// `ch.is_alphanumeric()`, by table outside ASCII.
#[inline]
pub fn is_alnum(ch: char) -> bool {
    if ch.is_ascii() {
        return ch.is_ascii_alphanumeric();
    }
    match block(ch) {
        Some(b) => {
            let i = u32::from(ch) & 0xff;
            b.alnum[(i / 64) as usize] & (1 << (i % 64)) != 0
        }
        None => ch.is_alphanumeric(),
    }
}

/// `s.to_lowercase()`, by table outside ASCII.
pub fn lowercase(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(s.len());
    // The block of the last character outside ASCII: prose stays in one alphabet.
    let mut last: Option<(u32, &Block)> = None;
    for ch in s.chars() {
        if ch.is_ascii() {
            out.push(ch.to_ascii_lowercase());
            continue;
        }
        let code = u32::from(ch);
        let b = match last {
            Some((at, b)) if at == code >> 8 => Some(b),
            _ => block(ch),
        };
        last = b.map(|b| (code >> 8, b));
        match b
            .map(|b| b.lower[(code & 0xff) as usize])
            .and_then(char::from_u32)
        {
            Some(l) => out.push(l),
            // Outside the BMP, several characters, or context: the standard library's answer
            // for the whole string (sigma looks at its neighbours).
            None => return s.to_lowercase(),
        }
    }
    out
}

/// How a byte reads when counting words.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ByteClass {
    Word,
    Space,
    /// A UTF-8 continuation byte: part of the character before.
    Continuation,
    /// A lead byte that may begin a Unicode space (U+0085, U+00A0; U+1680; U+2000–U+205F;
    /// U+3000): decoded.
    MaybeSpace,
}

const BYTE_CLASS: [ByteClass; 256] = {
    let mut t = [ByteClass::Word; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b as u8 {
            // `char::is_whitespace` counts the vertical tab, `u8::is_ascii_whitespace` does not.
            b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' => ByteClass::Space,
            0x80..=0xbf => ByteClass::Continuation,
            0xc2 | 0xe1 | 0xe2 | 0xe3 => ByteClass::MaybeSpace,
            _ => ByteClass::Word,
        };
        b += 1;
    }
    t
};

/// `s.split_whitespace().count()`, one table lookup per byte: only the few lead bytes that
/// can begin a Unicode space are decoded.
pub fn word_count(s: &str) -> usize {
    word_count_up_to(s, usize::MAX)
}

/// [`word_count`], but counting stops at `cap` (the answer is `min(count, cap)`): a caller
/// that compares the count with a bound need not read the whole text.
pub fn word_count_up_to(s: &str, cap: usize) -> usize {
    let (mut words, mut after_space) = (0, true);
    if cap == 0 {
        return 0;
    }
    for (i, byte) in s.bytes().enumerate() {
        let space = match BYTE_CLASS[usize::from(byte)] {
            ByteClass::Word => false,
            ByteClass::Space => true,
            // Part of the character before: nothing changes.
            ByteClass::Continuation => after_space,
            ByteClass::MaybeSpace => s
                .get(i..)
                .and_then(|rest| rest.chars().next())
                .is_some_and(char::is_whitespace),
        };
        if after_space && !space {
            words += 1;
            if words >= cap {
                return words;
            }
        }
        after_space = space;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bmp_character_answers_as_the_standard_library_does() {
        for code in 0..=0xFFFFu32 {
            let Some(ch) = char::from_u32(code) else {
                continue;
            };
            assert_eq!(is_alnum(ch), ch.is_alphanumeric(), "{code:#x}");
            let s = ch.to_string();
            assert_eq!(lowercase(&s), s.to_lowercase(), "{code:#x}");
        }
        for ch in ['𝔸', '𐐀', '😀', '🇩'] {
            assert_eq!(is_alnum(ch), ch.is_alphanumeric());
            assert_eq!(lowercase(&ch.to_string()), ch.to_string().to_lowercase());
        }
    }

    #[test]
    fn words_count_as_split_whitespace_does() {
        let mut all = String::new();
        for code in (0..=0x3100u32).chain([0xFEFF, 0x1F600]) {
            let Some(ch) = char::from_u32(code) else {
                continue;
            };
            for s in [format!("a{ch}b"), format!("{ch}"), format!("{ch}{ch} x")] {
                assert_eq!(word_count(&s), s.split_whitespace().count(), "{code:#x}");
            }
            all.push(ch);
        }
        assert_eq!(word_count(&all), all.split_whitespace().count());
        let n = all.split_whitespace().count();
        for cap in [0, 1, 2, n / 2, n, n + 1] {
            assert_eq!(word_count_up_to(&all, cap), n.min(cap), "{cap}");
        }
        for s in [
            "",
            "   ",
            "один  два\u{3000}три\u{a0}четыре",
            "x\u{b}y\u{c}z\u{85}w",
            "设计 ARCH",
        ] {
            assert_eq!(word_count(s), s.split_whitespace().count(), "{s:?}");
        }
    }

    #[test]
    fn strings_lower_as_the_standard_library_does_context_included() {
        for s in [
            "ΟΔΟΣ ΣΟΦΙΑΣ",
            "Σ",
            "Объясните ПОЧЕМУ, Ёжик",
            "İstanbul ve IĞDIR",
            "Straße ẞ Ǆemal",
            "Tính XÁC SUẤT",
            "设计 ARCHITECTURE 𐐀𐐁",
            "",
            "plain ascii TEXT",
        ] {
            assert_eq!(lowercase(s), s.to_lowercase(), "{s}");
        }
    }
}
