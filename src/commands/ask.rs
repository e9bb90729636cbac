//! `codeforge ask`: one prompt through the whole path (route, reserve, stream, settle,
//! record), the answer streamed to stdout, or one JSON object at the end.

use std::io::{IsTerminal, Write};

use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{CommandError, Output};
use crate::cli::AskArgs;
use crate::config::Config;
use crate::core::protocol::{TurnId, TurnStatus};
use crate::core::{Choice, Event, Session, TurnOutcome};
use crate::router::Decision;
use crate::sanitize::Sanitizer;

pub async fn run(
    config: Config,
    args: &AskArgs,
    demo: bool,
    out: &mut Output,
) -> Result<(), CommandError> {
    let composed = attached(&config, args)?;
    let prompt = composed.prompt.clone();
    if let Some(w) = config.insecure_warning() {
        out.err_line(&w);
    }
    let edits_config = config.clone();
    let mut session = Session::open(config, demo).await?;
    let role = match &args.role {
        Some(name) => Some(role_named(&edits_config, name)?),
        None => None,
    };
    prepare(&mut session, role, &composed, out).await;
    if let Some(p) = args.preference.or(role.and_then(|r| r.preference)) {
        session.preference = p;
    }
    if let Some(id) = conversation_to_resume(&session, args).await? {
        let msgs = session.resume(id).await?;
        if msgs.is_empty() {
            return Err(CommandError::Usage(format!(
                "no conversation {id}: each answer names its conversation (and `ask --json` prints conversation_id)"
            )));
        }
    }
    let choice = match (&args.model, role.and_then(|r| r.model.as_ref())) {
        (Some(m), _) => Choice::Override(m.clone()),
        (None, Some(m)) => Choice::Pinned(m.clone()),
        (None, None) => Choice::Auto,
    };
    let cancel = CancellationToken::new();
    let ctrl_c = {
        let cancel = cancel.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                cancel.cancel();
            }
        })
    };
    let (tx, rx) = mpsc::unbounded_channel();
    let json_mode = args.json;
    // On a terminal the answer is rendered as the TUI renders it; piped, it stays raw.
    let rendered = (!json_mode && !args.raw && std::io::stdout().is_terminal())
        .then(|| {
            let width = crossterm::terminal::size().map_or(80, |(w, _)| w);
            crate::tui::check_config(&edits_config)
                .ok()
                .map(|(theme, _)| crate::tui::ansi::TerminalMarkdown::new(theme, width))
        })
        .flatten();
    let turn = async {
        let r = session
            .run_turn(TurnId(1), &prompt, &choice, &cancel, &tx)
            .await;
        drop(tx);
        r
    };
    let (result, cut) = tokio::join!(turn, print_events(rx, json_mode, rendered, out));
    let decision = session.last_decision.take();
    ctrl_c.abort();
    // Bills being fetched for estimates and prices being read again are kept rather than
    // lost with this process (up to a few seconds; the next start finishes the rest).
    if let Some(notice) = session
        .finish_background(std::time::Duration::from_secs(2))
        .await
    {
        out.err_line(&notice);
    }
    let demo = session.backend.demo;
    let conversation = session.conversation.id;
    // A cut answer still has content, usage and an id: `--json` prints them, with the
    // error, before the command fails.
    if let (Err(e), true) = (&result, json_mode) {
        // Scripts always get one object: the cut answer with its error, or the error with
        // the decision (when routing got that far).
        let v = match &cut {
            Some(partial) => {
                let mut v = outcome_json(partial, decision.as_ref(), demo, conversation);
                v["error"] = json!(e.to_string());
                v
            }
            None => json!({
                "status": "error",
                "error": e.to_string(),
                "decision": decision,
                "demo": demo,
            }),
        };
        out.write_out(&format!("{v}\n"));
    }
    let outcome = result?;
    if json_mode {
        let v = outcome_json(&outcome, decision.as_ref(), demo, conversation);
        out.write_out(&format!("{v}\n"));
    } else {
        out.err_line(&summary(&outcome, conversation, decision.as_ref()));
        if !composed.files.is_empty() {
            super::edit_cmds::review(&edits_config, &outcome.content, &composed, args.apply, out)?;
        }
    }
    out.flush();
    Ok(())
}

/// The prompt with its `@` files, refused (or trimmed with `--trim`) when the files are
/// over `attach_confirm_tokens` and `--whole` does not say to send them as they are.
fn attached(config: &Config, args: &AskArgs) -> Result<super::attach::Composed, CommandError> {
    let mut composed = super::attach::compose(args.prompt.as_deref(), &args.files)?;
    let tokens = crate::attach::tokens(&composed.files);
    let limit = config.attach_confirm_tokens;
    if tokens > limit {
        if args.trim {
            composed.trim_files(limit);
        } else if !args.whole {
            return Err(CommandError::Usage(format!(
                "the attached files are ~{tokens} tokens, over attach_confirm_tokens ({limit}); they count against the context window and today's budget: --whole sends them as they are, --trim an excerpt of each"
            )));
        }
    }
    Ok(composed)
}

/// The system prompt (with the role's and the attached files'), and what the user is told
/// before the turn: project instructions, demo mode, attachments, recovered requests.
async fn prepare(
    session: &mut Session,
    role: Option<&crate::config::Role>,
    composed: &super::attach::Composed,
    out: &mut Output,
) {
    let mut base = session.system.clone();
    if let Some(extra) = role.and_then(|r| r.system_prompt.as_deref()) {
        base.push_str("\n\n");
        base.push_str(extra.trim());
    }
    session.system = composed.system(&base);
    if let Some(text) = &session.instructions {
        out.err_line(text);
    }
    if session.backend.demo {
        out.err_line(
            "demo mode: no OPENROUTER_API_KEY (or --demo); answers come from the built-in simulator",
        );
    }
    if !composed.attached.is_empty() {
        out.err_line(&format!("attached {}", composed.attached.join(", ")));
    }
    if let Ok(rec) = session.recover().await
        && let Some(text) = crate::core::recovery_notice(&rec)
    {
        out.err_line(&text);
    }
}

/// `--conversation ID`, or with `--continue` the last conversation (an error when there
/// is none yet).
async fn conversation_to_resume(
    session: &Session,
    args: &AskArgs,
) -> Result<Option<i64>, CommandError> {
    match (args.continue_last, args.conversation) {
        (_, Some(id)) => Ok(Some(id)),
        (true, None) => {
            let last = session
                .ledger
                .call(|l| l.conversations(1))
                .await
                .map_err(crate::core::CoreError::from)?;
            match last.first() {
                Some(c) => Ok(Some(c.id)),
                None => Err(CommandError::Usage(
                    "--continue: there is no earlier conversation yet".into(),
                )),
            }
        }
        (false, None) => Ok(None),
    }
}

/// Print the turn's events as they come: the route and fallbacks on stderr, the answer on
/// stdout (sanitised; rendered on a terminal). Returns the partial answer of a cut stream.
async fn print_events(
    mut rx: mpsc::UnboundedReceiver<Event>,
    json_mode: bool,
    mut rendered: Option<crate::tui::ansi::TerminalMarkdown>,
    out: &mut Output,
) -> Option<TurnOutcome> {
    let mut sanitizer = Sanitizer::new();
    let mut cut: Option<TurnOutcome> = None;
    let mut wrote = String::new();
    while let Some(ev) = rx.recv().await {
        match ev {
            Event::Routed { card, .. } => out.err_line(&format!("→ {}", card.reason)),
            Event::Fallback {
                from, error, to, ..
            } => {
                out.err_line(&format!("↪ {from}: {error} → {to}"));
            }
            Event::Notice(text) => out.err_line(&text),
            Event::Content { text, .. } if !json_mode => {
                let safe = sanitizer.push(&text);
                match rendered.as_mut() {
                    Some(md) => out.write_out(&md.push(&safe)),
                    None => out.write_out(&safe),
                }
                wrote.push_str(&safe);
            }
            Event::Failed {
                outcome: Some(o), ..
            } => {
                if let Some(md) = rendered.as_mut() {
                    out.write_out(&md.finish());
                    wrote.push('\n');
                }
                if !json_mode {
                    if !wrote.is_empty() && !wrote.ends_with('\n') {
                        out.write_out("\n");
                    }
                    out.err_line("[answer cut]");
                }
                cut = Some(o);
            }
            Event::Finished { outcome, .. } if !json_mode => {
                if let Some(md) = rendered.as_mut() {
                    out.write_out(&md.finish());
                    wrote.push('\n');
                }
                if !wrote.ends_with('\n') {
                    out.write_out("\n");
                }
                if outcome.status == TurnStatus::Cancelled {
                    out.err_line("[cancelled]");
                }
            }
            _ => {}
        }
    }
    cut
}

/// The config's role `name`, or why there is none.
pub(super) fn role_named<'a>(
    config: &'a Config,
    name: &str,
) -> Result<&'a crate::config::Role, CommandError> {
    config.roles.get(name).ok_or_else(|| {
        let known: Vec<&str> = config.roles.keys().map(String::as_str).collect();
        CommandError::Usage(if known.is_empty() {
            format!("no role `{name}`: define one under [roles.{name}] in the config")
        } else {
            format!(
                "no role `{name}` in the config; roles: {}",
                known.join(", ")
            )
        })
    })
}

fn summary(o: &TurnOutcome, conversation: Option<i64>, decision: Option<&Decision>) -> String {
    let est = if o.cost_source.is_estimate() {
        " (estimated)"
    } else {
        ""
    };
    let finish = match (
        o.finish_reason.as_deref(),
        decision.and_then(|d| d.budget_cap),
    ) {
        (Some("length"), Some(cap)) => {
            format!(" · stopped at max_tokens: today's budget allowed ~{cap} tokens")
        }
        (Some("length"), None) => " · stopped at max_tokens".to_string(),
        _ => String::new(),
    };
    format!(
        "✓ {} · {}+{} tokens · {}{est} · first token {} · {} ms{finish}\n  \
         request {id} · rate it: codeforge feedback {id} up|down{conv}",
        o.served_model,
        o.prompt_tokens,
        o.completion_tokens,
        o.cost,
        o.ttft_ms.map_or("-".to_string(), |t| format!("{t} ms")),
        o.latency_ms,
        id = o.request_id,
        conv = conversation.map_or(String::new(), |c| format!(
            "\n  conversation {c} · go on with: codeforge ask -c \"…\""
        )),
    )
}

fn outcome_json(
    o: &TurnOutcome,
    decision: Option<&Decision>,
    demo: bool,
    conversation: Option<i64>,
) -> serde_json::Value {
    json!({
        "request_id": o.generation_id.clone().unwrap_or_else(|| format!("ledger-{}", o.request_id)),
        "ledger_id": o.request_id,
        "model": o.served_model,
        "requested_model": o.requested_model,
        "content": o.content,
        "reasoning": o.reasoning,
        "finish_reason": o.finish_reason,
        "status": o.status,
        "usage": {
            "prompt_tokens": o.prompt_tokens,
            "completion_tokens": o.completion_tokens,
            "reasoning_tokens": o.reasoning_tokens,
            "cached_tokens": o.cached_tokens,
            "cost_usd": o.cost.dollars(),
            "cost_source": o.cost_source,
        },
        "ttft_ms": o.ttft_ms,
        "latency_ms": o.latency_ms,
        "overhead_us": o.overhead,
        "decision": decision,
        "conversation_id": conversation,
        "demo": demo,
    })
}

impl Output {
    pub(super) fn write_out(&mut self, s: &str) {
        if self.stdout_broken || s.is_empty() {
            return;
        }
        let mut lock = std::io::stdout().lock();
        if lock
            .write_all(s.as_bytes())
            .and_then(|_| lock.flush())
            .is_err()
        {
            self.stdout_broken = true;
        }
    }
}
