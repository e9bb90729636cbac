//! One turn: route → reserve → stream → settle → record, with fallback to the next
//! candidate when a model fails before its first token, and cancellation that still
//! settles the cost.

use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::protocol::{Event, Overhead, TurnId, TurnOutcome};
use super::session::{CoreError, Session};
use crate::budget::Standing;
use crate::calendar;
use crate::catalog::ModelSpec;
use crate::ledger::{LedgerError, NewRequest, Settlement, Status};
use crate::money::Usd;
use crate::provider::{
    ChatRequest, Completion, ErrorKind, Message, ProviderError, StreamEvent, TimeoutPhase,
};
use crate::router::{self, BudgetView, Decision, Outcome, RouteRequest, RoutedBy, UserChoice};
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

/// Largest answer budget requested when the model allows more.
pub const MAX_TOKENS_CAP: u64 = 8192;

/// The user's choice for this turn, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    Auto,
    Override(String),
    Pinned(String),
}

fn send(events: &UnboundedSender<Event>, e: Event) {
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

fn prompt_tokens(msgs: &[Message]) -> u64 {
    msgs.iter().map(|m| estimate_tokens(&m.content) + 4).sum()
}

/// The tokens a request counts besides the prompt's own text: the system prompt, the
/// history and every message's overhead, as [`prompt_tokens`] counts them for the
/// reservation. The router adds the prompt's text to this, so a model it calls affordable
/// is one the reservation admits.
pub fn tokens_besides_prompt(system: &str, history: &[Message]) -> u64 {
    prompt_tokens(&[Message::system(system)]) + prompt_tokens(history) + 4
}

/// What an attempt inherits from its turn.
#[derive(Debug, Clone, Copy)]
struct Timing {
    limits: crate::budget::Limits,
    /// When the turn started (for the time CodeForge adds before sending).
    turn_started: Instant,
    /// When the previous model failed, if this attempt is a fallback.
    failed_at: Option<Instant>,
    /// The most output tokens OpenRouter said the key or account can pay for (a 402's
    /// "can only afford M"), when this attempt asks again within it.
    affordable: Option<u64>,
}

/// Why an attempt ended without a complete answer.
enum AttemptEnd {
    /// Failed before any token: another model may be tried.
    BeforeFirstToken(ProviderError),
    /// Failed after the answer started: the partial answer is kept, marked cut.
    Cut(ProviderError, Box<TurnOutcome>),
    Cancelled(Box<TurnOutcome>),
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

/// Tokens over `max_tokens` the client lets a stream run before it stops it: its count (4
/// bytes a token, as the settlement estimates it) is not the provider's.
fn slack(max_tokens: u64) -> u64 {
    max_tokens / 8 + 16
}

/// The `max_tokens` sent for a reservation of `reserved` output tokens: less by the
/// client's slack, so that a stream the client cuts at `max_tokens + slack` still settles
/// within what was reserved.
fn sent_max_tokens(reserved: u64) -> u64 {
    (reserved.saturating_sub(16) * 8 / 9).max(1)
}

/// The answer streamed so far is past `max_tokens` by the slack: a server that ignores the
/// limit, and would bill past the reservation, is cut off by the client whatever it sends.
/// An honest server stops at `max_tokens` itself first.
fn past_max_tokens(streamed_bytes: usize, max_tokens: u64) -> Result<(), ProviderError> {
    let streamed = (streamed_bytes as u64).div_ceil(4);
    if streamed > max_tokens + slack(max_tokens) {
        return Err(ProviderError::StreamCut {
            reason: format!(
                "the server sent past max_tokens ({max_tokens}): stopped after ~{streamed} tokens"
            ),
        });
    }
    Ok(())
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
struct HeldWait {
    until: Instant,
    told: bool,
}

impl HeldWait {
    fn new() -> Self {
        Self {
            until: Instant::now() + HELD_WAIT,
            told: false,
        }
    }

    /// Whether to try again after a refusal while `held` is held: something is held, time
    /// is left and the turn is not cancelled. Then the user is told (once) and it pauses.
    async fn again(
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

/// `e` means the network, not the model: the endpoint shared by the catalog's models could
/// not be reached at all. (A model with its own `base_url` failing to connect is that
/// model's failure: the others may still answer.)
fn offline(model: &ModelSpec, e: &ProviderError) -> bool {
    let unreachable = e.kind() == crate::provider::ErrorKind::Connect
        || matches!(
            e,
            ProviderError::Timeout {
                phase: crate::provider::TimeoutPhase::Connect,
                ..
            }
        );
    unreachable && model.base_url.is_none()
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
                let kind = match &error {
                    CoreError::Provider(p) => Some(p.kind()),
                    _ => None,
                };
                send(
                    events,
                    Event::failed(turn, kind, &error, partial.map(|p| *p)),
                );
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
        // Prices read again in the background since the last turn are taken in first.
        if let Some(notice) = self.take_prices(None).await {
            send(events, Event::Notice(notice));
        }
        // The key's own limit (a team's budget) read again when the last reading is over a
        // minute old; a server that cannot say leaves the last reading in force.
        self.refresh_key(false).await?;
        let mut wait = HeldWait::new();
        let (decision, limits, day, route_us) = loop {
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
                Ok(decision) => break (decision, standing.limits, day, route_us),
                // Refused only because requests in progress hold the money for now: wait
                // for them to end.
                Err(e)
                    if refused_for_money(&e)
                        && wait.again(standing.today.reserved, cancel, events).await => {}
                Err(e) => return Err(e.into()),
            }
        };
        // Chat ("thanks") neither starts nor replaces a thread.
        if !decision.chat {
            self.last_intent = Some(decision.intent);
        }
        // Set when a model failed before its first token: the reroute clock starts there.
        let mut failed_at: Option<Instant> = None;
        send(
            events,
            Event::Routed {
                turn,
                decision: decision.clone(),
            },
        );

        // The chosen model first; for automatic routing the rest of the ranking follows.
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
        let mut last_error = None;
        // Connect failures on the shared endpoint in a row (see `offline`).
        let mut unreachable = 0;
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
            let routed_by = if attempt == 0 {
                decision.routed_by
            } else {
                RoutedBy::Fallback
            };
            // A 402 "can only afford M tokens" is answered by asking the same model once
            // more within M (never another model: the key or account is the same).
            let mut affordable = None;
            let ended = loop {
                let ended = self
                    .attempt(
                        turn,
                        prompt,
                        &model,
                        routed_by,
                        &decision,
                        &day,
                        cancel,
                        events,
                        Timing {
                            limits,
                            turn_started,
                            failed_at,
                            affordable,
                        },
                    )
                    .await?;
                if let Err(AttemptEnd::BeforeFirstToken(e)) = &ended {
                    let within = e
                        .affordable_tokens()
                        .filter(|m| *m >= crate::budget::MIN_OUTPUT_TOKENS);
                    if let (None, Some(m)) = (affordable, within) {
                        send(
                            events,
                            Event::Notice(format!(
                                "OpenRouter can pay for at most {m} output tokens now (402); asking {} again within that",
                                model.name
                            )),
                        );
                        affordable = Some(m);
                        continue;
                    }
                }
                break ended;
            };
            match ended {
                Ok(mut outcome) => {
                    outcome.overhead.route_us = route_us;
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
                Err(AttemptEnd::BeforeFirstToken(e)) if e.kind() == ErrorKind::KeyLimit => {
                    // The key's own limit is spent (a team's budget): a budget refusal for
                    // every model, so none is tried; the stored reading says nothing is left.
                    self.refresh_key(true).await?;
                    self.key_spent().await?;
                    self.emit_budget(events).await;
                    return Err(e.into());
                }
                // The turn's deadline passed: no other model is tried.
                Err(AttemptEnd::BeforeFirstToken(e))
                    if matches!(
                        e,
                        ProviderError::Timeout {
                            phase: TimeoutPhase::Turn,
                            ..
                        }
                    ) =>
                {
                    self.emit_budget(events).await;
                    return Err(e.into());
                }
                Err(AttemptEnd::BeforeFirstToken(e)) => {
                    failed_at = Some(Instant::now());
                    // "No endpoints" for a listed model: gone, or dearer than the prices
                    // reserved with (`max_price`): the listing is read again.
                    if matches!(e, ProviderError::BadRequest { status: 404, .. }) {
                        self.refresh_prices_in_background();
                    }
                    // The shared endpoint unreachable twice in a row (two models): the
                    // network is down, and every model behind it would fail the same way.
                    // One offline state, not a fallback chain through all of them (a
                    // connection one model's route dropped still gets one other model).
                    if offline(&model, &e) {
                        unreachable += 1;
                        if unreachable >= 2 || chain.get(attempt + 1).is_none() {
                            self.emit_budget(events).await;
                            return Err(CoreError::Offline(e.to_string()).into());
                        }
                    } else {
                        unreachable = 0;
                    }
                    let next = chain.get(attempt + 1);
                    match next {
                        Some(next) if e.is_retryable() => {
                            let to = self
                                .backend
                                .catalog
                                .get(next)
                                .map_or(next.clone(), |m| m.name.clone());
                            send(
                                events,
                                Event::Fallback {
                                    turn,
                                    from: model.name.clone(),
                                    error: e.to_string(),
                                    to,
                                },
                            );
                            last_error = Some(e);
                        }
                        _ => {
                            self.emit_budget(events).await;
                            return Err(e.into());
                        }
                    }
                }
                Err(AttemptEnd::Cut(e, partial)) => {
                    self.record_or_say(prompt, &partial, events).await;
                    self.emit_budget(events).await;
                    return Err(TurnFailure {
                        error: e.into(),
                        partial: Some(partial),
                    });
                }
                Err(AttemptEnd::Cancelled(partial)) => {
                    self.record_or_say(prompt, &partial, events).await;
                    send(
                        events,
                        Event::Finished {
                            turn,
                            outcome: (*partial).clone(),
                        },
                    );
                    self.emit_budget(events).await;
                    return Ok(*partial);
                }
            }
        }
        let e = last_error.unwrap_or(ProviderError::Protocol {
            detail: "no model could be tried".into(),
        });
        Err(e.into())
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

    async fn emit_budget(&self, events: &UnboundedSender<Event>) {
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

    /// One model, one request. The outer `Result` is for ledger failures (fatal); the
    /// inner one says how the attempt ended.
    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &mut self,
        turn: TurnId,
        prompt: &str,
        model: &ModelSpec,
        routed_by: RoutedBy,
        decision: &Decision,
        day: &calendar::LocalDay,
        cancel: &CancellationToken,
        events: &UnboundedSender<Event>,
        timing: Timing,
    ) -> Result<Result<TurnOutcome, AttemptEnd>, CoreError> {
        let Timing {
            limits,
            turn_started,
            failed_at,
            affordable,
        } = timing;
        let reserve_started = Instant::now();
        // Within what OpenRouter said it can pay for: the reservation whose sent
        // `max_tokens` (see `sent_max_tokens`) is that many.
        let wanted = model
            .max_output
            .min(MAX_TOKENS_CAP)
            .min(affordable.map_or(u64::MAX, |m| (m * 9).div_ceil(8) + 16));
        // A fair part when the budget is tight: twice the expected answer (hidden reasoning
        // included), plus the client's slack (see `sent_max_tokens`).
        let expected = crate::router::expected_completion_tokens(decision.complexity) as f64
            * self
                .signals
                .output_factor(&model.id, decision.intent, model.output_factor)
                .max(1.0);
        let fair = ((2.0 * expected * 9.0 / 8.0).ceil() as u64 + 16).min(wanted);
        let (messages, dropped) = fit_history(
            &self.system,
            &self.conversation.messages,
            prompt,
            model.context_length,
            wanted,
        );
        let mut decision = decision.clone();
        decision.history_trimmed = dropped;
        let ptoks = prompt_tokens(&messages);
        let decision_json = serde_json::to_string(&decision).unwrap_or_default();
        let (model_id, routed, intent, complexity) = (
            model.id.clone(),
            routed_by.as_str(),
            decision.intent.as_str(),
            decision.complexity.as_str(),
        );
        // The listed prices with the margin learned from what the provider billed.
        let prices = router::reserved_prices(model, &self.signals);
        let conv = self.conversation.id;
        // Refused only because other requests hold the money for now: wait for them to
        // end (they give back what they did not spend) rather than refuse at once.
        let mut wait = HeldWait::new();
        let reservation = loop {
            let (d, model_id, decision_json) =
                (day.clone(), model_id.clone(), decision_json.clone());
            let reserved = self
                .ledger
                .call(move |l| {
                    l.reserve(
                        &NewRequest {
                            conversation_id: conv,
                            requested_model: &model_id,
                            routed_by: routed,
                            intent: Some(intent),
                            complexity: Some(complexity),
                            decision_json: Some(&decision_json),
                            prices,
                            prompt_tokens: ptoks,
                            wanted_max_tokens: wanted,
                            fair_max_tokens: Some(fair),
                        },
                        limits,
                        calendar::now_ms(),
                        &d,
                    )
                })
                .await;
            match reserved {
                Err(LedgerError::Refused(r)) if wait.again(r.held(), cancel, events).await => {}
                other => break other?,
            }
        };
        let reserve_us = reserve_started.elapsed().as_micros() as u64;
        send(
            events,
            Event::Reserved {
                turn,
                model: model.id.clone(),
                reserved: reservation.reserved,
                max_tokens: sent_max_tokens(reservation.max_tokens),
                history_trimmed: dropped,
            },
        );

        let request = ChatRequest {
            model: model.request_id().to_string(),
            messages,
            max_tokens: Some(sent_max_tokens(reservation.max_tokens)),
            temperature: None,
            // On OpenRouter, no provider dearer than the prices reserved with may serve it
            // (one model is routed to providers at different prices). Own endpoints get no
            // OpenRouter-only field.
            max_price: model
                .base_url
                .is_none()
                .then_some(crate::provider::MaxPrice {
                    prompt: prices.prompt,
                    completion: prices.completion,
                }),
        };
        let client = self
            .backend
            .client_for(&model.id, &self.config)
            .map_err(CoreError::Backend)?;
        self.breakers.on_attempt(&model.id, calendar::now_ms());
        let reroute_us = failed_at.map_or(0, |t| t.elapsed().as_micros() as u64);
        let pre_send_us = turn_started.elapsed().as_micros() as u64;
        let started = Instant::now();
        let first_token = self.config.timeouts.first_token;
        let mut completion = Completion::default();
        let mut seen_token = false;
        // Answer bytes streamed so far (counted as they come: no rescan per token).
        let mut streamed_bytes = 0usize;
        // The provider accepted the request (a stream began): from here it may bill.
        let mut opened = false;
        // The turn's deadline for a first token, over every model it tries.
        let turn_limit = self.config.timeouts.turn;
        let turn_left = turn_limit.saturating_sub(turn_started.elapsed());
        let turn_over = ProviderError::Timeout {
            phase: TimeoutPhase::Turn,
            after: turn_limit,
        };
        let result: Result<(), (ProviderError, bool)> = async {
            let mut stream = tokio::select! {
                r = client.stream(&request) => r.map_err(|e| (e, false))?,
                _ = cancel.cancelled() => return Err((ProviderError::StreamCut { reason: "cancelled".into() }, true)),
                _ = tokio::time::sleep(turn_left) => return Err((turn_over.clone(), false)),
            };
            opened = true;
            completion.generation_id = stream.generation_id().map(str::to_string);
            // The request is out: now the gauge can move (the reservation counts).
            self.emit_budget(events).await;
            if let Some(g) = completion.generation_id.clone() {
                let id = reservation.id;
                let _ = self.ledger.call(move |l| l.mark_started(id, &g)).await;
            }
            loop {
                let (deadline, over) = if seen_token {
                    (Duration::MAX, None)
                } else {
                    let model_left = first_token.saturating_sub(started.elapsed());
                    let turn_left = turn_left.saturating_sub(started.elapsed());
                    if turn_left < model_left {
                        (turn_left, Some(turn_over.clone()))
                    } else {
                        (model_left, Some(ProviderError::Timeout { phase: TimeoutPhase::FirstToken, after: first_token }))
                    }
                };
                let next = tokio::select! {
                    ev = stream.next() => ev,
                    _ = cancel.cancelled() => return Err((ProviderError::StreamCut { reason: "cancelled".into() }, true)),
                    _ = tokio::time::sleep(deadline), if over.is_some() => {
                        return Err((over.clone().unwrap_or(turn_over.clone()), false));
                    }
                };
                let Some(ev) = next else { return Ok(()) };
                let ev = ev.map_err(|e| (e, false))?;
                match &ev {
                    StreamEvent::KeepAlive => {
                        completion.keepalives += 1;
                        send(events, Event::Waiting { turn });
                    }
                    StreamEvent::Started { generation_id, served_model, provider } => {
                        if completion.generation_id.is_none() {
                            if let Some(g) = generation_id.clone() {
                                let id = reservation.id;
                                let _ = self.ledger.call(move |l| l.mark_started(id, &g)).await;
                            }
                            completion.generation_id.clone_from(generation_id);
                        }
                        completion.served_model.clone_from(served_model);
                        completion.provider.clone_from(provider);
                        send(events, Event::Started { turn, served_model: served_model.clone() });
                    }
                    StreamEvent::Content(t) => {
                        completion.ttft.get_or_insert_with(|| started.elapsed());
                        seen_token = true;
                        completion.content.push_str(t);
                        send(events, Event::Content { turn, text: t.clone() });
                        streamed_bytes += t.len();
                        past_max_tokens(streamed_bytes, sent_max_tokens(reservation.max_tokens)).map_err(|e| (e, false))?;
                    }
                    StreamEvent::Reasoning(t) => {
                        completion.ttft.get_or_insert_with(|| started.elapsed());
                        seen_token = true;
                        completion.reasoning.push_str(t);
                        send(events, Event::Reasoning { turn, text: t.clone() });
                        streamed_bytes += t.len();
                        past_max_tokens(streamed_bytes, sent_max_tokens(reservation.max_tokens)).map_err(|e| (e, false))?;
                    }
                    StreamEvent::Finish { reason, .. } => completion.finish_reason = Some(reason.clone()),
                    StreamEvent::Usage(u) => completion.usage = Some(*u),
                    StreamEvent::Done => return Ok(()),
                }
            }
        }
        .await;
        completion.latency = started.elapsed();

        let (status, error) = match result {
            Ok(()) => (Status::Ok, None),
            Err((_, true)) => (Status::Cancelled, None),
            Err((e, false)) if !seen_token => (Status::Error, Some(e)),
            Err((e, false)) => (Status::Cut, Some(e)),
        };
        let outcome = self.outcome(&completion, model, reservation.id, ptoks, status);
        // A request that failed before any token is not billed by OpenRouter, and would not
        // have been on the baseline model either (no "savings" from failures).
        // Refused before any stream began (an HTTP error): OpenRouter bills nothing. A stream
        // that began and then broke (malformed, an error chunk) may have been billed: it is
        // settled at the estimate, marked so, and corrected from /generation later.
        let unbilled = status == Status::Error && completion.usage.is_none() && !opened;
        let settlement = Settlement {
            status,
            served_model: completion.served_model.clone(),
            prompt_tokens: outcome.prompt_tokens,
            completion_tokens: outcome.completion_tokens,
            reasoning_tokens: outcome.reasoning_tokens,
            cached_tokens: outcome.cached_tokens,
            cost: if unbilled { Usd::ZERO } else { outcome.cost },
            cost_source: if unbilled {
                "provider"
            } else {
                outcome.cost_source
            },
            ttft_ms: outcome.ttft_ms,
            latency_ms: Some(outcome.latency_ms),
            error_kind: error.as_ref().map(|e| e.kind().as_str().to_string()),
            generation_id: completion.generation_id.clone(),
            baseline_cost: if unbilled {
                Usd::ZERO
            } else {
                self.backend
                    .catalog
                    .find(&self.config.budget.baseline_model)
                    .map_or(Usd::ZERO, |b| {
                        b.cost(outcome.prompt_tokens, outcome.completion_tokens)
                    })
            },
        };
        let id = reservation.id;
        let settle_started = Instant::now();
        // An estimate (a cut, cancelled or broken stream) that OpenRouter can still report
        // counts at its worst case, the reservation, until the bill replaces it moments
        // later in the background (hidden reasoning is billed but never streamed, so the
        // estimate may be short); if no bill comes, the estimate.
        let estimate = settlement.cost;
        let pending = match (&settlement.generation_id, &model.base_url) {
            (Some(g), None) if settlement.cost_source == "estimate" => Some(g.clone()),
            _ => None,
        };
        let mut settlement = settlement;
        if pending.is_some() {
            settlement.cost = reservation.reserved.max(estimate);
            settlement.cost_source = "worst_case";
        }
        self.ledger
            .call(move |l| l.settle(id, &settlement, calendar::now_ms()))
            .await?;
        if let Some(generation) = pending {
            self.reconcile_in_background(id, generation, estimate);
        }
        let mut outcome = outcome;
        outcome.overhead = Overhead {
            route_us: 0,
            pre_send_us,
            reserve_us,
            settle_us: settle_started.elapsed().as_micros() as u64,
            reroute_us,
        };
        self.learn(model, &decision, status, error.as_ref(), &outcome);
        Ok(match (status, error) {
            (Status::Ok, _) => Ok(outcome),
            (Status::Cancelled, _) => Err(AttemptEnd::Cancelled(Box::new(outcome))),
            (Status::Cut, Some(e)) => Err(AttemptEnd::Cut(e, Box::new(outcome))),
            (_, Some(e)) => Err(AttemptEnd::BeforeFirstToken(e)),
            (_, None) => Err(AttemptEnd::BeforeFirstToken(ProviderError::Protocol {
                detail: "the stream ended without an answer".into(),
            })),
        })
    }

    /// Feed the breaker and the performance averages (availability, never quality).
    fn learn(
        &mut self,
        model: &ModelSpec,
        decision: &Decision,
        status: Status,
        error: Option<&ProviderError>,
        outcome: &TurnOutcome,
    ) {
        let now = calendar::now_ms();
        let intent = decision.intent;
        // Unreachable network: says nothing about the model (see `offline`); a half-open
        // probe it interrupted may run again.
        if error.is_some_and(|e| offline(model, e)) {
            self.breakers.release_probe(&model.id);
            return;
        }
        match (status, error) {
            (Status::Ok | Status::Cut, _) => self.breakers.on_success(&model.id),
            (Status::Error, Some(e)) if e.is_retryable() => {
                let retry = e.retry_after().map(|d| d.as_millis() as i64);
                self.breakers.on_failure(&model.id, retry, now);
            }
            _ => {}
        }
        // A cancellation is the user's; a rejected key, missing credits or a request the
        // provider refuses would fail on any model: none says anything about this one.
        // (A 404 for a model no longer served is the breaker's and the catalog's to handle.)
        let models_doing = !matches!(
            error.map(ProviderError::kind),
            Some(
                ErrorKind::Auth
                    | ErrorKind::Credits
                    | ErrorKind::KeyLimit
                    | ErrorKind::Moderation
                    | ErrorKind::BadRequest
            )
        );
        if status != Status::Cancelled && models_doing {
            self.signals.observe(&Outcome {
                model: model.id.clone(),
                intent,
                ok: status == Status::Ok,
                ttft_ms: outcome.ttft_ms.map(|v| v as f64),
                latency_ms: Some(outcome.latency_ms as f64),
                completion_tokens: outcome.completion_tokens,
                at_ms: now,
            });
        }
        // A cut answer is the network's or the provider's failure, not the answer's: it
        // feeds the breaker and the success rate above, never the quality estimate.
        // A complete answer teaches what this model bills per expected visible token.
        // (Billed by the provider: an estimate would only teach the estimate back.)
        if status == Status::Ok && outcome.cost_source == "provider" {
            self.signals.observe_output(
                &model.id,
                intent,
                crate::router::expected_completion_tokens(decision.complexity),
                outcome.completion_tokens,
            );
            // And what it really charges: the reservation's price margin; a bill off the
            // listed prices by more than a few percent means they changed: read them again.
            self.signals.observe_bill(
                &model.id,
                outcome.cost.dollars(),
                outcome.prompt_tokens,
                outcome.completion_tokens,
            );
            let listed = model
                .cost(outcome.prompt_tokens, outcome.completion_tokens)
                .dollars();
            if super::prices::disagrees(outcome.cost.dollars(), listed) {
                self.refresh_prices_in_background();
            }
        }
    }

    fn outcome(
        &self,
        c: &Completion,
        model: &ModelSpec,
        request_id: i64,
        prompt_estimate: u64,
        status: Status,
    ) -> TurnOutcome {
        // What was streamed, at 4 bytes a token: a usage chunk reporting under half of it is
        // not believed (a server that floods and under-bills): the streamed estimate is
        // recorded, marked so, and the bill read from /generation replaces it.
        let streamed = estimate_tokens(&c.content) + estimate_tokens(&c.reasoning);
        let believable =
            |u: &crate::provider::Usage| u.completion_tokens.saturating_mul(2) >= streamed;
        let (prompt_tokens, completion_tokens, reasoning_tokens, cached_tokens, cost, source) =
            match c.usage.filter(believable) {
                Some(u) => (
                    u.prompt_tokens,
                    u.completion_tokens,
                    u.reasoning_tokens,
                    u.cached_tokens,
                    u.cost
                        .unwrap_or_else(|| model.cost(u.prompt_tokens, u.completion_tokens)),
                    if u.cost.is_some() {
                        "provider"
                    } else {
                        "estimate"
                    },
                ),
                None => {
                    let ct = streamed;
                    (
                        prompt_estimate,
                        ct,
                        0,
                        0,
                        model.cost(prompt_estimate, ct),
                        "estimate",
                    )
                }
            };
        TurnOutcome {
            request_id,
            generation_id: c.generation_id.clone(),
            requested_model: model.id.clone(),
            served_model: c
                .served_model
                .clone()
                .unwrap_or_else(|| model.request_id().to_string()),
            content: c.content.clone(),
            reasoning: c.reasoning.clone(),
            finish_reason: c.finish_reason.clone(),
            prompt_tokens,
            completion_tokens,
            reasoning_tokens,
            cached_tokens,
            cost,
            cost_source: source,
            ttft_ms: c.ttft.map(|d| d.as_millis() as u64),
            latency_ms: c.latency.as_millis() as u64,
            overhead: Overhead::default(),
            status: match status {
                Status::Ok => "ok",
                Status::Cancelled => "cancelled",
                Status::Cut | Status::Error => "cut",
            },
        }
    }
}
