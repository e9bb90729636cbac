//! The status bar: routing mode, preference, the stream's state and the budget in one line.
//! Reads the app; changes nothing.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Mode};
use super::keymap::Action;

pub(super) fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let mode_style = match app.mode {
        Mode::Auto => app.theme.ok,
        Mode::Pinned(_) => app.theme.warn,
        Mode::Next(_) => app.theme.accent,
    }
    .add_modifier(Modifier::REVERSED);
    let mut spans = vec![Span::styled(format!(" {} ", app.mode_label()), mode_style)];
    let state = app.stream_state();
    if !state.is_empty() {
        spans.push(Span::styled(format!(" {state} "), app.theme.accent));
    }
    if let Some(b) = &app.budget {
        spans.push(Span::styled(
            format!(" {} / {} ", b.today.committed, b.limits.daily.exact()),
            super::sidebar::calm_style(app, b, app.expected_cost()),
        ));
    }
    let k = |a: Action| app.keymap.keys_for(a).first().cloned().unwrap_or_default();
    let hints = if app.running.is_some() {
        format!("{} cancel · {} quit", k(Action::Cancel), k(Action::Quit))
    } else {
        format!(
            "{} help · {} model · {} pin · {}/{} rate · {} retry",
            k(Action::Help),
            k(Action::Picker),
            k(Action::Pin),
            k(Action::ThumbsUp),
            k(Action::ThumbsDown),
            k(Action::Rerun)
        )
    };
    spans.push(Span::styled(format!(" {hints}"), app.theme.muted));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
