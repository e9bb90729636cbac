//! Driving a [`ChatStream`] to its end: [`Pump`] folds each event into a [`Completion`]
//! (the answer, timings, usage) while holding the stream to its limits (a first token in
//! time, no answer past `max_tokens`, cancellation). The core's turn engine pumps every
//! answer through it; [`collect`] is the same pump without limits. Must not import `core`,
//! `ledger` or `tui`.

use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::client::ChatStream;
use super::error::{ProviderError, TimeoutPhase};
use super::types::{StreamEvent, Usage};

/// Everything a finished (or failed) stream produced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Completion {
    pub content: String,
    pub reasoning: String,
    pub generation_id: Option<String>,
    pub served_model: Option<String>,
    pub provider: Option<String>,
    pub finish_reason: Option<String>,
    pub usage: Option<Usage>,
    /// Time from sending the request to the first content or reasoning token.
    pub ttft: Option<Duration>,
    pub latency: Duration,
    pub keepalives: u32,
}

/// A stream that failed: the error, and the partial answer (marked cut by callers).
#[derive(Debug, Clone, PartialEq)]
pub struct Failed {
    pub error: ProviderError,
    pub partial: Completion,
}

impl Completion {
    /// Fold one event in. The first generation id heard (the response header's, else the
    /// first chunk's) is the one kept: it is the one the ledger was told.
    fn apply(&mut self, ev: &StreamEvent, started: Instant) {
        match ev {
            StreamEvent::KeepAlive => self.keepalives += 1,
            StreamEvent::Started {
                generation_id,
                served_model,
                provider,
            } => {
                if self.generation_id.is_none() {
                    self.generation_id.clone_from(generation_id);
                }
                self.served_model.clone_from(served_model);
                self.provider.clone_from(provider);
            }
            StreamEvent::Content(t) => {
                self.ttft.get_or_insert_with(|| started.elapsed());
                self.content.push_str(t);
            }
            StreamEvent::Reasoning(t) => {
                self.ttft.get_or_insert_with(|| started.elapsed());
                self.reasoning.push_str(t);
            }
            StreamEvent::Finish { reason, .. } => self.finish_reason = Some(reason.clone()),
            StreamEvent::Usage(u) => self.usage = Some(*u),
            StreamEvent::Done => {}
        }
    }
}

/// Tokens over `max_tokens` a stream may run before the client stops it: the client's
/// count (4 bytes a token) is not the provider's.
pub fn slack(max_tokens: u64) -> u64 {
    max_tokens / 8 + 16
}

/// What a stream is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// A first token within this of the request...
    pub first_token: Duration,
    /// ...and within what is left of the turn's own deadline, `turn` in all.
    pub turn_left: Duration,
    pub turn: Duration,
    /// The `max_tokens` sent: an answer past it by [`slack`] is cut by the client (a server
    /// that ignores the limit would bill past the reservation).
    pub max_tokens: Option<u64>,
}

impl StreamLimits {
    /// No deadline and no cap.
    pub const NONE: StreamLimits = StreamLimits {
        first_token: Duration::MAX,
        turn_left: Duration::MAX,
        turn: Duration::MAX,
        max_tokens: None,
    };
}

/// How a pumped stream ended.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEnd {
    /// `[DONE]`, or the body ended.
    Done,
    /// The caller's token was cancelled.
    Cancelled,
    /// An error from the server or the connection, a deadline, or an answer past its cap.
    Failed(ProviderError),
}

/// One stream, pumped event by event: each event is folded into [`Pump::completion`] before
/// the caller sees it.
pub struct Pump {
    stream: ChatStream,
    completion: Completion,
    started: Instant,
    limits: StreamLimits,
    /// Answer and reasoning bytes so far (counted as they come: no rescan per token).
    streamed_bytes: usize,
    seen_token: bool,
    /// The answer went past its cap: the stream ends at the next call.
    over: Option<ProviderError>,
}

impl Pump {
    /// `started` is when the request was sent (for TTFT, latency and the deadlines).
    pub fn new(stream: ChatStream, started: Instant, limits: StreamLimits) -> Self {
        let completion = Completion {
            generation_id: stream.generation_id().map(str::to_string),
            ..Completion::default()
        };
        Self {
            stream,
            completion,
            started,
            limits,
            streamed_bytes: 0,
            seen_token: false,
            over: None,
        }
    }

    /// What arrived so far.
    pub fn completion(&self) -> &Completion {
        &self.completion
    }

    /// Whether any answer or reasoning token arrived (a failure after one is a cut).
    pub fn seen_token(&self) -> bool {
        self.seen_token
    }

    /// The deadline for the next event, and the error it ends with: none once a token came.
    fn deadline(&self) -> Option<(Duration, ProviderError)> {
        if self.seen_token {
            return None;
        }
        let elapsed = self.started.elapsed();
        let model_left = self.limits.first_token.saturating_sub(elapsed);
        let turn_left = self.limits.turn_left.saturating_sub(elapsed);
        Some(if turn_left < model_left {
            let e = ProviderError::Timeout {
                phase: TimeoutPhase::Turn,
                after: self.limits.turn,
            };
            (turn_left, e)
        } else {
            let e = ProviderError::Timeout {
                phase: TimeoutPhase::FirstToken,
                after: self.limits.first_token,
            };
            (model_left, e)
        })
    }

    /// The next event, already folded in; `Err` once the stream is over, for whatever reason.
    /// The piece that takes an answer past its cap is still given; the stream ends after it.
    pub async fn next(&mut self, cancel: &CancellationToken) -> Result<StreamEvent, StreamEnd> {
        if let Some(e) = self.over.take() {
            return Err(StreamEnd::Failed(e));
        }
        let deadline = self.deadline();
        let wait = deadline.as_ref().map_or(Duration::MAX, |d| d.0);
        // A cancellation wins over what is ready to read; what is read, over a deadline.
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(StreamEnd::Cancelled),
            ev = self.stream.next() => ev,
            () = tokio::time::sleep(wait), if deadline.is_some() => {
                return Err(StreamEnd::Failed(deadline.map_or(ProviderError::Protocol { detail: "deadline".into() }, |d| d.1)));
            }
        };
        let ev = match next {
            None | Some(Ok(StreamEvent::Done)) => {
                if let Some(Ok(ev)) = &next {
                    self.completion.apply(ev, self.started);
                }
                return Err(StreamEnd::Done);
            }
            Some(Err(e)) => return Err(StreamEnd::Failed(e)),
            Some(Ok(ev)) => ev,
        };
        self.completion.apply(&ev, self.started);
        if let StreamEvent::Content(t) | StreamEvent::Reasoning(t) = &ev {
            self.seen_token = true;
            self.streamed_bytes += t.len();
            if let Some(max) = self.limits.max_tokens {
                let streamed = (self.streamed_bytes as u64).div_ceil(4);
                if streamed > max + slack(max) {
                    self.over = Some(ProviderError::StreamCut {
                        reason: format!(
                            "the server sent past max_tokens ({max}): stopped after ~{streamed} tokens"
                        ),
                    });
                }
            }
        }
        Ok(ev)
    }

    /// The completion, with its latency taken now.
    pub fn finish(self) -> Completion {
        let mut c = self.completion;
        c.latency = self.started.elapsed();
        c
    }
}

/// Pull every event, calling `on_event` for each, until `[DONE]` or an error: a [`Pump`]
/// with no limits. `started` is when the request was sent (for TTFT and latency).
pub async fn collect(
    stream: ChatStream,
    started: Instant,
    mut on_event: impl FnMut(&StreamEvent),
) -> Result<Completion, Failed> {
    let never = CancellationToken::new();
    let mut pump = Pump::new(stream, started, StreamLimits::NONE);
    let end = loop {
        match pump.next(&never).await {
            Ok(ev) => on_event(&ev),
            Err(end) => break end,
        }
    };
    let c = pump.finish();
    match end {
        StreamEnd::Done => Ok(c),
        StreamEnd::Failed(error) => Err(Failed { error, partial: c }),
        StreamEnd::Cancelled => Err(Failed {
            error: ProviderError::StreamCut {
                reason: "cancelled".into(),
            },
            partial: c,
        }),
    }
}
