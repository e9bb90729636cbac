//! Word wrapping of styled lines to a width, by display columns (unicode-width), so the
//! transcript knows every cell's height without asking ratatui to lay it out.

use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

/// Wrap one line; words longer than the width are broken. Always returns at least one line.
pub fn wrap(line: &Line<'static>, width: u16) -> Vec<Line<'static>> {
    let width = width.max(1) as usize;
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut col = 0usize;
    // Split every span into words (keeping the spaces) with their style.
    let mut pieces: Vec<(String, ratatui::style::Style)> = Vec::new();
    for span in &line.spans {
        let mut word = String::new();
        for ch in span.content.chars() {
            if ch == ' ' {
                if !word.is_empty() {
                    pieces.push((std::mem::take(&mut word), span.style));
                }
                pieces.push((" ".to_string(), span.style));
            } else {
                word.push(ch);
            }
        }
        if !word.is_empty() {
            pieces.push((word, span.style));
        }
    }
    let push_line = |out: &mut Vec<Line<'static>>, cur: &mut Vec<Span<'static>>| {
        out.push(Line::from(std::mem::take(cur)).style(line.style));
    };
    for (piece, style) in pieces {
        let w: usize = piece.chars().map(|c| c.width().unwrap_or(0)).sum();
        if piece == " " {
            if col < width && col > 0 {
                cur.push(Span::styled(piece, style));
                col += 1;
            } else if col == 0 && out.is_empty() {
                // leading indentation of the first line is kept
                cur.push(Span::styled(piece, style));
                col += 1;
            }
            continue;
        }
        if col + w <= width {
            cur.push(Span::styled(piece, style));
            col += w;
            continue;
        }
        if w <= width && col > 0 {
            // trailing spaces of the finished line are dropped
            while cur.last().is_some_and(|s| s.content == " ") {
                cur.pop();
            }
            push_line(&mut out, &mut cur);
            cur.push(Span::styled(piece, style));
            col = w;
            continue;
        }
        // A word longer than the width: break it by characters.
        let mut chunk = String::new();
        for ch in piece.chars() {
            let cw = ch.width().unwrap_or(0);
            if col + cw > width && col > 0 {
                if !chunk.is_empty() {
                    cur.push(Span::styled(std::mem::take(&mut chunk), style));
                }
                push_line(&mut out, &mut cur);
                col = 0;
            }
            chunk.push(ch);
            col += cw;
        }
        if !chunk.is_empty() {
            cur.push(Span::styled(chunk, style));
        }
    }
    if !cur.is_empty() || out.is_empty() {
        push_line(&mut out, &mut cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn wraps_words_and_breaks_long_ones() {
        let l = Line::from("the quick brown fox jumps");
        assert_eq!(texts(&wrap(&l, 10)), ["the quick", "brown fox", "jumps"]);
        let l = Line::from("abcdefghijklmnop");
        assert_eq!(texts(&wrap(&l, 5)), ["abcde", "fghij", "klmno", "p"]);
        assert_eq!(texts(&wrap(&Line::from(""), 5)), [""]);
        // Wide characters count two columns.
        let l = Line::from("日本語のテキスト");
        assert!(wrap(&l, 6).len() >= 3);
    }

    proptest! {
        #[test]
        fn no_wrapped_line_is_wider_than_the_width(s in "[a-z ]{0,200}", w in 1u16..40) {
            for l in wrap(&Line::from(s.clone()), w) {
                prop_assert!(l.width() <= w as usize, "{:?} at {}", l, w);
            }
        }
    }
}
