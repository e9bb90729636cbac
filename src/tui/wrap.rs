//! Word wrapping of styled lines to a width, by display columns (unicode-width, grapheme by
//! grapheme: a flag is never split in two), so the transcript knows every cell's height
//! without asking ratatui to lay it out.

use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// Display width as ratatui draws it: grapheme by grapheme (a flag or a ZWJ sequence is
/// one glyph, two columns).
pub fn display_width(s: &str) -> usize {
    s.graphemes(true).map(UnicodeWidthStr::width).sum()
}

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
    // What a continuation line starts with: the code or quote gutter again, or the
    // indentation of a list item's text; never wider than half the width.
    let hang = hanging(line).filter(|h| h.width() * 2 <= width);
    let hang_w = hang.as_ref().map_or(0, Span::width);
    let push_line = |out: &mut Vec<Line<'static>>, cur: &mut Vec<Span<'static>>| {
        out.push(Line::from(std::mem::take(cur)).style(line.style));
        if let Some(h) = &hang {
            cur.push(h.clone());
        }
    };
    // Where text starts on the current line: column 0 on the first, after the hanging
    // prefix on the others.
    let mut start = 0usize;
    for (piece, style) in pieces {
        let w = display_width(&piece);
        if piece == " " {
            if col < width && col > start {
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
        if hang_w + w <= width && col > start {
            // trailing spaces of the finished line are dropped
            while cur.last().is_some_and(|s| s.content == " ") {
                cur.pop();
            }
            push_line(&mut out, &mut cur);
            start = hang_w;
            cur.push(Span::styled(piece, style));
            col = hang_w + w;
            continue;
        }
        // A word longer than the width: break it between graphemes (and a grapheme wider
        // than a line, such as a long Indic conjunct, between its characters).
        let room = width.saturating_sub(hang_w).max(1);
        let units: Vec<&str> = piece
            .graphemes(true)
            .flat_map(|g| {
                if g.width() > room {
                    g.char_indices()
                        .map(|(i, c)| &g[i..i + c.len_utf8()])
                        .collect::<Vec<_>>()
                } else {
                    vec![g]
                }
            })
            .collect();
        let mut chunk = String::new();
        for g in units {
            let cw = g.width();
            if col + cw > width && col > start {
                if !chunk.is_empty() {
                    cur.push(Span::styled(std::mem::take(&mut chunk), style));
                }
                push_line(&mut out, &mut cur);
                start = hang_w;
                col = hang_w;
            }
            chunk.push_str(g);
            col += cw;
        }
        if !chunk.is_empty() {
            cur.push(Span::styled(chunk, style));
        }
    }
    // A continuation that got only its prefix is not a line.
    if out.is_empty() || cur.len() > usize::from(hang.is_some()) {
        out.push(Line::from(cur).style(line.style));
    }
    out
}

/// The prefix a wrapped line's continuations repeat: a code (`│ `) or quote (`▎ `) gutter,
/// or blanks as wide as a list item's indentation and bullet.
fn hanging(line: &Line<'static>) -> Option<Span<'static>> {
    let first = line.spans.first()?;
    match first.content.as_ref() {
        "│ " | "▎ " => return Some(first.clone()),
        "• " => return Some(Span::raw("  ")),
        _ => {}
    }
    let second = line.spans.get(1)?;
    let indent = first.content.chars().all(|c| c == ' ');
    let bullet = second.content == "• "
        || (second.content.ends_with(". ")
            && second.content[..second.content.len() - 2]
                .chars()
                .all(|c| c.is_ascii_digit()));
    (indent && bullet).then(|| Span::raw(" ".repeat(first.width() + second.width())))
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

    #[test]
    fn flags_and_zwj_sequences_are_never_split_and_count_as_drawn() {
        let flags = Line::from("🇩🇪🇫🇷🇯🇵👩‍💻🇩🇪");
        let lines = texts(&wrap(&flags, 4));
        assert_eq!(lines, ["🇩🇪🇫🇷", "🇯🇵👩‍💻", "🇩🇪"]);
        assert_eq!(display_width("👩‍💻"), 2);
        // One grapheme wider than the line is broken between its characters.
        for l in wrap(&Line::from("क्क्क्क्क्क्क"), 3) {
            assert!(l.width() <= 3, "{l:?}");
        }
    }

    #[test]
    fn code_quotes_and_list_items_keep_their_gutter_or_indent_when_wrapped() {
        let code = Line::from(vec![
            Span::raw("│ "),
            Span::raw("let total = items.iter().map(|x| x.price).sum::<u64>();"),
        ]);
        let lines = texts(&wrap(&code, 24));
        assert!(lines.len() > 2, "{lines:?}");
        for l in &lines {
            assert!(l.starts_with("│ "), "{lines:?}");
            assert!(l.chars().count() <= 24, "{lines:?}");
        }
        let item = Line::from(vec![
            Span::raw("  "),
            Span::raw("• "),
            Span::raw("a list item that is long enough to wrap"),
        ]);
        assert_eq!(
            texts(&wrap(&item, 20)),
            ["  • a list item that", "    is long enough", "    to wrap"]
        );
        let quote = Line::from(vec![Span::raw("▎ "), Span::raw("quoted words that wrap")]);
        assert_eq!(texts(&wrap(&quote, 14)), ["▎ quoted words", "▎ that wrap"]);
        // Too narrow for the prefix: plain wrapping.
        assert_eq!(
            texts(&wrap(
                &Line::from(vec![Span::raw("│ "), Span::raw("abcdef")]),
                3
            ))
            .concat(),
            "│ abcdef"
        );
    }

    proptest! {
        #[test]
        fn no_wrapped_line_is_wider_than_the_width(s in "[a-z ]{0,200}", w in 1u16..40) {
            for l in wrap(&Line::from(s.clone()), w) {
                prop_assert!(l.width() <= w as usize, "{:?} at {}", l, w);
            }
            // With a gutter too, and nothing is lost but the blanks at the breaks.
            let code = Line::from(vec![Span::raw("│ "), Span::raw(s.clone())]);
            let wrapped = wrap(&code, w);
            for l in &wrapped {
                prop_assert!(l.width() <= w as usize, "{:?} at {}", l, w);
            }
            let kept: String = texts(&wrapped).concat().chars().filter(|c| *c != ' ' && *c != '│').collect();
            prop_assert_eq!(kept, s.replace(' ', ""));
        }
    }
}
