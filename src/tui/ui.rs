//! Drawing: banner, transcript, sidebar, status bar, input and popups. A frame is two
//! steps: [`layout`] brings the app's layout state up to date for the frame's size (cell
//! wrapping, page height, scroll anchoring), then [`draw`] reads the app and changes
//! nothing. [`render`] does both.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Gauge, Paragraph, Sparkline, Wrap};

use super::app::{App, Mode, PickerPurpose, Popup};
use super::keymap::Action;
use crate::money::Usd;

const SIDEBAR_WIDTH: u16 = 34;

/// Where each part of the screen goes.
struct Areas {
    banner: Rect,
    main: Rect,
    status: Rect,
    input: Rect,
    transcript: Rect,
    sidebar: Option<Rect>,
}

fn areas(app: &App, area: Rect) -> Areas {
    let input_lines = app.input.lines().len().clamp(1, 6) as u16;
    let banner = u16::from(app.demo);
    let [banner, main, status, input] = Layout::vertical([
        Constraint::Length(banner),
        Constraint::Min(3),
        Constraint::Length(1),
        Constraint::Length(input_lines + 2),
    ])
    .areas(area);
    let (transcript, sidebar) = if app.sidebar_shown(main.width) {
        let [t, s] = Layout::horizontal([Constraint::Min(40), Constraint::Length(SIDEBAR_WIDTH)])
            .areas(main);
        (t, Some(s))
    } else {
        (main, None)
    };
    Areas {
        banner,
        main,
        status,
        input,
        transcript,
        sidebar,
    }
}

/// One frame: [`layout`], then [`draw`].
pub fn render(frame: &mut Frame<'_>, app: &mut App) {
    layout(app, frame.area());
    draw(frame, app);
}

/// Bring what a frame of `area` depends on up to date in the app: the widths and page
/// height the keys use, each cell's wrapping, the scroll position (kept on the lines being
/// read while the transcript grows) and the input's title. Drawing then only reads.
pub fn layout(app: &mut App, area: Rect) {
    let a = areas(app, area);
    app.width = a.main.width;
    let theme = app.theme.clone();
    app.transcript.layout(a.transcript, &theme);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(app.theme.border)
        .title(Span::styled(
            format!(" {} ", app.mode_label()),
            app.theme.accent,
        ));
    app.input.set_block(block);
}

/// Draw the app as [`layout`] left it; changes nothing.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    let a = areas(app, area);
    if app.demo {
        frame.render_widget(
            Paragraph::new(Line::from(vec![Span::styled(
                " DEMO · no API key: answers come from the built-in simulator ",
                app.theme.warn.add_modifier(Modifier::REVERSED),
            )])),
            a.banner,
        );
    }
    app.transcript.draw(frame, a.transcript, &app.theme);
    if let Some(s) = a.sidebar {
        draw_sidebar(frame, app, s);
    }
    draw_status(frame, app, a.status);
    frame.render_widget(&app.input, a.input);
    super::complete::draw(frame, app, a.input);
    draw_popup(frame, app, area);
}

/// The budget's colour: spent plus what the running answer is expected to cost, against
/// 50 / 80 / 95 % of today's limit (held worst cases do not colour it).
fn calm_style(app: &App, b: &crate::core::BudgetSnapshot, expected: Usd) -> Style {
    let f = ratio(b.today.committed.saturating_add(expected), b.limits.daily);
    if f >= 0.95 {
        app.theme.danger.add_modifier(Modifier::BOLD)
    } else if f >= 0.80 {
        app.theme.danger
    } else if f >= 0.50 {
        app.theme.warn
    } else {
        app.theme.ok
    }
}

/// Today's gauge, calm: spent solid, held (reservations, mostly worst cases that will not
/// be billed) lighter, and the colour set by spent + the running answer's expected cost
/// against 50 / 80 / 95 % of the limit, not by the worst case.
fn today_gauge(app: &App, b: &crate::core::BudgetSnapshot, width: u16) -> Paragraph<'static> {
    let limit = b.limits.daily;
    let expected = app.expected_cost();
    let label = if b.today.reserved > Usd::ZERO {
        format!(
            " {} · {} held / {}",
            b.today.committed,
            b.today.reserved,
            limit.exact()
        )
    } else {
        format!(" {} / {}", b.today.committed, limit.exact())
    };
    let colour = calm_style(app, b, expected);
    let w = usize::from(width);
    let cells = |x: Usd| ((ratio(x, limit) * w as f64).round() as usize).min(w);
    let spent = cells(b.today.committed);
    let held = cells(b.today.committed.saturating_add(b.today.reserved)).saturating_sub(spent);
    let mut text: Vec<char> = label.chars().collect();
    text.resize(w.max(text.len()), ' ');
    let span = |from: usize, to: usize, style: Style| {
        Span::styled(
            text[from.min(text.len())..to.min(text.len())]
                .iter()
                .collect::<String>(),
            style,
        )
    };
    Paragraph::new(Line::from(vec![
        span(0, spent, colour.add_modifier(Modifier::REVERSED)),
        span(
            spent,
            spent + held,
            app.theme.muted.add_modifier(Modifier::REVERSED),
        ),
        span(spent + held, w, colour),
    ]))
}

fn ratio(a: Usd, b: Usd) -> f64 {
    if b.nanos() <= 0 {
        1.0
    } else {
        (a.nanos() as f64 / b.nanos() as f64).clamp(0.0, 1.0)
    }
}

fn draw_sidebar(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let block = Block::default()
        .borders(Borders::LEFT)
        .border_style(app.theme.border);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(b) = &app.budget else {
        frame.render_widget(
            Paragraph::new(Span::styled(" budget loading…", app.theme.muted)),
            inner,
        );
        return;
    };
    let n_models = app.models.len() as u16;
    let rows = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(n_models + 1),
        Constraint::Length(1),
        Constraint::Length(n_models + 1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Min(0),
    ])
    .split(inner);
    let title = |s: &str| Paragraph::new(Span::styled(format!(" {s}"), app.theme.accent));
    frame.render_widget(title(&format!("Today {}", b.day)), rows[0]);
    frame.render_widget(today_gauge(app, b, rows[1].width), rows[1]);
    // The OpenRouter key's own limit, shared by everyone using the key.
    if let Some(k) = &b.key {
        let style = if k.left.nanos() <= 0 {
            app.theme.danger
        } else {
            app.theme.muted
        };
        frame.render_widget(
            Paragraph::new(Span::styled(
                format!(" key: {} of {} left", k.left, k.limit),
                style,
            )),
            rows[2],
        );
    }
    frame.render_widget(title("Month"), rows[3]);
    frame.render_widget(
        Gauge::default()
            .gauge_style(app.theme.accent.remove_modifier(Modifier::BOLD))
            .ratio(ratio(b.month.total(), b.limits.monthly))
            .label(format!("{} / {}", b.month.total(), b.limits.monthly)),
        rows[4],
    );
    frame.render_widget(Paragraph::new(share_lines(app, b)), rows[6]);
    frame.render_widget(Paragraph::new(performance_lines(app, b)), rows[8]);
    frame.render_widget(title("Last 14 days"), rows[10]);
    let data: Vec<u64> = b
        .history
        .iter()
        .map(|(_, u)| u.nanos().max(0) as u64 / 1000)
        .collect();
    frame.render_widget(
        Sparkline::default()
            .data(&data)
            .style(app.theme.accent.remove_modifier(Modifier::BOLD)),
        rows[11].inner(ratatui::layout::Margin {
            horizontal: 1,
            vertical: 0,
        }),
    );
    let saved = Paragraph::new(vec![Line::styled(
        format!(
            " saved {} today vs always-{}",
            b.saved_today,
            short(&b.baseline_model)
        ),
        app.theme.ok,
    )])
    .wrap(Wrap { trim: true });
    frame.render_widget(saved, rows[12]);
}

/// Per-model spend against its budget share.
fn share_lines(app: &App, b: &crate::core::BudgetSnapshot) -> Vec<Line<'static>> {
    let mut lines = vec![Line::styled(
        format!(" {:<10} {:>9} {}", "model", "spent", "used/share"),
        app.theme.muted,
    )];
    for (id, name) in &app.models {
        let spent = b
            .per_model
            .iter()
            .find(|m| &m.model == id)
            .map_or(Usd::ZERO, |m| m.spend.total());
        let share = b
            .shares
            .iter()
            .find(|(m, _)| m == id)
            .map_or(0.0, |(_, s)| *s);
        // Both as parts of today's limit: "7%/5%" is 7 % spent against a 5 % share (not
        // capped, so overspending a share shows).
        let used = if b.limits.daily.nanos() > 0 {
            spent.nanos() as f64 / b.limits.daily.nanos() as f64
        } else {
            0.0
        };
        let style = if share > 0.0 && used > share {
            app.theme.warn
        } else {
            app.theme.text
        };
        lines.push(Line::from(vec![
            Span::styled(format!(" {name:<10.10} "), style),
            Span::styled(format!("{:>9}", spent.to_string()), style),
            Span::styled(
                format!(" {:>3.0}%/{:.0}%", used * 100.0, share * 100.0),
                app.theme.muted,
            ),
        ]));
    }
    lines
}

/// Per-model latency, success rate and circuit state.
fn performance_lines(app: &App, b: &crate::core::BudgetSnapshot) -> Vec<Line<'static>> {
    let mut perf = vec![Line::styled(
        " model       latency  ok  state",
        app.theme.muted,
    )];
    for (id, name) in &app.models {
        let s = b.model_stats.iter().find(|m| &m.model == id);
        let (lat, ok) = match s {
            Some(s) => (
                s.latency_p50_ms
                    .map_or("-".into(), |v| format!("{:.1}s", v as f64 / 1000.0)),
                format!("{:.0}%", s.success_rate * 100.0),
            ),
            None => ("-".into(), "-".into()),
        };
        let breaker = b.breakers.iter().find(|(m, _)| m == id).map(|(_, s)| s);
        perf.push(Line::from(vec![
            Span::styled(format!(" {name:<10.10}"), app.theme.text),
            Span::styled(format!("{lat:>7} {ok:>5} "), app.theme.muted),
            match breaker {
                Some(state) => Span::styled(state.to_string(), app.theme.danger),
                None => Span::styled("ok", app.theme.ok),
            },
        ]));
    }
    perf
}

fn short(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

fn draw_status(frame: &mut Frame<'_>, app: &App, area: Rect) {
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
            calm_style(app, b, app.expected_cost()),
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

fn draw_popup(frame: &mut Frame<'_>, app: &App, area: Rect) {
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
            lines.push(Line::styled(
                "/model [name]  /pin [name]  /auto  /pref <0-10>  /explore on|off",
                app.theme.muted,
            ));
            lines.push(Line::styled(
                "/budget <USD>  /stats  /new  /role [name|off]  /undo  /export [file]  /help",
                app.theme.muted,
            ));
            lines.push(Line::styled(
                "@path attaches a file or directory  ·  !command attaches its output",
                app.theme.muted,
            ));
            lines.push(Line::styled(
                "↑/↓ scroll · any other key closes this help",
                app.theme.muted,
            ));
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
