//! The subcommands: each turns parsed CLI arguments into work and user-facing output.
//!
//! The only place (with `main.rs`) that writes to stdout/stderr.

mod ask;
mod attach;
mod edit_cmds;
mod eval;
mod keys;
mod ledger_cmds;
mod models;
mod route;
mod simulate;

use std::io::Write;

use clap::CommandFactory;

use crate::backend::BackendError;
use crate::catalog::CatalogError;
use crate::cli::{Cli, Command, ConfigAction};
use crate::config::{Config, ConfigError, init_config_file};
use crate::provider::ProviderError;
use crate::router::RouteError;

/// A failed command: the message is one line written for the user.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("{0}")]
    Catalog(#[from] CatalogError),
    #[error("{0}")]
    Provider(#[from] ProviderError),
    #[error("{0}")]
    Route(#[from] RouteError),
    #[error("{0}")]
    Core(crate::core::CoreError),
    #[error("{0}")]
    Ledger(#[from] crate::ledger::LedgerError),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Io(String),
}

impl CommandError {
    /// Process exit status: 2 for configuration and usage errors, 1 for the rest.
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Route(RouteError::Budget(_) | RouteError::Unavailable { .. }) => 1,
            CommandError::Config(_) | CommandError::Usage(_) | CommandError::Route(_) => 2,
            // A ledger that cannot be created or opened (a read-only home): set-up.
            CommandError::Ledger(e) | CommandError::Core(crate::core::CoreError::Ledger(e))
                if e.is_setup() =>
            {
                2
            }
            _ => 1,
        }
    }
}

impl From<crate::core::CoreError> for CommandError {
    fn from(e: crate::core::CoreError) -> Self {
        use crate::core::CoreError as C;
        match e {
            C::Route(r) => CommandError::Route(r),
            C::Config(c) => CommandError::Usage(c),
            other => CommandError::Core(other),
        }
    }
}

/// Nothing but whitespace and control characters.
pub fn is_blank(text: &str) -> bool {
    text.chars().all(|c| c.is_whitespace() || c.is_control())
}

/// Writes for the user; stops writing stdout quietly once the reader went away.
#[derive(Debug, Default)]
pub struct Output {
    stdout_broken: bool,
}

impl Output {
    /// One line to stderr, sanitised: routing lines, fallbacks, the served model's name and
    /// error messages carry text from the server.
    pub fn err_line(&mut self, s: &str) {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{}", crate::sanitize::for_terminal(s));
    }

    fn line(&mut self, s: &str) {
        let mut o = std::io::stdout().lock();
        if writeln!(o, "{s}").is_err() {
            self.stdout_broken = true;
        }
    }

    fn flush(&mut self) {
        let _ = std::io::stdout().flush();
    }
}

/// The config, with the demo's own ledger when `--demo` is given while a key is set.
fn load(demo: bool) -> Result<Config, CommandError> {
    let mut config = Config::load()?;
    config.paths.demo_ledger = demo && config.api_key.is_some();
    Ok(config)
}

/// Run a parsed command line.
pub async fn run(cli: Cli) -> Result<(), CommandError> {
    let mut out = Output::default();
    match cli.command {
        Some(Command::Completions { shell, dir }) => {
            let mut cmd = Cli::command();
            match dir {
                Some(dir) => {
                    std::fs::create_dir_all(&dir)
                        .and_then(|_| {
                            clap_complete::generate_to(shell, &mut cmd, "codeforge", &dir)
                        })
                        .map_err(|e| {
                            CommandError::Io(format!(
                                "cannot write completions to {}: {e}",
                                dir.display()
                            ))
                        })?;
                }
                None => {
                    let mut buf = Vec::new();
                    clap_complete::generate(shell, &mut cmd, "codeforge", &mut buf);
                    out.line(String::from_utf8_lossy(&buf).trim_end());
                }
            }
            Ok(())
        }
        Some(Command::Simulate(args)) => simulate::run(&args, &mut out).await,
        Some(Command::Keys { action }) => keys::run(&Config::load()?, &action, &mut out).await,
        Some(Command::Config { action }) => {
            let config = Config::load();
            match action {
                ConfigAction::Path => {
                    let paths = crate::config::Paths::resolve()?;
                    out.line(&paths.config_file().display().to_string());
                }
                ConfigAction::Show => {
                    let config = config?;
                    crate::tui::check_config(&config).map_err(CommandError::Usage)?;
                    out.line(config.show().trim_end());
                    // Limits set with `codeforge budget` live in the ledger and win.
                    let ledger_file = config.paths.ledger_file();
                    if ledger_file.exists() {
                        let l = crate::ledger::Ledger::open(&ledger_file)?;
                        let (daily, monthly) = (config.budget.daily_usd, config.budget.monthly_usd);
                        let limits = crate::core::resolve_limits(&l, daily, monthly)?;
                        for (name, set, file) in [
                            ("daily", limits.daily, daily),
                            ("monthly", limits.monthly, monthly),
                        ] {
                            if set != crate::money::Usd::from_dollars(file) {
                                out.line(&format!(
                                    "{:<17}{} (set with `codeforge budget`; it wins over the file)",
                                    format!("{name} in force"),
                                    set.exact()
                                ));
                            }
                        }
                    }
                }
                ConfigAction::Init { force } => {
                    let paths = crate::config::Paths::resolve()?;
                    let file = paths.config_file();
                    init_config_file(&file, force)?;
                    out.line(&format!("wrote {}", file.display()));
                }
            }
            Ok(())
        }
        Some(Command::Ask(args)) => {
            let config = load(cli.demo)?;
            ask::run(config, &args, cli.demo, &mut out).await
        }
        Some(Command::Apply { show }) => edit_cmds::apply(&load(cli.demo)?, show, &mut out),
        Some(Command::Undo) => edit_cmds::undo(&load(cli.demo)?, &mut out),
        Some(Command::Export { id, output }) => {
            let config = load(cli.demo)?;
            let file = config.paths.ledger_file();
            let doc = if file.exists() {
                crate::ledger::Ledger::open(&file)?.export(id)?
            } else {
                None
            };
            let Some((_, text)) = doc else {
                return Err(CommandError::Usage(match id {
                    Some(id) => format!("no conversation {id}"),
                    None => "no conversation yet".into(),
                }));
            };
            match output {
                Some(path) => std::fs::write(&path, text).map_err(|e| {
                    CommandError::Io(format!("cannot write {}: {e}", path.display()))
                })?,
                None => out.write_out(&text),
            }
            Ok(())
        }
        Some(Command::Stats(args)) => ledger_cmds::stats(&load(cli.demo)?, &args, &mut out),
        Some(Command::Budget(args)) => ledger_cmds::budget(&load(cli.demo)?, &args, &mut out),
        Some(Command::Feedback(args)) => ledger_cmds::feedback(&load(cli.demo)?, &args, &mut out),
        Some(Command::Eval(args)) => eval::run(&args, &mut out),
        Some(Command::Route(args)) => route::run(&load(cli.demo)?, &args, &mut out),
        Some(Command::Models(args)) => {
            let config = load(cli.demo)?;
            models::run(&config, &args, cli.demo, &mut out).await
        }
        None => {
            let config = load(cli.demo)?;
            crate::tui::run(config, cli.demo, cli.continue_last)
                .await
                .map_err(|e| match e {
                    // A theme or key the config names wrongly: the user's to fix (exit 2).
                    crate::tui::TuiError::Config(m) => CommandError::Usage(m),
                    other => CommandError::Io(other.to_string()),
                })
        }
    }
}
