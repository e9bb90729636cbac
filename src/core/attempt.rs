//! One attempt of a turn on one model, as three steps of one engine: reserve (the ledger
//! holds the worst case), stream (a [`Pump`] folds the answer into a `Completion` and holds
//! it to its deadlines and its cap), settle (the ledger replaces the hold by the cost, and
//! the router's signals learn from it). The turn (turn.rs) picks the models and falls back
//! between them. Must not import `tui`.

use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::protocol::{Event, Overhead, TurnId, TurnOutcome, TurnStatus};
use super::session::{CoreError, Session};
use super::turn::{HeldWait, fit_history, output_cap, prompt_tokens, send};
use crate::budget::{MIN_OUTPUT_TOKENS, PROMPT_MARGIN, Prices};
use crate::calendar;
use crate::catalog::ModelSpec;
use crate::ledger::{CostSource, LedgerError, NewRequest, Reservation, Settlement, Status};
use crate::money::Usd;
use crate::provider::{
    ChatRequest, Completion, ErrorKind, Message, ProviderError, Pump, StreamEnd, StreamLimits,
    TimeoutPhase,
};
use crate::router::{self, Decision, Outcome, RoutedBy};
use crate::tokens::estimate_tokens;

/// What an attempt inherits from its turn.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    pub limits: crate::budget::Limits,
    /// When the turn started (for the time CodeForge adds before sending).
    pub turn_started: Instant,
    /// When the previous model failed, if this attempt is a fallback.
    pub failed_at: Option<Instant>,
    /// The most output tokens OpenRouter said the key or account can pay for (a 402's
    /// "can only afford M"), when this attempt asks again within it.
    pub affordable: Option<u64>,
}

/// One attempt: which turn, which model, on what decision.
pub(super) struct Plan<'a> {
    pub turn: TurnId,
    pub prompt: &'a str,
    pub model: &'a ModelSpec,
    pub routed_by: RoutedBy,
    pub decision: &'a Decision,
    pub day: &'a calendar::LocalDay,
    pub timing: Timing,
}

/// Where an attempt reports, and what stops it.
#[derive(Clone, Copy)]
pub(super) struct Io<'a> {
    pub cancel: &'a CancellationToken,
    pub events: &'a UnboundedSender<Event>,
}

/// Why an attempt ended without a complete answer.
pub(super) enum AttemptEnd {
    /// Failed before any token: another model may be tried.
    BeforeFirstToken(ProviderError),
    /// Failed after the answer started: the partial answer is kept, marked cut.
    Cut(ProviderError, Box<TurnOutcome>),
    Cancelled(Box<TurnOutcome>),
    /// The ledger (or the backend) failed: the turn ends, no other model is tried.
    Fatal(CoreError),
}

impl<E: Into<CoreError>> From<E> for AttemptEnd {
    fn from(e: E) -> Self {
        AttemptEnd::Fatal(e.into())
    }
}

/// The `max_tokens` sent for a reservation of `reserved` output tokens: less by the
/// client's slack ([`crate::provider::slack`]), so that a stream the client cuts at
/// `max_tokens + slack` still settles within what was reserved.
pub(super) fn sent_max_tokens(reserved: u64) -> u64 {
    (reserved.saturating_sub(16) * 8 / 9).max(1)
}

/// `e` means the network, not the model: the endpoint shared by the catalog's models could
/// not be reached at all. (A model with its own `base_url` failing to connect is that
/// model's failure: the others may still answer.)
pub(super) fn offline(model: &ModelSpec, e: &ProviderError) -> bool {
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

/// The reserve step's result: the hold, and the request it was made for.
struct Held {
    reservation: Reservation,
    messages: Vec<Message>,
    /// The prompt's tokens as reserved (system, history and prompt).
    prompt_tokens: u64,
    prices: Prices,
    /// The decision as sent (with the history it trimmed).
    decision: Decision,
    reserve_us: u64,
}

/// The stream step's result.
struct Streamed {
    completion: Completion,
    status: Status,
    error: Option<ProviderError>,
    /// The provider accepted the request (a stream began): from here it may bill.
    opened: bool,
    pre_send_us: u64,
    reroute_us: u64,
}

impl Session {
    /// One model, one request: reserve, stream, settle.
    pub(super) async fn attempt(
        &mut self,
        plan: &Plan<'_>,
        io: Io<'_>,
    ) -> Result<TurnOutcome, AttemptEnd> {
        let mut held = self.reserve(plan, io).await?;
        let streamed = self.stream(plan, io, &mut held).await?;
        self.settle(plan, held, streamed).await
    }

    /// Hold the worst case of this request in the ledger, waiting a while when only
    /// requests in progress hold the money.
    async fn reserve(&mut self, plan: &Plan<'_>, io: Io<'_>) -> Result<Held, CoreError> {
        let (model, timing) = (plan.model, plan.timing);
        let reserve_started = Instant::now();
        // Within what OpenRouter said it can pay for: the reservation whose sent
        // `max_tokens` (see `sent_max_tokens`) is that many.
        let wanted = output_cap(model.max_output, self.config.budget.max_output_tokens).min(
            timing
                .affordable
                .map_or(u64::MAX, |m| (m * 9).div_ceil(8) + 16),
        );
        // A fair part when the budget is tight: twice the expected answer (hidden reasoning
        // included), plus the client's slack (see `sent_max_tokens`).
        let expected = router::expected_completion_tokens(plan.decision.complexity) as f64
            * self
                .signals
                .output_factor(&model.id, plan.decision.intent, model.output_factor)
                .max(1.0);
        let fair = ((2.0 * expected * 9.0 / 8.0).ceil() as u64 + 16).min(wanted);
        // The history keeps at least half the window; the answer gets what the prompt leaves.
        let (messages, dropped) = fit_history(
            &self.system,
            &self.conversation.messages,
            plan.prompt,
            model.context_length,
            wanted.min(model.context_length / 2),
        );
        let prompt_room = (prompt_tokens(&messages) as f64 * PROMPT_MARGIN).ceil() as u64;
        let wanted = wanted
            .min(model.context_length.saturating_sub(prompt_room))
            .max(MIN_OUTPUT_TOKENS);
        let mut decision = plan.decision.clone();
        decision.history_trimmed = dropped;
        let ptoks = prompt_tokens(&messages);
        let decision_json = serde_json::to_string(&decision).unwrap_or_default();
        let (routed, intent, complexity) = (
            plan.routed_by.as_str(),
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
                (plan.day.clone(), model.id.clone(), decision_json.clone());
            let limits = timing.limits;
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
                Err(LedgerError::Refused(r))
                    if wait.again(r.held(), io.cancel, io.events).await => {}
                other => break other?,
            }
        };
        send(
            io.events,
            Event::Reserved {
                turn: plan.turn,
                model: model.id.clone(),
                reserved: reservation.reserved,
                max_tokens: sent_max_tokens(reservation.max_tokens),
                history_trimmed: dropped,
            },
        );
        Ok(Held {
            reservation,
            messages,
            prompt_tokens: ptoks,
            prices,
            decision,
            reserve_us: reserve_started.elapsed().as_micros() as u64,
        })
    }

    /// Send the request and pump its stream to the end, passing each piece on as an event.
    async fn stream(
        &mut self,
        plan: &Plan<'_>,
        io: Io<'_>,
        held: &mut Held,
    ) -> Result<Streamed, CoreError> {
        let (model, turn) = (plan.model, plan.turn);
        let max_tokens = sent_max_tokens(held.reservation.max_tokens);
        let request = ChatRequest {
            model: model.request_id().to_string(),
            // Sent once: the messages go with the request, not copied.
            messages: std::mem::take(&mut held.messages),
            max_tokens: Some(max_tokens),
            temperature: None,
            // On OpenRouter, no provider dearer than the prices reserved with may serve it
            // (one model is routed to providers at different prices). Own endpoints get no
            // OpenRouter-only field.
            max_price: model
                .base_url
                .is_none()
                .then_some(crate::provider::MaxPrice {
                    prompt: held.prices.prompt,
                    completion: held.prices.completion,
                }),
        };
        let client = self
            .backend
            .client_for(&model.id, &self.config)
            .map_err(CoreError::Backend)?;
        self.breakers.on_attempt(&model.id, calendar::now_ms());
        let reroute_us = plan
            .timing
            .failed_at
            .map_or(0, |t| t.elapsed().as_micros() as u64);
        let pre_send_us = plan.timing.turn_started.elapsed().as_micros() as u64;
        let started = Instant::now();
        // The turn's deadline for a first token, over every model it tries.
        let turn_limit = self.config.timeouts.turn;
        let limits = StreamLimits {
            first_token: self.config.timeouts.first_token,
            turn_left: turn_limit.saturating_sub(plan.timing.turn_started.elapsed()),
            turn: turn_limit,
            max_tokens: Some(max_tokens),
        };
        let failed = |status, error| Streamed {
            completion: Completion {
                latency: started.elapsed(),
                ..Completion::default()
            },
            status,
            error,
            opened: false,
            pre_send_us,
            reroute_us,
        };
        let stream = tokio::select! {
            r = client.stream(&request) => match r {
                Ok(stream) => stream,
                Err(e) => return Ok(failed(Status::Error, Some(e))),
            },
            () = io.cancel.cancelled() => return Ok(failed(Status::Cancelled, None)),
            () = tokio::time::sleep(limits.turn_left) => {
                let e = ProviderError::Timeout { phase: TimeoutPhase::Turn, after: turn_limit };
                return Ok(failed(Status::Error, Some(e)));
            }
        };
        let mut pump = Pump::new(stream, started, limits);
        // The request is out: now the gauge can move (the reservation counts).
        self.emit_budget(io.events).await;
        let mut marked = None;
        let end = loop {
            // The generation id, told to the ledger as soon as it is known (the bill can be
            // asked for even if this process dies).
            if pump.completion().generation_id != marked {
                marked.clone_from(&pump.completion().generation_id);
                if let Some(g) = marked.clone() {
                    let id = held.reservation.id;
                    let _ = self.ledger.call(move |l| l.mark_started(id, &g)).await;
                }
            }
            let ev = match pump.next(io.cancel).await {
                Ok(ev) => ev,
                Err(end) => break end,
            };
            use crate::provider::StreamEvent as E;
            let event = match ev {
                E::KeepAlive => Event::Waiting { turn },
                E::Started { served_model, .. } => Event::Started { turn, served_model },
                E::Content(text) => Event::Content { turn, text },
                E::Reasoning(text) => Event::Reasoning { turn, text },
                E::Finish { .. } | E::Usage(_) | E::Done => continue,
            };
            send(io.events, event);
        };
        let seen_token = pump.seen_token();
        let (status, error) = match end {
            StreamEnd::Done => (Status::Ok, None),
            StreamEnd::Cancelled => (Status::Cancelled, None),
            StreamEnd::Failed(e) if !seen_token => (Status::Error, Some(e)),
            StreamEnd::Failed(e) => (Status::Cut, Some(e)),
        };
        Ok(Streamed {
            completion: pump.finish(),
            status,
            error,
            opened: true,
            pre_send_us,
            reroute_us,
        })
    }

    /// Replace the hold by the cost (the bill, or an estimate corrected later), learn from
    /// the attempt, and say how it ended.
    async fn settle(
        &mut self,
        plan: &Plan<'_>,
        held: Held,
        streamed: Streamed,
    ) -> Result<TurnOutcome, AttemptEnd> {
        let model = plan.model;
        let Streamed {
            completion,
            status,
            error,
            opened,
            ..
        } = streamed;
        let reservation = held.reservation;
        let outcome = self.outcome(
            &completion,
            model,
            reservation.id,
            held.prompt_tokens,
            status,
        );
        // Refused before any stream began (an HTTP error): OpenRouter bills nothing, and
        // nothing would have been billed on the baseline model either (no "savings" from
        // failures). A stream that began and then broke (malformed, an error chunk) may
        // have been billed: it is settled at the estimate, marked so, and corrected from
        // /generation later.
        let unbilled = status == Status::Error && completion.usage.is_none() && !opened;
        let baseline = |o: &TurnOutcome| {
            self.backend
                .catalog
                .find(&self.config.budget.baseline_model)
                .map_or(Usd::ZERO, |b| b.cost(o.prompt_tokens, o.completion_tokens))
        };
        let mut settlement = Settlement {
            status,
            served_model: completion.served_model.clone(),
            prompt_tokens: outcome.prompt_tokens,
            completion_tokens: outcome.completion_tokens,
            reasoning_tokens: outcome.reasoning_tokens,
            cached_tokens: outcome.cached_tokens,
            cost: if unbilled { Usd::ZERO } else { outcome.cost },
            cost_source: if unbilled {
                CostSource::Provider
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
                baseline(&outcome)
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
            (Some(g), None) if settlement.cost_source == CostSource::Estimate => Some(g.clone()),
            _ => None,
        };
        if pending.is_some() {
            settlement.cost = reservation.reserved.max(estimate);
            settlement.cost_source = CostSource::WorstCase;
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
            pre_send_us: streamed.pre_send_us,
            reserve_us: held.reserve_us,
            settle_us: settle_started.elapsed().as_micros() as u64,
            reroute_us: streamed.reroute_us,
        };
        self.learn(model, &held.decision, status, error.as_ref(), &outcome);
        match (status, error) {
            (Status::Ok, _) => Ok(outcome),
            (Status::Cancelled, _) => Err(AttemptEnd::Cancelled(Box::new(outcome))),
            (Status::Cut, Some(e)) => Err(AttemptEnd::Cut(e, Box::new(outcome))),
            (_, Some(e)) => Err(AttemptEnd::BeforeFirstToken(e)),
            (_, None) => Err(AttemptEnd::BeforeFirstToken(ProviderError::Protocol {
                detail: "the stream ended without an answer".into(),
            })),
        }
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
        if status == Status::Ok && outcome.cost_source == CostSource::Provider {
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
                        CostSource::Provider
                    } else {
                        CostSource::Estimate
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
                        CostSource::Estimate,
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
            content: c.content.as_str().into(),
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
            status: TurnStatus::of(status),
        }
    }
}
