//! One turn: route → reserve → stream → settle → record, with fallback to the next
//! candidate when a model fails before its first token, and cancellation that still
//! settles the cost.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::attempt::{AttemptEnd, Io, Plan, Timing, offline};
use super::protocol::{Event, RouteCard, TurnId, TurnOutcome};
use super::session::{CoreError, Session};
use crate::budget::Standing;
use crate::calendar;
use crate::catalog::ModelSpec;
use crate::ledger::LedgerError;
use crate::money::Usd;
use crate::provider::{ErrorKind, Message, ProviderError, TimeoutPhase};
use crate::router::{self, BudgetView, Decision, RouteRequest, RoutedBy, UserChoice};
use crate::tokens::estimate_tokens;

/// The system prompt sent with every turn.
pub const SYSTEM_PROMPT: &str = "You are CodeForge, a concise coding assistant in a terminal. \
Answer in GitHub-flavoured Markdown; put code in fenced blocks with a language tag.";

/// The model chosen automatically from 95 % of the daily limit.
pub const EMERGENCY_MODEL: &str = "google/gemini-2.5-flash";

/// How long a request refused only because others hold the budget waits for them.
const HELD_WAIT: Duration = Duration::from_secs(15);

/// How often a request waiting for the budget held by others looks again.
const HELD_POLL: Duration = Duration::from_millis(100);

/// The `max_tokens` a request asks for before the budget and the context window lower it:
/// the model's own output limit (the catalog's `max_output`, OpenRouter's
/// `max_completion_tokens`), or the config's `budget.max_output_tokens` when that is lower.
pub fn output_cap(model_max_output: u64, configured: Option<u64>) -> u64 {
    configured.map_or(model_max_output, |c| c.min(model_max_output))
}

/// The user's choice for this turn, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Auto,
    Override(String),
    Pinned(String),
}

pub(super) fn send(events: &UnboundedSender<Event>, e: Event) {
    // A closed receiver means the UI is gone; the turn still settles its cost.
    let _ = events.send(e);
}

/// Messages to send: system, as much history as fits, the prompt. Returns how many
/// history messages were dropped (oldest first).
pub fn fit_history(
    system: &str,
    history: &[Message],
    prompt: &str,
    context_window: u64,
    max_tokens: u64,
) -> (Vec<Message>, usize) {
    let fixed = estimate_tokens(system) + estimate_tokens(prompt) + 8;
    let room = context_window
        .saturating_sub(max_tokens)
        .saturating_sub(fixed);
    let mut used = 0u64;
    let mut keep = 0usize;
    for m in history.iter().rev() {
        let t = estimate_tokens(&m.content) + 4;
        if used + t > room {
            break;
        }
        used += t;
        keep += 1;
    }
    let dropped = history.len() - keep;
    let mut msgs = Vec::with_capacity(keep + 2);
    msgs.push(Message::system(system));
    msgs.extend(history[dropped..].iter().cloned());
    msgs.push(Message::user(prompt));
    (msgs, dropped)
}

pub(super) fn prompt_tokens(msgs: &[Message]) -> u64 {
    msgs.iter().map(|m| estimate_tokens(&m.content) + 4).sum()
}

/// The tokens a request counts besides the prompt's own text: the system prompt, the
/// history and every message's overhead, as [`prompt_tokens`] counts them for the
/// reservation. The router adds the prompt's text to this, so a model it calls affordable
/// is one the reservation admits.
pub fn tokens_besides_prompt(system: &str, history: &[Message]) -> u64 {
    prompt_tokens(&[Message::system(system)]) + prompt_tokens(history) + 4
}

/// A turn's decision and what it was made on.
struct Routed {
    decision: Decision,
    limits: crate::budget::Limits,
    day: calendar::LocalDay,
    route_us: u64,
}

/// What the models tried so far in a turn left behind.
#[derive(Default)]
struct Tried {
    /// When the last model failed before its first token: the reroute clock starts there.
    failed_at: Option<Instant>,
    last_error: Option<ProviderError>,
    /// Connect failures on the shared endpoint in a row (see `offline`).
    unreachable: u32,
}

/// The chosen model first; for automatic routing the rest of the ranking follows.
fn fallback_chain(decision: &Decision) -> Vec<String> {
    let mut chain: Vec<String> = vec![decision.model.clone()];
    if decision.routed_by == RoutedBy::Auto {
        chain.extend(
            decision
                .candidates
                .iter()
                .filter(|c| c.excluded.is_none() && c.model != decision.model)
                .map(|c| c.model.clone()),
        );
    }
    chain
}

/// Why a turn ended without a complete answer: the error, and the partial answer when the
/// stream was cut after it started.
struct TurnFailure {
    error: CoreError,
    partial: Option<Box<TurnOutcome>>,
}

impl<E: Into<CoreError>> From<E> for TurnFailure {
    fn from(e: E) -> Self {
        Self {
            error: e.into(),
            partial: None,
        }
    }
}

/// A refusal for money (a limit, the key's, too little left), not for anything else.
fn refused_for_money(e: &CoreError) -> bool {
    matches!(
        e,
        CoreError::Ledger(LedgerError::Refused(_))
            | CoreError::Route(router::RouteError::Budget(_))
    )
}

/// Waiting, up to [`HELD_WAIT`], for money that requests in progress hold: they give back
/// what they do not spend when they end.
pub(super) struct HeldWait {
    until: Instant,
    told: bool,
}

impl HeldWait {
    pub(super) fn new() -> Self {
        Self {
            until: Instant::now() + HELD_WAIT,
            told: false,
        }
    }

    /// Whether to try again after a refusal while `held` is held: something is held, time
    /// is left and the turn is not cancelled. Then the user is told (once) and it pauses.
    pub(super) async fn again(
        &mut self,
        held: Usd,
        cancel: &CancellationToken,
        events: &UnboundedSender<Event>,
    ) -> bool {
        if held <= Usd::ZERO || Instant::now() >= self.until || cancel.is_cancelled() {
            return false;
        }
        if !self.told {
            self.told = true;
            send(
                events,
                Event::Notice(format!(
                    "waiting for requests in progress, which hold {held}, to end and free the budget"
                )),
            );
        }
        tokio::select! {
            () = tokio::time::sleep(HELD_POLL) => {}
            () = cancel.cancelled() => {}
        }
        true
    }
}

impl Session {
    /// Drive one turn, emitting events; the conversation is extended on success (and with
    /// the partial answer when cut or cancelled). Every turn ends with one `Finished` or
    /// `Failed` event, whatever fails (the `Failed` is sent here and only here), so a front
    /// end never waits on a turn that is over.
    pub async fn run_turn(
        &mut self,
        turn: TurnId,
        prompt: &str,
        choice: &Choice,
        cancel: &CancellationToken,
        events: &UnboundedSender<Event>,
    ) -> Result<TurnOutcome, CoreError> {
        match self.turn(turn, prompt, choice, cancel, events).await {
            Ok(outcome) => Ok(outcome),
            Err(TurnFailure { error, partial }) => {
                send(events, Event::failed(turn, &error, partial.map(|p| *p)));
                Err(error)
            }
        }
    }

    async fn turn(
        &mut self,
        turn: TurnId,
        prompt: &str,
        choice: &Choice,
        cancel: &CancellationToken,
        events: &UnboundedSender<Event>,
    ) -> Result<TurnOutcome, TurnFailure> {
        let turn_started = Instant::now();
        self.last_decision = None;
        let io = Io { cancel, events };
        let routed = self.decide_turn(prompt, choice, io).await?;
        let decision = &routed.decision;
        // Chat ("thanks") neither starts nor replaces a thread.
        if !decision.chat {
            self.last_intent = Some(decision.intent);
        }
        send(
            events,
            Event::Routed {
                turn,
                card: RouteCard::of(decision),
            },
        );
        self.last_decision = Some(decision.clone());
        let chain = fallback_chain(decision);
        let mut tried = Tried::default();
        for (attempt, model_id) in chain.iter().enumerate() {
            let Some(model) = self.backend.catalog.get(model_id).cloned() else {
                continue;
            };
            // Past the turn's deadline no further model is tried.
            let limit = self.config.timeouts.turn;
            if attempt > 0 && turn_started.elapsed() >= limit {
                self.emit_budget(events).await;
                return Err(ProviderError::Timeout {
                    phase: TimeoutPhase::Turn,
                    after: limit,
                }
                .into());
            }
            let plan = Plan {
                turn,
                prompt,
                model: &model,
                routed_by: if attempt == 0 {
                    decision.routed_by
                } else {
                    RoutedBy::Fallback
                },
                decision,
                day: &routed.day,
                timing: Timing {
                    limits: routed.limits,
                    turn_started,
                    failed_at: tried.failed_at,
                    affordable: None,
                },
            };
            let ended = self.attempt_within_affordable(plan, io).await;
            let next = chain.get(attempt + 1).map(String::as_str);
            match ended {
                Ok(mut outcome) => {
                    outcome.overhead.route_us = routed.route_us;
                    self.record_or_say(prompt, &outcome, events).await;
                    send(
                        events,
                        Event::Finished {
                            turn,
                            outcome: outcome.clone(),
                        },
                    );
                    self.emit_budget(events).await;
                    return Ok(outcome);
                }
                Err(AttemptEnd::BeforeFirstToken(e)) => {
                    self.before_first_token(turn, &model, e, next, &mut tried, events)
                        .await?;
                }
                Err(end) => return self.ended_after_start(prompt, end, turn, events).await,
            }
        }
        let e = tried.last_error.unwrap_or(ProviderError::Protocol {
            detail: "no model could be tried".into(),
        });
        Err(e.into())
    }

    /// Route the prompt on the ledger's standing, waiting a while when only requests in
    /// progress hold the money.
    async fn decide_turn(
        &mut self,
        prompt: &str,
        choice: &Choice,
        io: Io<'_>,
    ) -> Result<Routed, TurnFailure> {
        // Prices read again in the background since the last turn are taken in first.
        if let Some(notice) = self.take_prices(None).await {
            send(io.events, Event::Notice(notice));
        }
        // The key's own limit (a team's budget) read again when the last reading is over a
        // minute old; a server that cannot say leaves the last reading in force.
        self.refresh_key(false).await?;
        let mut wait = HeldWait::new();
        loop {
            let (standing, model_spend, day) = self.standing().await?;
            let route_started = Instant::now();
            let decided = match standing.exhausted() {
                Some(refusal) => Err(LedgerError::Refused(refusal).into()),
                None => self
                    .route(prompt, choice, &standing, &model_spend)
                    .map_err(CoreError::from),
            };
            let route_us = route_started.elapsed().as_micros() as u64;
            match decided {
                Ok(decision) => {
                    return Ok(Routed {
                        decision,
                        limits: standing.limits,
                        day,
                        route_us,
                    });
                }
                // Refused only because requests in progress hold the money for now: wait
                // for them to end.
                Err(e)
                    if refused_for_money(&e)
                        && wait
                            .again(standing.today.reserved, io.cancel, io.events)
                            .await => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// [`Self::attempt`], and once more on the same model when a 402 says "can only afford
    /// M tokens" (never another model: the key or account is the same).
    async fn attempt_within_affordable(
        &mut self,
        mut plan: Plan<'_>,
        io: Io<'_>,
    ) -> Result<TurnOutcome, AttemptEnd> {
        loop {
            let ended = self.attempt(&plan, io).await;
            if let Err(AttemptEnd::BeforeFirstToken(e)) = &ended {
                let within = e
                    .affordable_tokens()
                    .filter(|m| *m >= crate::budget::MIN_OUTPUT_TOKENS);
                if let (None, Some(m)) = (plan.timing.affordable, within) {
                    send(
                        io.events,
                        Event::Notice(format!(
                            "OpenRouter can pay for at most {m} output tokens now (402); asking {} again within that",
                            plan.model.name
                        )),
                    );
                    plan.timing.affordable = Some(m);
                    continue;
                }
            }
            return ended;
        }
    }

    /// A model failed before its first token: `Ok` to try `next`, or the turn's end.
    async fn before_first_token(
        &mut self,
        turn: TurnId,
        model: &ModelSpec,
        e: ProviderError,
        next: Option<&str>,
        tried: &mut Tried,
        events: &UnboundedSender<Event>,
    ) -> Result<(), TurnFailure> {
        let turn_over = matches!(
            e,
            ProviderError::Timeout {
                phase: TimeoutPhase::Turn,
                ..
            }
        );
        if e.kind() == ErrorKind::KeyLimit {
            // The key's own limit is spent (a team's budget): a budget refusal for every
            // model, so none is tried; the stored reading says nothing is left.
            self.refresh_key(true).await?;
            self.key_spent().await?;
        }
        // The key's limit, or the turn's deadline passed: no other model is tried.
        if e.kind() == ErrorKind::KeyLimit || turn_over {
            self.emit_budget(events).await;
            return Err(e.into());
        }
        tried.failed_at = Some(Instant::now());
        // "No endpoints" for a listed model: gone, or dearer than the prices reserved with
        // (`max_price`): the listing is read again.
        if matches!(e, ProviderError::BadRequest { status: 404, .. }) {
            self.refresh_prices_in_background();
        }
        // The shared endpoint unreachable twice in a row (two models): the network is
        // down, and every model behind it would fail the same way. One offline state, not
        // a fallback chain through all of them (a connection one model's route dropped
        // still gets one other model).
        if offline(model, &e) {
            tried.unreachable += 1;
            if tried.unreachable >= 2 || next.is_none() {
                self.emit_budget(events).await;
                return Err(CoreError::Offline(e.to_string()).into());
            }
        } else {
            tried.unreachable = 0;
        }
        match next {
            Some(next) if e.is_retryable() => {
                let to = self
                    .backend
                    .catalog
                    .get(next)
                    .map_or(next.to_string(), |m| m.name.clone());
                send(
                    events,
                    Event::Fallback {
                        turn,
                        from: model.name.clone(),
                        error: e.to_string(),
                        to,
                    },
                );
                tried.last_error = Some(e);
                Ok(())
            }
            _ => {
                self.emit_budget(events).await;
                Err(e.into())
            }
        }
    }

    /// An attempt ended after its answer began (cut or cancelled), or fatally: the partial
    /// answer is kept in the conversation.
    async fn ended_after_start(
        &mut self,
        prompt: &str,
        end: AttemptEnd,
        turn: TurnId,
        events: &UnboundedSender<Event>,
    ) -> Result<TurnOutcome, TurnFailure> {
        match end {
            AttemptEnd::Cut(e, partial) => {
                self.record_or_say(prompt, &partial, events).await;
                self.emit_budget(events).await;
                Err(TurnFailure {
                    error: e.into(),
                    partial: Some(partial),
                })
            }
            AttemptEnd::Cancelled(partial) => {
                self.record_or_say(prompt, &partial, events).await;
                send(
                    events,
                    Event::Finished {
                        turn,
                        outcome: (*partial).clone(),
                    },
                );
                self.emit_budget(events).await;
                Ok(*partial)
            }
            AttemptEnd::Fatal(e) => Err(e.into()),
            AttemptEnd::BeforeFirstToken(e) => Err(e.into()),
        }
    }

    /// One trip to the ledger for everything a decision needs: the standing (limits,
    /// spend, the key's limit), today's spend per model, and the day.
    async fn standing(
        &self,
    ) -> Result<(Standing, Vec<(String, Usd)>, calendar::LocalDay), CoreError> {
        let now = calendar::now_ms();
        let day = calendar::local_day(now, &self.tz);
        let (daily, monthly) = (self.config.budget.daily_usd, self.config.budget.monthly_usd);
        let d = day.clone();
        let (standing, model_spend) = self
            .ledger
            .call(move |l| {
                let limits = super::session::resolve_limits(l, daily, monthly)?;
                Ok((l.standing(limits, &d, now)?, l.model_spend(&d.day)?))
            })
            .await?;
        let model_spend = model_spend
            .into_iter()
            .map(|m| (m.model, m.spend.total()))
            .collect();
        Ok((standing, model_spend, day))
    }

    /// The router's decision for this prompt on this standing.
    fn route(
        &self,
        prompt: &str,
        choice: &Choice,
        standing: &Standing,
        model_spend: &[(String, Usd)],
    ) -> Result<Decision, router::RouteError> {
        router::decide(
            &self.backend.catalog,
            &RouteRequest {
                prompt,
                history_tokens: tokens_besides_prompt(&self.system, &self.conversation.messages),
                // The conversation can be trimmed to fit a model (oldest turns first).
                trimmable_tokens: prompt_tokens(&self.conversation.messages),
                previous_intent: self.last_intent,
                choice: match choice {
                    Choice::Auto => UserChoice::None,
                    Choice::Override(m) => UserChoice::Override(m),
                    Choice::Pinned(m) => UserChoice::Pinned(m),
                },
                budget: BudgetView::of(standing, EMERGENCY_MODEL, model_spend),
                preference: self.preference,
                explore: self.explore,
                signals: &self.signals,
                breakers: &self.breakers,
                now_ms: calendar::now_ms(),
            },
        )
    }

    pub(super) async fn emit_budget(&self, events: &UnboundedSender<Event>) {
        if let Ok(s) = self.budget_snapshot().await {
            send(events, Event::Budget(s));
        }
    }

    /// [`Self::record`], and when the ledger cannot take the messages (a full disk): the
    /// answer stands (it was shown, billed and counted against the budget) and the user is
    /// told exactly what was not kept.
    async fn record_or_say(
        &mut self,
        prompt: &str,
        outcome: &TurnOutcome,
        events: &UnboundedSender<Event>,
    ) {
        if let Err(e) = self.record(prompt, outcome).await {
            send(
                events,
                Event::Notice(format!(
                    "this answer is billed ({}, request {}) and counted in the budget, but it could not be saved in the conversation history: {e}",
                    outcome.cost, outcome.request_id
                )),
            );
        }
    }

    /// Store the exchange in the conversation and the ledger (one transaction).
    async fn record(&mut self, prompt: &str, outcome: &TurnOutcome) -> Result<(), CoreError> {
        self.conversation.messages.push(Message::user(prompt));
        self.conversation
            .messages
            .push(Message::assistant(outcome.content.clone()));
        let now = calendar::now_ms();
        let conv = self.conversation.id;
        let (p, a, req) = (
            prompt.to_string(),
            outcome.content.clone(),
            outcome.request_id,
        );
        let id = self
            .ledger
            .call(move |l| l.record_exchange(conv, &p, &a, req, now))
            .await?;
        self.conversation.id = Some(id);
        Ok(())
    }
}
