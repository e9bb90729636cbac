//! The core's loop for an interactive front end: takes [`Op`]s, runs turns (cancellable
//! while they stream), and answers with [`Event`]s. Runs as its own task.

use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_util::sync::CancellationToken;

use super::protocol::{Event, LoadedMessage, Op, RouteCard, TurnOutcome, TurnStatus};
use super::session::{Recovery, Session};
use super::turn::Choice;
use crate::calendar;
use crate::ledger::{CostSource, RequestStatus, StoredMessage};
use crate::money::Usd;

fn send(events: &UnboundedSender<Event>, e: Event) {
    let _ = events.send(e);
}

async fn budget(session: &Session, events: &UnboundedSender<Event>) {
    match session.budget_snapshot().await {
        Ok(s) => send(events, Event::Budget(s)),
        Err(e) => send(events, Event::Error(e.to_string())),
    }
}

/// How often an idle session looks for other processes' writes to the ledger.
pub const SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Read the ledger again if another process wrote to it; show the budget if so. Errors
/// are shown before a turn, not from the idle timer (which would repeat them).
async fn sync(session: &mut Session, events: &UnboundedSender<Event>, report: bool) {
    match session.sync_with_ledger().await {
        Ok(true) => budget(session, events).await,
        Ok(false) => {}
        Err(e) if report => send(events, Event::Error(e.to_string())),
        Err(_) => {}
    }
}

/// What start-up recovery did, in words, if anything.
pub fn recovery_notice(r: &Recovery) -> Option<String> {
    let mut parts = Vec::new();
    if r.reconciled > 0 {
        parts.push(format!(
            "settled {} interrupted request(s) from the provider's records ({})",
            r.reconciled, r.reconciled_cost
        ));
    }
    if r.closed_at_reservation > 0 {
        parts.push(format!(
            "closed {} interrupted request(s) at their reserved worst case ({}; the provider cannot report them)",
            r.closed_at_reservation, r.closed_cost
        ));
    }
    if r.still_held > 0 {
        parts.push(format!(
            "{} interrupted request(s) stay held ({} of today's budget) until the provider reports their cost, at most {} h",
            r.still_held,
            r.held_cost,
            crate::core::session::ORPHAN_GIVE_UP_MS / 3_600_000
        ));
    }
    if r.estimates_fixed > 0 {
        parts.push(format!("corrected {} estimate(s)", r.estimates_fixed));
    }
    (!parts.is_empty()).then(|| format!("recovery: {}", parts.join("; ")))
}

/// Run until `Op::Quit` or until the UI drops its sender.
pub async fn drive(
    mut session: Session,
    resume: Option<i64>,
    mut ops: UnboundedReceiver<Op>,
    events: UnboundedSender<Event>,
) {
    budget(&session, &events).await;
    if let Some(id) = resume {
        load(&mut session, id, &events).await;
    }
    match session.recover().await {
        Ok(r) => {
            if let Some(text) = recovery_notice(&r) {
                send(&events, Event::Notice(text));
                budget(&session, &events).await;
            }
        }
        Err(e) => send(&events, Event::Error(e.to_string())),
    }
    let mut queued: Vec<Op> = Vec::new();
    // While idle, look for other processes' writes now and then, so the gauge and the
    // estimates follow `codeforge budget`, `codeforge feedback` or a second window.
    let mut look = tokio::time::interval(SYNC_EVERY);
    look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let op = if queued.is_empty() {
            tokio::select! {
                op = ops.recv() => match op {
                    Some(op) => op,
                    None => return,
                },
                _ = look.tick() => {
                    sync(&mut session, &events, false).await;
                    // An open circuit's countdown (and its turn to half-open) is shown as
                    // it runs, not only at the next turn.
                    if !session.breakers.states(crate::calendar::now_ms()).is_empty() {
                        budget(&session, &events).await;
                    }
                    continue;
                }
            }
        } else {
            queued.remove(0)
        };
        if matches!(op, Op::Submit { .. } | Op::Rerun { .. }) {
            // A turn routes on what every process has written.
            sync(&mut session, &events, true).await;
        }
        let turn_ops = (&mut ops, &mut queued);
        if handle(&mut session, op, turn_ops, &events).await == Flow::Quit {
            return;
        }
    }
}

/// Whether the driver goes on after an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Quit,
}

/// Carry out one op. A turn reads further ops while it runs (a cancel, a quit); those that
/// wait for it are queued.
async fn handle(
    session: &mut Session,
    op: Op,
    (ops, queued): (&mut UnboundedReceiver<Op>, &mut Vec<Op>),
    events: &UnboundedSender<Event>,
) -> Flow {
    let quit = |q: bool| if q { Flow::Quit } else { Flow::Continue };
    match op {
        Op::Quit => return Flow::Quit,
        Op::Cancel => {}
        Op::Submit { turn, text, choice } => {
            return quit(run(session, turn, &text, &choice, ops, events, queued).await);
        }
        Op::Rerun {
            turn,
            text,
            model,
            previous_request,
        } => {
            if let Some(prev) = previous_request {
                // Asking another model counts against the first answer (implicit signal).
                if let Ok(replaced) = session
                    .ledger
                    .call(move |l| l.set_feedback(prev, false, calendar::now_ms()))
                    .await
                {
                    apply_rating(session, prev, false, replaced).await;
                }
            }
            let choice = Choice::Override(model);
            return quit(run(session, turn, &text, &choice, ops, events, queued).await);
        }
        Op::NewConversation => {
            session.start_conversation();
            send(
                events,
                Event::ConversationLoaded {
                    id: None,
                    messages: Vec::new(),
                },
            );
        }
        Op::Resume(id) => load(session, id, events).await,
        Op::ListConversations => match session.ledger.call(|l| l.conversations(50)).await {
            Ok(list) => send(
                events,
                Event::Conversations(list.into_iter().map(Into::into).collect()),
            ),
            Err(e) => send(events, Event::Error(e.to_string())),
        },
        Op::Feedback { request_id, up } => feedback(session, request_id, up, events).await,
        Op::SetPreference(p) => {
            session.preference = p.min(10);
            send(
                events,
                Event::Notice(format!(
                    "preference {}/10 (0 = cheapest that fits … 10 = best regardless of cost)",
                    session.preference
                )),
            );
        }
        Op::SetSystem(text) => session.system = text,
        Op::Export(file) => send(events, export(session, file).await),
        Op::SetExplore(on) => {
            session.explore = on;
            let text = if on {
                "explore on: models your ratings know least about get tried"
            } else {
                "explore off: the best estimate decides"
            };
            send(events, Event::Notice(text.into()));
        }
        Op::SetDailyLimit(usd) => set_daily_limit(session, usd, events).await,
    }
    Flow::Continue
}

/// A 👍 or 👎 on an answer: stored, learned from, and said.
async fn feedback(
    session: &mut Session,
    request_id: i64,
    up: bool,
    events: &UnboundedSender<Event>,
) {
    match session
        .ledger
        .call(move |l| l.set_feedback(request_id, up, calendar::now_ms()))
        .await
    {
        Ok(replaced) => {
            apply_rating(session, request_id, up, replaced).await;
            let (new, old) = (thumb(up), replaced.map(thumb));
            let text = match old {
                Some(o) if o == new => format!("{new} was already recorded"),
                Some(o) => format!("{new} recorded for the last answer (replaces {o})"),
                None => format!("{new} recorded for the last answer"),
            };
            send(events, Event::Notice(text))
        }
        Err(e) => send(events, Event::Error(e.to_string())),
    }
}

/// The running conversation written as Markdown to `file` (a name of its own when
/// `None`): what to tell the user.
async fn export(session: &Session, file: Option<String>) -> Event {
    let Some(id) = session.conversation.id else {
        return Event::Error("nothing to export yet: ask something first".into());
    };
    match session.ledger.call(move |l| l.export(Some(id))).await {
        Ok(Some((id, text))) => {
            let file = file.unwrap_or_else(|| format!("codeforge-conversation-{id}.md"));
            match std::fs::write(&file, text) {
                Ok(()) => Event::Notice(format!("wrote conversation {id} to {file}")),
                Err(e) => Event::Error(format!("cannot write {file}: {e}")),
            }
        }
        Ok(None) => Event::Error(format!("no conversation {id} in the ledger")),
        Err(e) => Event::Error(e.to_string()),
    }
}

/// Today's limit, checked here whatever front end sent it, stored for every process.
async fn set_daily_limit(session: &Session, usd: f64, events: &UnboundedSender<Event>) {
    if !crate::budget::valid_limit(usd) {
        return send(
            events,
            Event::Error(format!(
                "a daily limit is an amount from $0 up to {}, not {usd}",
                Usd::from_dollars(crate::budget::MAX_LIMIT_USD)
            )),
        );
    }
    let v = usd.to_string();
    match session
        .ledger
        .call(move |l| l.set_setting(super::DAILY_LIMIT_KEY, &v))
        .await
    {
        Ok(()) => {
            send(
                events,
                Event::Notice(format!(
                    "daily limit set to {}",
                    Usd::from_dollars(usd).exact()
                )),
            );
            budget(session, events).await;
        }
        Err(e) => send(events, Event::Error(e.to_string())),
    }
}

/// Run one turn while still listening for Cancel. Returns true when the UI asked to quit.
async fn run(
    session: &mut Session,
    turn: super::TurnId,
    text: &str,
    choice: &Choice,
    ops: &mut UnboundedReceiver<Op>,
    events: &UnboundedSender<Event>,
    queued: &mut Vec<Op>,
) -> bool {
    let cancel = CancellationToken::new();
    let mut quit = false;
    {
        let fut = session.run_turn(turn, text, choice, &cancel, events);
        tokio::pin!(fut);
        loop {
            tokio::select! {
                _ = &mut fut => break,
                op = ops.recv() => match op {
                    Some(Op::Cancel) => cancel.cancel(),
                    Some(Op::Quit) | None => {
                        cancel.cancel();
                        quit = true;
                    }
                    Some(other) => queued.push(other),
                },
            }
        }
    }
    quit
}

fn thumb(up: bool) -> &'static str {
    if up { "👍" } else { "👎" }
}

/// Feed a rating to the router's quality estimates at once (the ledger has it too). Like
/// the ledger, an answer holds one rating: a new one takes the `replaced` one's place, so
/// pressing 👎 five times counts once and the estimates match what a restart rebuilds.
async fn apply_rating(session: &mut Session, request_id: i64, up: bool, replaced: Option<bool>) {
    if replaced == Some(up) {
        return;
    }
    if let Ok(Some((model, intent))) = session
        .ledger
        .call(move |l| l.request_route(request_id))
        .await
        && let Some(intent) = crate::task::Intent::parse(&intent)
    {
        if let Some(old) = replaced {
            session.signals.rate(&model, intent, old, -1.0);
        }
        session.signals.rate(&model, intent, up, 1.0);
    }
}

async fn load(session: &mut Session, id: i64, events: &UnboundedSender<Event>) {
    match session.resume(id).await {
        Ok(msgs) => send(
            events,
            Event::ConversationLoaded {
                id: Some(id),
                messages: msgs.into_iter().map(loaded).collect(),
            },
        ),
        Err(e) => send(events, Event::Error(e.to_string())),
    }
}

/// A stored message as the front end shows it: an answer with its request's decision and
/// outcome (a decision that no longer parses is left out; the answer still shows).
fn loaded(m: StoredMessage) -> LoadedMessage {
    let Some((id, r)) = m.request_id.zip(m.request) else {
        return LoadedMessage::plain(m.role, m.content);
    };
    let card = r
        .decision_json
        .as_deref()
        .and_then(|j| serde_json::from_str::<crate::router::Decision>(j).ok())
        .map(|d| RouteCard::of(&d));
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    let outcome = TurnOutcome {
        request_id: id,
        generation_id: r.generation_id,
        served_model: r.served_model.unwrap_or_else(|| r.requested_model.clone()),
        requested_model: r.requested_model,
        content: m.content.clone(),
        reasoning: String::new(),
        finish_reason: None,
        prompt_tokens: count(r.prompt_tokens),
        completion_tokens: count(r.completion_tokens),
        reasoning_tokens: count(r.reasoning_tokens),
        cached_tokens: count(r.cached_tokens),
        cost: Usd::from_nanos(r.cost_nanos.unwrap_or(0)),
        cost_source: r.cost_source.unwrap_or(CostSource::Estimate),
        ttft_ms: r.ttft_ms.map(count),
        latency_ms: r.latency_ms.map_or(0, count),
        status: match r.status {
            RequestStatus::Ended(s) => TurnStatus::of(s),
            // A message is stored after its request settles: unreachable but for a damaged
            // ledger, where the answer is shown as it was stored.
            RequestStatus::Open | RequestStatus::Orphaned => TurnStatus::Ok,
        },
        overhead: Default::default(),
    };
    LoadedMessage {
        role: m.role,
        content: m.content,
        card,
        outcome: Some(outcome),
    }
}
