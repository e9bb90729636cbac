//! Request and stream types: what we send, what OpenRouter's JSON looks like on the wire
//! (lenient: unknown fields ignored, everything optional), and the typed events we emit.
//!
//! Must not import the router, ledger or tui modules.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::money::Usd;

/// One chat message. Its text is shared, not copied: the conversation's history, each
/// request built from it and the front end's transcript hold the same allocation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: Arc<str>,
}

impl Message {
    pub fn user(content: impl Into<Arc<str>>) -> Self {
        Self {
            role: Role::User,
            content: content.into(),
        }
    }

    pub fn system(content: impl Into<Arc<str>>) -> Self {
        Self {
            role: Role::System,
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<Arc<str>>) -> Self {
        Self {
            role: Role::Assistant,
            content: content.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

/// A chat completion request.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    pub max_tokens: Option<u64>,
    pub temperature: Option<f32>,
    /// OpenRouter's `provider.max_price` (USD per million prompt and completion tokens):
    /// no provider dearer than the prices the reservation was made with may serve it.
    pub max_price: Option<MaxPrice>,
}

/// Price caps per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MaxPrice {
    pub prompt: f64,
    pub completion: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct ProviderPrefs {
    pub max_price: MaxPrice,
}

/// The JSON body sent to `/chat/completions`.
#[derive(Debug, Serialize)]
pub(crate) struct WireRequest<'a> {
    pub model: &'a str,
    pub messages: &'a [Message],
    pub stream: bool,
    pub usage: UsageFlag,
    pub stream_options: StreamOptions,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderPrefs>,
}

#[derive(Debug, Serialize)]
pub(crate) struct UsageFlag {
    pub include: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct StreamOptions {
    pub include_usage: bool,
}

/// Token counts and cost of one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Includes `cached_tokens`.
    pub prompt_tokens: u64,
    /// Includes `reasoning_tokens`.
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
    /// What the account was charged; `None` when the provider did not say.
    pub cost: Option<Usd>,
    pub is_byok: bool,
}

impl Usage {
    pub(crate) fn from_wire(u: &WireUsage) -> Self {
        let prompt_details = u.prompt_tokens_details.as_ref();
        let completion_details = u.completion_tokens_details.as_ref();
        Usage {
            prompt_tokens: u.prompt_tokens.unwrap_or(0),
            completion_tokens: u.completion_tokens.unwrap_or(0),
            cached_tokens: prompt_details.and_then(|d| d.cached_tokens).unwrap_or(0),
            cache_write_tokens: prompt_details
                .and_then(|d| d.cache_write_tokens)
                .unwrap_or(0),
            reasoning_tokens: completion_details
                .and_then(|d| d.reasoning_tokens)
                .unwrap_or(0),
            cost: u.cost.map(Usd::from_dollars),
            is_byok: u.is_byok.unwrap_or(false),
        }
    }
}

/// One typed event of a chat stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A keep-alive comment: the provider is queued or thinking.
    KeepAlive,
    /// The first data chunk: ids of what is actually answering.
    Started {
        generation_id: Option<String>,
        /// The model that serves the request; may differ from the requested id.
        served_model: Option<String>,
        provider: Option<String>,
    },
    /// Answer text.
    Content(String),
    /// Reasoning text (shown dimmed, never sent back as answer).
    Reasoning(String),
    /// The finish reason (`stop`, `length`, `tool_calls`, `content_filter`).
    Finish {
        reason: String,
        native: Option<String>,
    },
    /// Usage and cost, sent once near the end.
    Usage(Usage),
    /// `[DONE]`: the stream ended normally.
    Done,
}

// ---- wire JSON (lenient) ----

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireChunk {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub provider: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub choices: Vec<WireChoice>,
    #[serde(default)]
    pub usage: Option<WireUsage>,
    #[serde(default)]
    pub error: Option<WireError>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireChoice {
    #[serde(default)]
    pub delta: Option<WireDelta>,
    #[serde(default)]
    pub message: Option<WireDelta>,
    #[serde(default)]
    pub finish_reason: Option<String>,
    #[serde(default)]
    pub native_finish_reason: Option<String>,
    #[serde(default)]
    pub error: Option<WireError>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireDelta {
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub reasoning: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub cost: Option<f64>,
    #[serde(default)]
    pub is_byok: Option<bool>,
    #[serde(default)]
    pub prompt_tokens_details: Option<WirePromptDetails>,
    #[serde(default)]
    pub completion_tokens_details: Option<WireCompletionDetails>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WirePromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
    #[serde(default)]
    pub cache_write_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireCompletionDetails {
    #[serde(default)]
    pub reasoning_tokens: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireError {
    #[serde(default)]
    pub code: Option<ErrorCode>,
    #[serde(default)]
    pub message: Option<String>,
}

/// `error.code` is a number or a string depending on the source.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum ErrorCode {
    Number(i64),
    Text(String),
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ErrorCode::Number(n) => write!(f, "{n}"),
            ErrorCode::Text(s) => f.write_str(s),
        }
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// One entry of `GET /models` (only what the catalog needs).
#[derive(Debug, Clone, Deserialize)]
pub struct ListedModel {
    pub id: String,
    #[serde(default)]
    pub context_length: Option<u64>,
    #[serde(default)]
    pub pricing: Option<ListedPricing>,
    #[serde(default)]
    pub top_provider: Option<ListedTopProvider>,
}

/// Prices as decimal strings in USD per token.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedPricing {
    #[serde(default)]
    pub prompt: Option<String>,
    #[serde(default)]
    pub completion: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ListedTopProvider {
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
}

impl ListedModel {
    /// (prompt, completion) in USD per million tokens; `None` for variable or missing prices.
    pub fn prices_per_million(&self) -> Option<(f64, f64)> {
        let p = self.pricing.as_ref()?;
        let parse = |s: &Option<String>| -> Option<f64> {
            let v: f64 = s.as_deref()?.trim().parse().ok()?;
            (v.is_finite() && v >= 0.0).then_some(v * 1e6)
        };
        Some((parse(&p.prompt)?, parse(&p.completion)?))
    }
}
