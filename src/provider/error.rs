//! Typed provider errors that the UI and the router can act on.
//!
//! Must not import the router, ledger or tui modules.

use std::time::Duration;

/// Which deadline ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    Connect,
    FirstByte,
    Idle,
    FirstToken,
    /// The turn's own deadline: no model's first token, over every model tried.
    Turn,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connecting",
            TimeoutPhase::FirstByte => "waiting for the first byte",
            TimeoutPhase::Idle => "waiting for the next stream event",
            TimeoutPhase::FirstToken => "waiting for the first token",
            TimeoutPhase::Turn => {
                "waiting for any model's first token (the turn's deadline, `timeouts.turn_ms`; no other model is tried)"
            }
        })
    }
}

/// A coarse class of [`ProviderError`] for code that only needs to branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    Auth,
    Credits,
    KeyLimit,
    Moderation,
    RateLimited,
    Upstream,
    NoProvider,
    Server,
    BadRequest,
    Connect,
    Timeout,
    StreamCut,
    StreamError,
    Protocol,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Credits => "credits",
            ErrorKind::KeyLimit => "key_limit",
            ErrorKind::Moderation => "moderation",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Upstream => "upstream",
            ErrorKind::NoProvider => "no_provider",
            ErrorKind::Server => "server",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::StreamCut => "stream_cut",
            ErrorKind::StreamError => "stream_error",
            ErrorKind::Protocol => "protocol",
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    #[error("the API key was rejected (401): {message}; check OPENROUTER_API_KEY")]
    Auth { message: String },
    #[error("not enough OpenRouter credits (402): {message}")]
    Credits { message: String },
    /// 403 "Key limit exceeded (daily limit)": the key's own spending limit (a team's
    /// shared budget) is used up. No other model fares better with the same key.
    #[error(
        "the OpenRouter key's spending limit is reached (403): {message}. The key's owner can raise it in the OpenRouter settings; it comes back when the limit resets (midnight UTC)"
    )]
    KeyLimit { message: String },
    #[error("blocked by moderation (403): {message}")]
    Moderation { message: String },
    #[error("rate limited (429){}: {message}", retry_hint(*retry_after))]
    RateLimited {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("the upstream provider failed (502): {message}")]
    Upstream { message: String },
    #[error("no provider is available for this model (503){}: {message}", retry_hint(*retry_after))]
    NoProvider {
        retry_after: Option<Duration>,
        message: String,
    },
    #[error("server error ({status}): {message}")]
    Server { status: u16, message: String },
    #[error("request rejected ({status}): {message}")]
    BadRequest { status: u16, message: String },
    #[error("cannot reach {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("timed out after {} ms {phase}", after.as_millis())]
    Timeout {
        phase: TimeoutPhase,
        after: Duration,
    },
    #[error("the stream was cut before it finished: {reason}")]
    StreamCut { reason: String },
    #[error("the model stopped with an error mid-stream{}: {message}", code.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    StreamError {
        code: Option<String>,
        message: String,
    },
    #[error("malformed response from the provider: {detail}")]
    Protocol { detail: String },
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", retry after {} s", d.as_secs().max(1)),
        None => String::new(),
    }
}

impl ProviderError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ProviderError::Auth { .. } => ErrorKind::Auth,
            ProviderError::Credits { .. } => ErrorKind::Credits,
            ProviderError::KeyLimit { .. } => ErrorKind::KeyLimit,
            ProviderError::Moderation { .. } => ErrorKind::Moderation,
            ProviderError::RateLimited { .. } => ErrorKind::RateLimited,
            ProviderError::Upstream { .. } => ErrorKind::Upstream,
            ProviderError::NoProvider { .. } => ErrorKind::NoProvider,
            ProviderError::Server { .. } => ErrorKind::Server,
            ProviderError::BadRequest { .. } => ErrorKind::BadRequest,
            ProviderError::Connect { .. } => ErrorKind::Connect,
            ProviderError::Timeout { .. } => ErrorKind::Timeout,
            ProviderError::StreamCut { .. } => ErrorKind::StreamCut,
            ProviderError::StreamError { .. } => ErrorKind::StreamError,
            ProviderError::Protocol { .. } => ErrorKind::Protocol,
        }
    }

    /// Whether another model may succeed where this one failed before the first token
    /// (the router's fallback rule). Auth, credits and moderation fail everywhere.
    pub fn is_retryable(&self) -> bool {
        // 404 "No endpoints found for <model>": this model is gone, another may answer.
        if matches!(self, ProviderError::BadRequest { status: 404, .. }) {
            return true;
        }
        matches!(
            self.kind(),
            ErrorKind::RateLimited
                | ErrorKind::Upstream
                | ErrorKind::NoProvider
                | ErrorKind::Server
                | ErrorKind::Connect
                | ErrorKind::Timeout
                | ErrorKind::StreamCut
                | ErrorKind::StreamError
                | ErrorKind::Protocol
        )
    }

    /// For a 402 "… You requested up to N tokens, but can only afford M": M, the most
    /// output tokens the key or account can pay for now.
    pub fn affordable_tokens(&self) -> Option<u64> {
        let ProviderError::Credits { message } = self else {
            return None;
        };
        let rest = &message[message.find("can only afford")? + "can only afford".len()..];
        let digits: String = rest
            .trim_start()
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    }

    /// The provider's `Retry-After`, where it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ProviderError::RateLimited { retry_after, .. }
            | ProviderError::NoProvider { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Map an HTTP error status and its JSON body (`{"error":{code,message,metadata}}`).
    pub fn from_status(status: u16, retry_after: Option<Duration>, body: &str) -> Self {
        let message = error_message(body).unwrap_or_else(|| {
            let t = body.trim();
            if t.is_empty() {
                "no details given".to_string()
            } else {
                t.chars().take(300).collect()
            }
        });
        match status {
            401 => ProviderError::Auth { message },
            402 => ProviderError::Credits { message },
            403 if message.to_ascii_lowercase().contains("key limit") => {
                ProviderError::KeyLimit { message }
            }
            403 => ProviderError::Moderation { message },
            429 => ProviderError::RateLimited {
                retry_after,
                message,
            },
            502 => ProviderError::Upstream { message },
            503 => ProviderError::NoProvider {
                retry_after,
                message,
            },
            s if s >= 500 => ProviderError::Server { status: s, message },
            s => ProviderError::BadRequest { status: s, message },
        }
    }
}

/// `error.message` (plus `metadata.raw` / provider name when present) from an error body.
fn error_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let err = v.get("error")?;
    let mut msg = err.get("message")?.as_str()?.to_string();
    if let Some(meta) = err.get("metadata") {
        if let Some(provider) = meta.get("provider_name").and_then(|p| p.as_str()) {
            msg.push_str(&format!(" [{provider}]"));
        }
        if let Some(raw) = meta.get("raw").and_then(|r| r.as_str()) {
            let raw: String = raw.chars().take(200).collect();
            msg.push_str(&format!(": {raw}"));
        }
    }
    Some(msg)
}

/// Parse a `Retry-After` header value in seconds (HTTP dates are not used by OpenRouter).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    v.parse::<u64>().ok().map(Duration::from_secs).or_else(|| {
        v.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .map(Duration::from_secs_f64)
    })
}
