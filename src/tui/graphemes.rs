//! Editing the input a grapheme at a time: the text area moves and deletes by `char`, so
//! Backspace after a flag (🇩🇪, two regional indicators) left half of it, a stray glyph, and
//! the cursor could stop inside a ZWJ sequence. Left, Right, Backspace and Delete step over
//! whole graphemes here. Must not import the core, the router or the ledger.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui_textarea::{CursorMove, TextArea};
use unicode_segmentation::UnicodeSegmentation;

/// Characters in the grapheme before (`after == false`) or after the cursor, when that
/// grapheme is more than one character (otherwise the text area's own step is right).
fn cluster_len(input: &TextArea<'_>, after: bool) -> Option<usize> {
    let (row, col) = (input.cursor().0, input.cursor().1);
    let line = input.lines().get(row)?;
    let at = line.char_indices().nth(col).map_or(line.len(), |(i, _)| i);
    let g = if after {
        line[at..].graphemes(true).next()?
    } else {
        line[..at].graphemes(true).next_back()?
    };
    let n = g.chars().count();
    (n > 1).then_some(n)
}

/// Handle `key` if it steps over or deletes a grapheme of several characters; `false`
/// leaves it to the text area.
pub fn key(input: &mut TextArea<'static>, key: &KeyEvent) -> bool {
    // With a selection the keys act on it (delete it, or end it), as the text area does.
    if !key.modifiers.is_empty() || input.is_selecting() {
        return false;
    }
    let after = match key.code {
        KeyCode::Left | KeyCode::Backspace => false,
        KeyCode::Right | KeyCode::Delete => true,
        _ => return false,
    };
    let Some(n) = cluster_len(input, after) else {
        return false;
    };
    let step = if after {
        CursorMove::Forward
    } else {
        CursorMove::Back
    };
    match key.code {
        KeyCode::Left | KeyCode::Right => {
            for _ in 0..n {
                input.move_cursor(step);
            }
        }
        _ => {
            if !after {
                for _ in 0..n {
                    input.move_cursor(CursorMove::Back);
                }
            }
            // One edit: Ctrl-Z brings the whole grapheme back.
            input.delete_str(n);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::KeyModifiers;

    fn press(t: &mut TextArea<'static>, code: KeyCode) {
        let k = KeyEvent::new(code, KeyModifiers::NONE);
        if !key(t, &k) {
            t.input(k);
        }
    }

    #[test]
    fn backspace_delete_and_arrows_take_a_flag_or_zwj_sequence_whole() {
        let mut t = TextArea::new(vec!["a🇩🇪b👩‍💻c".to_string()]);
        t.move_cursor(CursorMove::End);
        press(&mut t, KeyCode::Backspace); // c
        press(&mut t, KeyCode::Backspace); // 👩‍💻 whole
        assert_eq!(t.lines(), ["a🇩🇪b"]);
        press(&mut t, KeyCode::Left); // before b
        press(&mut t, KeyCode::Left); // before the flag, not inside it
        assert_eq!(t.cursor(), (0, 1));
        press(&mut t, KeyCode::Delete);
        assert_eq!(t.lines(), ["ab"]);
        t.undo();
        assert_eq!(t.lines(), ["a🇩🇪b"], "one undo brings the flag back whole");
        t.move_cursor(CursorMove::Head);
        press(&mut t, KeyCode::Right);
        press(&mut t, KeyCode::Right);
        assert_eq!(t.cursor(), (0, 3), "after the flag");
    }
}
