//! Writing one simulated answer: as an SSE stream (with pacing and mid-stream faults) or
//! as one non-streaming JSON body.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, StreamBody};
use hyper::Response;
use hyper::body::Frame;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::answer;
use super::faults::{Behaviour, Fault};
use super::{GenerationRecord, SimBody, SimState};
use crate::catalog::ModelSpec;

/// Everything needed to produce one answer.
pub(crate) struct Plan {
    id: String,
    model: ModelSpec,
    reasoning: Vec<String>,
    content: Vec<String>,
    finish_reason: &'static str,
    prompt_tokens: u64,
    behaviour: Behaviour,
    fault: Option<Fault>,
    created: u64,
    /// The key the generation is billed to.
    key: String,
}

impl Plan {
    pub(crate) fn new(
        model: &ModelSpec,
        id: String,
        prompt: &str,
        prompt_tokens: u64,
        max_tokens: Option<u64>,
        behaviour: Behaviour,
        fault: Option<Fault>,
    ) -> Self {
        let text = answer::compose(prompt, &model.name);
        let mut content = answer::tokens(&text);
        // Models that stream reasoning text on OpenRouter (Grok here) get some too.
        let reasoning = if model.id.contains("grok") {
            answer::tokens(&answer::reasoning(prompt))
        } else {
            Vec::new()
        };
        let mut finish_reason = "stop";
        let limit = max_tokens
            .map(|m| m as usize)
            .into_iter()
            .chain(behaviour.max_answer_tokens)
            .min();
        if let Some(limit) = limit {
            let budget = limit.saturating_sub(reasoning.len()).max(1);
            if content.len() > budget {
                content.truncate(budget);
                finish_reason = "length";
            }
        }
        if let Some(Fault::HugeChunk { bytes }) = fault {
            let big: String = "x".repeat(bytes);
            content = vec![big];
        }
        if let Some(Fault::Lines { lines }) = fault {
            content = (1..=lines)
                .map(|i| format!("Line {i} of a long answer.\n"))
                .collect();
            finish_reason = "stop";
        }
        if let Some(Fault::Flood { tokens }) = fault {
            content = vec!["flood ".to_string(); tokens];
            finish_reason = "stop";
        }
        if let Some(Fault::Code { tokens }) = fault {
            content = answer::long_coding_answer(tokens);
            finish_reason = "stop";
        }
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            id,
            model: model.clone(),
            reasoning,
            content,
            finish_reason,
            prompt_tokens,
            behaviour,
            fault,
            created,
            key: String::new(),
        }
    }

    /// Bill the generation to this key.
    pub(crate) fn billed_to(mut self, key: &str) -> Self {
        self.key = key.to_string();
        self
    }

    fn completion_tokens(&self, sent: usize) -> u64 {
        (self.reasoning.len() + sent) as u64
    }

    fn cost(&self, completion_tokens: u64) -> f64 {
        self.model
            .cost(self.prompt_tokens, completion_tokens)
            .dollars()
    }

    fn usage(&self, sent: usize) -> Value {
        let completion = self.completion_tokens(sent);
        let cost = self.cost(completion);
        let prompt_cost = self.cost(0);
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": completion,
            "total_tokens": self.prompt_tokens + completion,
            "cost": cost,
            "is_byok": false,
            "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "cost_details": {"upstream_inference_cost": cost,
                             "upstream_inference_prompt_cost": prompt_cost,
                             "upstream_inference_completions_cost": cost - prompt_cost},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning.len()},
        })
    }

    fn chunk(&self, delta: Value, finish: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model.id,
            "provider": "CodeForge Simulator",
            "service_tier": "standard",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                         "native_finish_reason": finish, "logprobs": null}],
        })
    }

    fn record(&self, state: &SimState, sent: usize, cancelled: bool) {
        let completion = self.completion_tokens(sent);
        state.record_generation(GenerationRecord {
            id: self.id.clone(),
            model: self.model.id.clone(),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: completion,
            total_cost: self.cost(completion),
            cancelled,
            key: self.key.clone(),
        });
    }

    pub(crate) fn non_streaming(&self, state: &SimState) -> Value {
        let sent = self.content.len();
        self.record(state, sent, false);
        json!({
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model.id,
            "provider": "CodeForge Simulator",
            "choices": [{"index": 0,
                         "message": {"role": "assistant", "content": self.content.concat(),
                                     "reasoning": if self.reasoning.is_empty() { Value::Null }
                                                  else { Value::String(self.reasoning.concat()) }},
                         "finish_reason": self.finish_reason,
                         "native_finish_reason": self.finish_reason}],
            "usage": self.usage(sent),
        })
    }
}

type Tx = mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>;

/// Build the streaming response; a task produces the events.
pub(crate) fn respond(state: Arc<SimState>, plan: Plan) -> Response<SimBody> {
    let (tx, rx) = mpsc::channel(64);
    let id = plan.id.clone();
    tokio::spawn(produce(state, plan, tx));
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut resp = Response::new(StreamBody::new(stream).boxed());
    let headers = resp.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        hyper::header::HeaderValue::from_static("no-cache"),
    );
    if let Ok(v) = hyper::header::HeaderValue::from_str(&id) {
        headers.insert("x-generation-id", v);
    }
    resp
}

async fn send(tx: &Tx, text: String) -> bool {
    tx.send(Ok(Frame::data(Bytes::from(text)))).await.is_ok()
}

async fn data(tx: &Tx, v: &Value) -> bool {
    send(tx, format!("data: {v}\n\n")).await
}

const KEEPALIVE: &str = ": OPENROUTER PROCESSING\n\n";

/// Paces tokens at the configured speed.
struct Pacer {
    start: Instant,
    per_token: Option<Duration>,
    n: u32,
}

impl Pacer {
    fn new(tps: f64) -> Self {
        let per_token = (tps > 0.0 && tps.is_finite()).then(|| Duration::from_secs_f64(1.0 / tps));
        Self {
            start: Instant::now(),
            per_token,
            n: 0,
        }
    }

    async fn tick(&mut self) {
        self.n += 1;
        if let Some(per) = self.per_token {
            let due = self.start + per * self.n;
            let now = Instant::now();
            if due > now + Duration::from_millis(1) {
                tokio::time::sleep(due - now).await;
            }
        }
    }
}

async fn produce(state: Arc<SimState>, plan: Plan, tx: Tx) {
    let mut sent = 0usize;
    let cut = |sent| plan.record(&state, sent, true);
    if !send(&tx, KEEPALIVE.to_string()).await {
        return cut(sent);
    }
    // Wait for the first token, sending keep-alives meanwhile as OpenRouter does.
    let ttft_end = Instant::now() + plan.behaviour.ttft;
    while Instant::now() < ttft_end {
        let left = ttft_end - Instant::now();
        tokio::time::sleep(left.min(Duration::from_millis(500))).await;
        if Instant::now() < ttft_end && !send(&tx, KEEPALIVE.to_string()).await {
            return cut(sent);
        }
    }
    let mut pacer = Pacer::new(plan.behaviour.tokens_per_sec);
    for (i, r) in plan.reasoning.iter().enumerate() {
        let role = if i == 0 {
            json!("assistant")
        } else {
            Value::Null
        };
        if !data(
            &tx,
            &plan.chunk(json!({"role": role, "content": "", "reasoning": r}), None),
        )
        .await
        {
            return cut(sent);
        }
        pacer.tick().await;
    }
    for tok in &plan.content {
        match &plan.fault {
            Some(Fault::Disconnect { after_tokens }) if sent >= *after_tokens => {
                // Let the connection flush what was sent (the body stream goes idle, hyper
                // writes out), then fail it: the bytes before a real disconnect do arrive.
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx
                    .send(Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionReset,
                        "simulated disconnect",
                    )))
                    .await;
                return cut(sent);
            }
            Some(Fault::StallMidStream { after_tokens }) if sent >= *after_tokens => {
                plan.record(&state, sent, true);
                tokio::time::sleep(Duration::from_secs(600)).await;
                return;
            }
            Some(Fault::ErrorChunk { after_tokens }) if sent >= *after_tokens => {
                let mut v = plan.chunk(json!({"content": ""}), Some("error"));
                v["error"] = json!({"code": 502, "message": "Upstream provider disconnected",
                                    "metadata": {"error_type": "provider_unavailable"}});
                v["usage"] = plan.usage(sent);
                plan.record(&state, sent, false);
                let _ = data(&tx, &v).await;
                let _ = send(&tx, "data: [DONE]\n\n".into()).await;
                return;
            }
            Some(Fault::MalformedJson { after_tokens }) if sent >= *after_tokens => {
                plan.record(&state, sent, false);
                let _ = send(
                    &tx,
                    "data: {\"id\":\"gen-broken\",\"choices\":[{\"delta\":\n\n".into(),
                )
                .await;
                let _ = send(&tx, "data: [DONE]\n\n".into()).await;
                return;
            }
            _ => {}
        }
        let role = if sent == 0 && plan.reasoning.is_empty() {
            json!("assistant")
        } else {
            Value::Null
        };
        let mut delta = json!({"content": tok});
        if !role.is_null() {
            delta["role"] = role;
        }
        if !data(&tx, &plan.chunk(delta, None)).await {
            return cut(sent);
        }
        sent += 1;
        pacer.tick().await;
    }
    // The finish chunk twice, the second carrying usage (OpenRouter, 2026).
    let finish = plan.chunk(json!({"content": ""}), Some(plan.finish_reason));
    if !data(&tx, &finish).await {
        return cut(sent);
    }
    if plan.fault != Some(Fault::NoUsage) {
        let mut with_usage = finish.clone();
        with_usage["usage"] = plan.usage(sent);
        if !data(&tx, &with_usage).await {
            return cut(sent);
        }
    }
    plan.record(&state, sent, false);
    let _ = send(&tx, "data: [DONE]\n\n".into()).await;
}
