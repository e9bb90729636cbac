//! The terminal UI. Renders state and turns keys into core ops. It knows the core only
//! through `core::protocol` (route cards, outcomes, conversations arrive in events): it
//! never names `router`, `ledger`, `budget` or `provider` (checked by tests/architecture.rs).
//!
//! Must not be imported by `router`, `provider`, `ledger`, `config` or `core`.

pub mod ansi;
pub mod app;
pub mod cells;
mod complete;
pub mod composer;
mod edits;
mod graphemes;
pub mod highlight;
pub mod history;
pub mod keymap;
pub mod markdown;
mod memory;
mod popup;
mod roles;
mod sidebar;
mod slash;
mod status;
pub mod table;
pub mod theme;
pub mod transcript;
pub mod ui;
pub mod wrap;

use std::io::Write;
use std::time::Duration;

use crossterm::event::{
    DisableBracketedPaste, DisableMouseCapture, EnableBracketedPaste, EnableMouseCapture,
    Event as TermEvent, EventStream,
};
use futures::StreamExt;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::core::{self, Op, Session};
use app::{App, Command};
use keymap::Keymap;
use theme::Theme;

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("{0}")]
    Setup(String),
    /// A theme or key binding the config names wrongly.
    #[error("{0}")]
    Config(String),
    #[error("terminal error: {0}")]
    Terminal(#[from] std::io::Error),
}

/// The theme and key bindings the config names, or an error naming the config file, the
/// line and the key (`codeforge config show` checks them too, so a typo is found before the
/// TUI starts).
pub fn check_config(config: &Config) -> Result<(Theme, Keymap), String> {
    let text = std::fs::read_to_string(&config.config_file).unwrap_or_default();
    let at = |key: &str| match crate::config::line_of(&text, key) {
        Some(line) => format!(
            "invalid config {}:{line}: key `{key}`",
            config.config_file.display()
        ),
        None => format!(
            "invalid config {}: key `{key}`",
            config.config_file.display()
        ),
    };
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let theme = Theme::load(&config.theme, &config.paths.themes_dir(), no_color)
        .map_err(|e| format!("{}: {e}", at("ui.theme")))?;
    let keymap = Keymap::with_overrides(&config.keys)
        .map_err(|(name, e)| format!("{}: {e}", at(&format!("keys.{name}"))))?;
    Ok((theme, keymap))
}

/// (id, short name) of every catalog model, in catalog order: what the app lists.
pub fn model_names(catalog: &crate::catalog::Catalog) -> Vec<(String, String)> {
    catalog
        .models()
        .iter()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect()
}

/// Build the app state from the config (theme, keys, catalog names).
pub fn build_app(config: &Config, session: &Session) -> Result<App, TuiError> {
    let (theme, keymap) = check_config(config).map_err(TuiError::Config)?;
    let mut app = App::new(
        theme,
        keymap,
        session.backend.demo,
        model_names(&session.backend.catalog),
    );
    app.preference = session.preference;
    app.explore = session.explore;
    app.base_system = session.system.clone();
    app.roles = config.roles.clone();
    app.attach_confirm_tokens = config.attach_confirm_tokens;
    app.composer.history = history::History::load(config.paths.data_dir.join("history.jsonl"));
    if let Some(text) = &session.instructions {
        app.note(text);
    }
    app.root = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    // Listed once in the background, for `@` completion.
    app.files = Some(crate::project_files::SharedIndex::spawn(app.root.clone()));
    app.undo = Some(crate::edits::UndoLog::new(
        config.paths.data_dir.join("undo.json"),
    ));
    if let Some(w) = config.insecure_warning() {
        app.warn(&w);
    }
    Ok(app)
}

fn restore_terminal() {
    let _ = crossterm::execute!(
        std::io::stdout(),
        DisableBracketedPaste,
        DisableMouseCapture
    );
    ratatui::restore();
}

/// Run the TUI until the user quits.
pub async fn run(config: Config, demo: bool, resume_last: bool) -> Result<(), TuiError> {
    let session = Session::open(config.clone(), demo)
        .await
        .map_err(|e| TuiError::Setup(e.to_string()))?;
    let mut app = build_app(&config, &session)?;
    let resume = if resume_last {
        session
            .ledger
            .call(|l| l.last_conversation())
            .await
            .map_err(|e| TuiError::Setup(e.to_string()))?
    } else {
        None
    };
    tokio::task::spawn_blocking(highlight::warm_up);
    let (op_tx, op_rx) = mpsc::unbounded_channel();
    let (ev_tx, mut ev_rx) = mpsc::unbounded_channel();
    let core_task = tokio::spawn(core::drive(session, resume, op_rx, ev_tx));

    // ratatui::init installs a panic hook that restores the terminal; ours also turns off
    // bracketed paste and mouse capture first.
    let mut terminal = ratatui::init();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(
            std::io::stdout(),
            DisableBracketedPaste,
            DisableMouseCapture
        );
        previous(info);
    }));
    crossterm::execute!(std::io::stdout(), EnableBracketedPaste, EnableMouseCapture)?;
    // A run killed with SIGKILL leaves the alternate screen as it was; start from a blank
    // one rather than drawing over its leftovers.
    terminal.clear()?;

    let result = event_loop(&mut terminal, &mut app, &op_tx, &mut ev_rx).await;
    restore_terminal();
    let _ = op_tx.send(Op::Quit);
    // Let the core settle a cancelled stream before the process ends.
    let _ = tokio::time::timeout(Duration::from_secs(3), core_task).await;
    result
}

/// The frame tick: at most one draw per tick while something changes.
const FRAME: Duration = Duration::from_millis(16);

/// Core events taken in one pass of the event loop before keys are looked at again (while
/// idle; a stream's events are taken all at once on each frame tick).
const CORE_EVENTS_PER_PASS: usize = 256;

/// Terminal input read by a task of its own and passed on through a channel. crossterm's
/// `EventStream` takes its reader lock on every poll (spinning when a waiting thread holds
/// it); polled from the event loop's `select!`, that happened on every core event. In its
/// own task it is polled only when input has arrived.
struct Input {
    rx: mpsc::UnboundedReceiver<std::io::Result<TermEvent>>,
    task: tokio::task::JoinHandle<()>,
}

impl Input {
    fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            let mut stream = EventStream::new();
            while let Some(ev) = stream.next().await {
                if tx.send(ev).is_err() {
                    return;
                }
            }
        });
        Self { rx, task }
    }

    /// Stop reading (and drop the reader) before another program takes the terminal.
    async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    op_tx: &mpsc::UnboundedSender<Op>,
    ev_rx: &mut mpsc::UnboundedReceiver<core::Event>,
) -> Result<(), TuiError> {
    let mut input = Input::start();
    // Frames are coalesced: at most one draw per tick, however many deltas arrived. While a
    // stream runs, its events are taken on the tick too: one wake-up per frame, not per token.
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    #[cfg(unix)]
    let mut term_signal =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut last_elapsed_draw = std::time::Instant::now();
    let (shell_tx, mut shell_rx) = mpsc::unbounded_channel();
    terminal.draw(|f| ui::render(f, app))?;
    loop {
        #[cfg(unix)]
        let sigterm = term_signal.recv();
        #[cfg(not(unix))]
        let sigterm = std::future::pending::<Option<()>>();
        let mut typed = false;
        let commands = tokio::select! {
            ev = input.rx.recv() => match ev {
                Some(Ok(TermEvent::Key(k))) => { typed = true; app.on_key(k) }
                Some(Ok(TermEvent::Paste(p))) => app.on_paste(&p),
                Some(Ok(TermEvent::Mouse(m))) => { app.on_mouse(m.kind); Vec::new() }
                Some(Ok(TermEvent::Resize(_, _))) => { app.dirty = true; Vec::new() }
                Some(Ok(_)) => Vec::new(),
                Some(Err(e)) => return Err(e.into()),
                None => vec![Command::Quit],
            },
            ev = ev_rx.recv(), if app.running.is_none() => match ev {
                Some(ev) => {
                    app.on_core(ev);
                    // Whatever else already arrived goes in the same pass (a stream's
                    // deltas come in bursts), up to a bound so keys are never kept waiting.
                    take_arrived(app, ev_rx, CORE_EVENTS_PER_PASS);
                    Vec::new()
                }
                None => vec![Command::Quit],
            },
            // Idle (nothing streaming, nothing changed) the loop sleeps until a key or an
            // event: no wake-up every frame for nothing.
            _ = tick.tick(), if app.dirty || app.running.is_some() => {
                if app.running.is_some() && !take_arrived(app, ev_rx, usize::MAX) {
                    return Ok(());
                }
                // While waiting for a first token, the elapsed time moves ~10×/s.
                if app.running.is_some() && last_elapsed_draw.elapsed() >= Duration::from_millis(100) {
                    app.dirty = true;
                }
                if app.dirty {
                    draw(terminal, app, &mut last_elapsed_draw)?;
                }
                Vec::new()
            }
            out = shell_rx.recv() => {
                if let Some(out) = out {
                    app.on_shell(out);
                }
                Vec::new()
            }
            _ = sigterm => vec![Command::Quit],
        };
        // A key shows at once, not at the next tick, unless a frame was just drawn (a burst
        // of keys, a paste, still costs at most one frame a tick).
        if typed && app.dirty && last_elapsed_draw.elapsed() >= FRAME {
            draw(terminal, app, &mut last_elapsed_draw)?;
        }
        for c in commands {
            match c {
                Command::Core(op) => {
                    let _ = op_tx.send(op);
                }
                Command::Copy(text) => copy_osc52(&text)?,
                Command::Editor(text) => {
                    // The editor reads the keys now, not our reader.
                    input.stop().await;
                    restore_terminal();
                    let edited = edit_in_editor(&text);
                    *terminal = ratatui::init();
                    crossterm::execute!(
                        std::io::stdout(),
                        EnableBracketedPaste,
                        EnableMouseCapture
                    )?;
                    terminal.clear()?;
                    input = Input::start();
                    match edited {
                        Ok(text) => app.set_input(text.trim_end_matches('\n')),
                        Err(e) => app.warn(&format!("the editor did not run: {e}")),
                    }
                    app.dirty = true;
                }
                Command::Shell(cmd) => {
                    let (tx, root) = (shell_tx.clone(), app.root.clone());
                    tokio::spawn(async move {
                        let out = crate::shell::run(&cmd, &root, crate::shell::TIMEOUT).await;
                        let _ = tx.send(out);
                    });
                }
                Command::Quit => return Ok(()),
            }
        }
    }
}

/// Core events that already arrived, up to `limit`, folded into the app. False when the core
/// has gone (its channel closed).
fn take_arrived(
    app: &mut App,
    ev_rx: &mut mpsc::UnboundedReceiver<core::Event>,
    limit: usize,
) -> bool {
    for _ in 0..limit {
        match ev_rx.try_recv() {
            Ok(ev) => app.on_core(ev),
            Err(mpsc::error::TryRecvError::Empty) => return true,
            Err(mpsc::error::TryRecvError::Disconnected) => return false,
        }
    }
    true
}

/// Draw a frame now; the app is clean until something changes.
fn draw(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    drawn_at: &mut std::time::Instant,
) -> Result<(), TuiError> {
    terminal.draw(|f| ui::render(f, app))?;
    app.dirty = false;
    *drawn_at = std::time::Instant::now();
    Ok(())
}

/// `text` edited in `$VISUAL`, else `$EDITOR`, else `vi` (the terminal is the editor's
/// meanwhile): what the file holds when the editor exits.
fn edit_in_editor(text: &str) -> std::io::Result<String> {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_string());
    edit_with(&editor, text)
}

/// `text` edited by the shell command `editor`, given the file's path as its argument.
pub fn edit_with(editor: &str, text: &str) -> std::io::Result<String> {
    let file = tempfile::Builder::new()
        .prefix("codeforge-message-")
        .suffix(".md")
        .tempfile()?;
    std::fs::write(file.path(), text)?;
    // Through the shell, so `EDITOR="code --wait"` works; the path is passed as $1.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status()?;
    if !status.success() {
        return Err(std::io::Error::other(format!(
            "{editor} exited with {status}"
        )));
    }
    std::fs::read_to_string(file.path())
}

/// Write text to the clipboard with OSC 52 (works over SSH and in tmux with set-clipboard).
fn copy_osc52(text: &str) -> std::io::Result<()> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = std::io::stdout().lock();
    write!(out, "\x1b]52;c;{b64}\x07")?;
    out.flush()
}
