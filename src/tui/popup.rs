//! Popups over the screen (help, the model picker, conversations, the quit question) and
//! the boxes other parts draw theirs in. Reads the app; changes nothing.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, PickerPurpose, Popup};

/// A popup's frame: accent borders and a title.
pub(super) fn popup_block(app: &App, title: Span<'static>) -> Block<'static> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.accent)
        .title(title)
}

/// `lines` in a popup frame over whatever is at `r`.
pub(super) fn boxed(
    frame: &mut Frame<'_>,
    app: &App,
    r: Rect,
    lines: Vec<Line<'static>>,
    title: Span<'static>,
) {
    frame.render_widget(Clear, r);
    frame.render_widget(Paragraph::new(lines).block(popup_block(app, title)), r);
}

pub(super) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2)).max(10);
    let h = h.min(area.height.saturating_sub(2)).max(3);
    Rect::new(
        area.x + (area.width.saturating_sub(w)) / 2,
        area.y + (area.height.saturating_sub(h)) / 2,
        w,
        h,
    )
}

pub(super) fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let popup_block =
        |title: &str| popup_block(app, Span::styled(format!(" {title} "), app.theme.accent));
    match &app.popup {
        Popup::None => {}
        Popup::Help(top) => {
            use unicode_width::UnicodeWidthStr;
            let rows: Vec<(String, &str)> = super::keymap::Action::ALL
                .iter()
                .map(|a| (app.keymap.keys_for(*a).join(" "), a.describe()))
                .collect();
            // As wide as the longest keys and description need (keys can be rebound).
            let keys_w = rows.iter().map(|(k, _)| k.width()).max().unwrap_or(0) + 2;
            let desc_w = rows.iter().map(|(_, d)| d.width()).max().unwrap_or(0);
            let mut lines = Vec::new();
            for (keys, describe) in &rows {
                let pad = " ".repeat(keys_w.saturating_sub(keys.width()));
                lines.push(Line::from(vec![
                    Span::styled(format!("{keys}{pad}"), app.theme.accent),
                    Span::styled(*describe, app.theme.text),
                ]));
            }
            for text in [
                "/model [name]  /pin [name]  /auto  /pref <0-10>  /explore on|off",
                "/budget <USD>  /stats  /new  /role [name|off]  /undo  /export [file]  /help",
                "@path attaches a file or directory  ·  !command attaches its output",
                "↑/↓ scroll · any other key closes this help",
            ] {
                lines.push(Line::styled(text, app.theme.muted));
            }
            let width = u16::try_from(keys_w + desc_w + 2).unwrap_or(u16::MAX);
            let r = centered(area, width, lines.len() as u16 + 2);
            // Taller than the terminal: scroll (clamped so the end stays reachable).
            let inner_w = usize::from(r.width.saturating_sub(2));
            let total = u16::try_from(wrapped_height(&lines, inner_w)).unwrap_or(u16::MAX);
            let paragraph = Paragraph::new(lines).wrap(Wrap { trim: false });
            let visible = r.height.saturating_sub(2);
            let top = (*top).min(total.saturating_sub(visible));
            let title = if total > visible {
                format!("Keys ({}–{} of {total}, ↑/↓)", top + 1, top + visible)
            } else {
                "Keys".to_string()
            };
            frame.render_widget(Clear, r);
            frame.render_widget(paragraph.scroll((top, 0)).block(popup_block(&title)), r);
        }
        Popup::Picker { purpose, selected } => {
            let title = match purpose {
                PickerPurpose::NextMessage => {
                    "Model for the next message · Enter: next only · p: pin"
                }
                PickerPurpose::Rerun => "Run the last prompt again on…",
            };
            let (first, _, models) = app.picker(*purpose);
            let mut lines = vec![entry_line(app, *selected == 0, &first, "")];
            for (i, (id, name)) in models.iter().enumerate() {
                lines.push(entry_line(app, *selected == i + 1, name, id));
            }
            let r = centered(area, 64, lines.len() as u16 + 2);
            frame.render_widget(Clear, r);
            frame.render_widget(Paragraph::new(lines).block(popup_block(title)), r);
        }
        Popup::Conversations { list, selected } => {
            // When each was last used, so two with the same first prompt can be told apart.
            let tz = crate::calendar::time_zone(None).unwrap_or(jiff::tz::TimeZone::UTC);
            let lines: Vec<Line<'static>> = list
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    entry_line(
                        app,
                        i == *selected,
                        &crate::sanitize::for_terminal(&c.title),
                        &format!(
                            "{} · {} messages",
                            crate::calendar::local_minute(c.updated_ms, &tz),
                            c.messages
                        ),
                    )
                })
                .collect();
            let r = centered(area, 70, lines.len().min(20) as u16 + 2);
            frame.render_widget(Clear, r);
            frame.render_widget(
                Paragraph::new(lines).block(popup_block("Resume a conversation")),
                r,
            );
        }
        Popup::ConfirmAttach {
            mentions, tokens, ..
        } => super::edits::draw_confirm_attach(frame, app, area, mentions, *tokens),
        Popup::Edits { proposals, index } => {
            super::edits::draw(frame, app, area, proposals, *index)
        }
        Popup::ConfirmQuit => {
            let r = centered(area, 50, 3);
            frame.render_widget(Clear, r);
            frame.render_widget(
                Paragraph::new(Line::styled(
                    "An answer is streaming. Quit? (y / any key)",
                    app.theme.warn,
                ))
                .block(popup_block("Quit")),
                r,
            );
        }
    }
}

/// Rows `lines` take when word-wrapped at `width` columns (as `Wrap` does, near enough
/// to size a scroll range).
fn wrapped_height(lines: &[Line<'_>], width: usize) -> usize {
    use unicode_width::UnicodeWidthStr;
    let width = width.max(1);
    lines
        .iter()
        .map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            let (mut rows, mut col) = (1, 0usize);
            for word in text.split_inclusive(' ') {
                let w = word.width();
                if col + w.saturating_sub(1) > width && col > 0 {
                    rows += 1;
                    col = 0;
                }
                col += w;
                while col > width {
                    rows += 1;
                    col -= width;
                }
            }
            rows
        })
        .sum()
}

fn entry_line(app: &App, selected: bool, label: &str, detail: &str) -> Line<'static> {
    let marker = if selected { "▶ " } else { "  " };
    let style = if selected {
        app.theme.accent.add_modifier(Modifier::REVERSED)
    } else {
        app.theme.text
    };
    Line::from(vec![
        Span::styled(format!("{marker}{label:<30}"), style),
        Span::styled(format!(" {detail}"), app.theme.muted),
    ])
}
