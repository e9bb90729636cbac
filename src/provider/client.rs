//! The HTTP client: `POST /chat/completions` as a typed event stream, and `GET /models`.
//!
//! Deadlines: connect, first byte (response headers) and the idle gap between stream
//! events. A request is never retried here: a re-sent POST is billed again. Cancelling is
//! dropping the [`ChatStream`], which closes the connection.

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::error::{ProviderError, TimeoutPhase, parse_retry_after};
use super::sse::{ChunkInterpreter, SseDecoder};
use super::types::{
    ChatRequest, ListedModel, ProviderPrefs, StreamEvent, StreamOptions, UsageFlag, WireRequest,
};
use crate::config::{ApiKey, Timeouts};

pub const APP_TITLE: &str = "CodeForge";
pub const APP_REFERER: &str = "https://github.com/codeforge-cli/codeforge";

/// TLS runs on rustls with the ring provider (reqwest is built without its aws-lc-rs default,
/// for a smaller binary). reqwest panics when building a client with no process-wide provider,
/// so every client is built after this. Installing twice is harmless: the first one stays.
pub fn install_crypto_provider() {
    let _already = rustls::crypto::ring::default_provider().install_default();
}

/// A client for one OpenAI-compatible base URL.
#[derive(Clone)]
pub struct OpenRouterClient {
    http: reqwest::Client,
    base_url: String,
    api_key: Option<ApiKey>,
    timeouts: Timeouts,
}

impl std::fmt::Debug for OpenRouterClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenRouterClient")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl OpenRouterClient {
    pub fn new(
        base_url: &str,
        api_key: Option<ApiKey>,
        timeouts: Timeouts,
    ) -> Result<Self, ProviderError> {
        install_crypto_provider();
        let mut builder = reqwest::Client::builder().connect_timeout(timeouts.connect);
        if !base_url
            .get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
        {
            // Plain http (this machine, or a host the config allows in clear): no TLS, so no
            // system certificates to find and parse at every start (~140 files read), and
            // no failure where a system has none.
            builder = builder.tls_certs_only(std::iter::empty());
        }
        let http = builder.build().map_err(|e| ProviderError::Connect {
            url: base_url.to_string(),
            reason: format!("cannot build the HTTP client: {}", innermost(&e)),
        })?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
            timeouts,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn with_headers(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let rb = rb
            .header("HTTP-Referer", APP_REFERER)
            .header("X-Title", APP_TITLE)
            .header("X-OpenRouter-Title", APP_TITLE);
        match &self.api_key {
            Some(k) => rb.bearer_auth(k.expose()),
            None => rb,
        }
    }

    fn transport_error(&self, url: &str, e: &reqwest::Error) -> ProviderError {
        if e.is_timeout() {
            return ProviderError::Timeout {
                phase: TimeoutPhase::Connect,
                after: self.timeouts.connect,
            };
        }
        ProviderError::Connect {
            url: url.to_string(),
            reason: innermost(e),
        }
    }

    /// Send a request and wait for its headers, with the first-byte deadline.
    async fn send(
        &self,
        url: &str,
        rb: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ProviderError> {
        let fut = self.with_headers(rb).send();
        let resp = match tokio::time::timeout(self.timeouts.first_byte, fut).await {
            Err(_) => {
                return Err(ProviderError::Timeout {
                    phase: TimeoutPhase::FirstByte,
                    after: self.timeouts.first_byte,
                });
            }
            Ok(Err(e)) => return Err(self.transport_error(url, &e)),
            Ok(Ok(r)) => r,
        };
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let body = match tokio::time::timeout(self.timeouts.idle, resp.text()).await {
            Ok(Ok(b)) => b,
            _ => String::new(),
        };
        Err(ProviderError::from_status(status, retry_after, &body))
    }

    /// Start a streamed chat completion.
    pub async fn stream(&self, req: &ChatRequest) -> Result<ChatStream, ProviderError> {
        let url = format!("{}/chat/completions", self.base_url);
        let body = WireRequest {
            model: &req.model,
            messages: &req.messages,
            stream: true,
            usage: UsageFlag { include: true },
            stream_options: StreamOptions {
                include_usage: true,
            },
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            provider: req.max_price.map(|max_price| ProviderPrefs { max_price }),
        };
        let resp = self.send(&url, self.http.post(&url).json(&body)).await?;
        let generation_id = resp
            .headers()
            .get("x-generation-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok(ChatStream {
            body: Box::pin(resp.bytes_stream()),
            decoder: SseDecoder::new(),
            interpreter: ChunkInterpreter::new(),
            pending: VecDeque::new(),
            idle: self.timeouts.idle,
            ended: false,
            header_generation_id: generation_id,
        })
    }

    /// `GET /generation?id=`: what a generation finally cost (for cancelled, cut and
    /// orphaned requests). The record appears a little after the stream ends.
    pub async fn generation(&self, id: &str) -> Result<GenerationInfo, ProviderError> {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            data: GenerationInfo,
        }
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ProviderError::Protocol {
                detail: format!("`{id}` is not a generation id"),
            });
        }
        let w: Wrapper = self.get_json(&format!("generation?id={id}")).await?;
        Ok(w.data)
    }

    /// `GET {base}/{path}` as JSON, with the first-byte and idle deadlines.
    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, ProviderError> {
        self.call_json(reqwest::Method::GET, path, None).await
    }

    /// `METHOD {base}/{path}` with an optional JSON body, answered with JSON.
    pub(super) async fn call_json<T: serde::de::DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<T, ProviderError> {
        let url = format!("{}/{path}", self.base_url);
        let mut rb = self.http.request(method, &url);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        let resp = self.send(&url, rb).await?;
        let text = tokio::time::timeout(self.timeouts.idle, resp.text())
            .await
            .map_err(|_| ProviderError::Timeout {
                phase: TimeoutPhase::Idle,
                after: self.timeouts.idle,
            })?
            .map_err(|e| ProviderError::StreamCut {
                reason: e.to_string(),
            })?;
        let name = path.split('?').next().unwrap_or(path);
        serde_json::from_str(&text).map_err(|e| ProviderError::Protocol {
            detail: format!("/{name} is not the expected JSON: {e}"),
        })
    }

    /// `GET /key`: the key's spending limit and usage. Older servers answer only the
    /// legacy path `/auth/key`, tried when `/key` is not found.
    pub async fn key_info(&self) -> Result<KeyInfo, ProviderError> {
        #[derive(serde::Deserialize)]
        struct Wrapper {
            data: KeyInfo,
        }
        let w: Wrapper = match self.get_json("key").await {
            Err(ProviderError::BadRequest { status: 404, .. }) => self.get_json("auth/key").await?,
            other => other?,
        };
        Ok(w.data)
    }

    /// `GET /models`.
    pub async fn list_models(&self) -> Result<Vec<ListedModel>, ProviderError> {
        #[derive(serde::Deserialize)]
        struct Listing {
            data: Vec<ListedModel>,
        }
        let listing: Listing = self.get_json("models").await?;
        Ok(listing.data)
    }
}

/// The fields of `GET /key` the budget uses (credits are US dollars). `limit` and
/// `limit_remaining` are `None` for a key without a spending limit.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct KeyInfo {
    #[serde(default)]
    pub limit: Option<f64>,
    #[serde(default)]
    pub limit_remaining: Option<f64>,
    /// "daily", "weekly", "monthly" or `None` (a total limit).
    #[serde(default)]
    pub limit_reset: Option<String>,
    #[serde(default)]
    pub usage_daily: Option<f64>,
}

/// The fields of `GET /generation` that settle a cost.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct GenerationInfo {
    #[serde(default)]
    pub total_cost: f64,
    #[serde(default)]
    pub tokens_prompt: Option<u64>,
    #[serde(default)]
    pub tokens_completion: Option<u64>,
    #[serde(default)]
    pub native_tokens_prompt: Option<u64>,
    #[serde(default)]
    pub native_tokens_completion: Option<u64>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub cancelled: Option<bool>,
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// A live chat stream. Pull events with [`ChatStream::next`]; drop it to cancel.
pub struct ChatStream {
    body: ByteStream,
    decoder: SseDecoder,
    interpreter: ChunkInterpreter,
    pending: VecDeque<Result<StreamEvent, ProviderError>>,
    idle: Duration,
    ended: bool,
    header_generation_id: Option<String>,
}

impl ChatStream {
    /// The `X-Generation-Id` response header, known before any chunk.
    pub fn generation_id(&self) -> Option<&str> {
        self.header_generation_id.as_deref()
    }

    /// The next event; `None` after `Done` or after an error was returned.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        loop {
            if let Some(ev) = self.pending.pop_front() {
                if ev.is_err() || matches!(ev, Ok(StreamEvent::Done)) {
                    self.ended = true;
                    self.pending.clear();
                }
                return Some(ev);
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout(self.idle, self.body.next()).await {
                Err(_) => self.pending.push_back(Err(ProviderError::Timeout {
                    phase: TimeoutPhase::Idle,
                    after: self.idle,
                })),
                Ok(Some(Ok(bytes))) => match self.decoder.push(&bytes) {
                    Ok(items) => {
                        for item in items {
                            self.interpret(item);
                        }
                    }
                    Err(e) => self.pending.push_back(Err(e)),
                },
                Ok(Some(Err(e))) => self.pending.push_back(Err(ProviderError::StreamCut {
                    reason: innermost(&e),
                })),
                Ok(None) => {
                    for item in self.decoder.finish() {
                        self.interpret(item);
                    }
                    if !self.interpreter.done() && !self.pending_has_end() {
                        if self.interpreter.finish_seen() {
                            // Complete answer; only the terminator was lost.
                            self.pending.push_back(Ok(StreamEvent::Done));
                        } else {
                            self.pending.push_back(Err(ProviderError::StreamCut {
                                reason: "the connection closed before [DONE]".to_string(),
                            }));
                        }
                    }
                    if self.pending.is_empty() {
                        self.ended = true;
                    }
                }
            }
        }
    }

    fn pending_has_end(&self) -> bool {
        self.pending
            .iter()
            .any(|e| e.is_err() || matches!(e, Ok(StreamEvent::Done)))
    }

    fn interpret(&mut self, item: super::sse::SseItem) {
        if self.pending_has_end() {
            return;
        }
        let out = self.interpreter.item(item);
        self.pending.extend(out.events.into_iter().map(Ok));
        if let Some(e) = out.error {
            self.pending.push_back(Err(e));
        }
    }
}

/// reqwest's Display names only the URL; the innermost cause says why it failed.
fn innermost(e: &reqwest::Error) -> String {
    let mut reason = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        reason = s.to_string();
        source = s.source();
    }
    reason
}
