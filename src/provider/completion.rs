//! Driving a [`ChatStream`] to its end while reporting each event: the accumulated
//! answer, timings, usage, and — when it fails — what had arrived before the failure.

use std::time::{Duration, Instant};

use super::client::ChatStream;
use super::error::ProviderError;
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
    fn apply(&mut self, ev: &StreamEvent, started: Instant) {
        match ev {
            StreamEvent::KeepAlive => self.keepalives += 1,
            StreamEvent::Started {
                generation_id,
                served_model,
                provider,
            } => {
                if generation_id.is_some() {
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

/// Pull every event, calling `on_event` for each, until `[DONE]` or an error.
/// `started` is when the request was sent (for TTFT and latency).
pub async fn drive(
    mut stream: ChatStream,
    started: Instant,
    mut on_event: impl FnMut(&StreamEvent),
) -> Result<Completion, Failed> {
    let mut c = Completion {
        generation_id: stream.generation_id().map(str::to_string),
        ..Completion::default()
    };
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(ev) => {
                c.apply(&ev, started);
                on_event(&ev);
            }
            Err(error) => {
                c.latency = started.elapsed();
                return Err(Failed { error, partial: c });
            }
        }
    }
    c.latency = started.elapsed();
    Ok(c)
}
