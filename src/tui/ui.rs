//! The frame: where each part goes (banner, transcript, sidebar, status bar, input, popups;
//! each part draws itself from its own file). A frame is two
//! steps: [`layout`] brings the app's layout state up to date for the frame's size (cell
//! wrapping, page height, scroll anchoring), then [`draw`] reads the app and changes
//! nothing. [`render`] does both.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::app::App;

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
    let input_lines = app.composer.input.lines().len().clamp(1, 6) as u16;
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
    app.composer.input.set_block(block);
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
        super::sidebar::draw(frame, app, s);
    }
    super::status::draw(frame, app, a.status);
    frame.render_widget(&app.composer.input, a.input);
    super::complete::draw(frame, app, a.input);
    super::popup::draw(frame, app, area);
}
