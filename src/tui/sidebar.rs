//! The sidebar: today's gauge (spent solid, held lighter, coloured by what the running
//! answer is expected to cost), the key's own limit, the month, spend per model against its
//! share, each model's latency, success and circuit, the last 14 days and what routing saved.
//! Reads the app; changes nothing.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Gauge, Paragraph, Sparkline, Wrap};

use super::app::App;
use crate::money::Usd;

/// The budget's colour: spent plus what the running answer is expected to cost, against
/// 50 / 80 / 95 % of today's limit (held worst cases do not colour it).
pub(super) fn calm_style(app: &App, b: &crate::core::BudgetSnapshot, expected: Usd) -> Style {
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

pub(super) fn draw(frame: &mut Frame<'_>, app: &App, area: Rect) {
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
                s.latency_ms
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

pub(super) fn short(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}
