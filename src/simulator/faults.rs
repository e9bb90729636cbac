//! Fault injection for the simulator: what goes wrong, for which model, how many times.
//!
//! Parsed from `MODEL=KIND[:ARG]` on the command line or set from tests.

use std::time::Duration;

/// One injected failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer with this HTTP status and an OpenRouter-shaped error body.
    Status { code: u16, retry_after: Option<u64> },
    /// Close the connection without any response.
    Refuse,
    /// Send nothing at all (not even headers) until the client gives up.
    Stall,
    /// Send headers and this many tokens, then go silent.
    StallMidStream { after_tokens: usize },
    /// Send this many tokens, then drop the connection.
    Disconnect { after_tokens: usize },
    /// Send this many tokens, then a top-level `error` chunk (with usage) and `[DONE]`.
    ErrorChunk { after_tokens: usize },
    /// Send this many tokens, then a chunk that is not valid JSON.
    MalformedJson { after_tokens: usize },
    /// Send the whole answer without the usage chunk.
    NoUsage,
    /// Send one content delta of this many bytes.
    HugeChunk { bytes: usize },
    /// Ignore `max_tokens` and stream this many tokens (billing them all), as a faulty or
    /// hostile server would.
    Flood { tokens: usize },
    /// Answer with this many numbered lines ("Line 7 of a long answer."), one token each:
    /// a long answer whose every line can be told apart (scrolling tests).
    Lines { lines: usize },
    /// Ignore `max_tokens` and stream a markdown answer of this many tokens: prose, lists
    /// and fenced Rust, Python and shell blocks in turn (what a long coding answer looks
    /// like to the renderer and the highlighter).
    Code { tokens: usize },
}

/// A fault and how many more requests it applies to (`None` = all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultPlan {
    pub fault: Fault,
    pub remaining: Option<u32>,
}

/// Timing and length of simulated answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Behaviour {
    /// Delay before the first token (keep-alive comments are sent meanwhile).
    pub ttft: Duration,
    /// Streaming speed; 0 = as fast as possible.
    pub tokens_per_sec: f64,
    /// Cap on answer length in tokens (`None` = the whole composed answer).
    pub max_answer_tokens: Option<usize>,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            ttft: Duration::ZERO,
            tokens_per_sec: 0.0,
            max_answer_tokens: None,
        }
    }
}

impl Behaviour {
    /// What the demo uses: quick but visibly streaming.
    pub fn demo() -> Self {
        Self {
            ttft: Duration::from_millis(250),
            tokens_per_sec: 180.0,
            max_answer_tokens: None,
        }
    }
}

/// Parse `KIND[:ARG]`: `401`, `402`, `403`, `429[:SECS]`, `500`, `502`, `503[:SECS]`,
/// `refuse`, `stall`, `stall-mid:N`, `disconnect:N`, `error:N`, `malformed:N`,
/// `no-usage`, `huge:BYTES`, `flood:TOKENS`, `lines:N`, `code:TOKENS`. A trailing `xN` applies it to the
/// next N requests only.
pub fn parse_fault(spec: &str) -> Result<FaultPlan, String> {
    let (body, remaining) = match spec.rsplit_once('x') {
        Some((b, n)) if !b.is_empty() && n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => {
            (b, Some(n.parse::<u32>().map_err(|e| e.to_string())?))
        }
        _ => (spec, None),
    };
    let (kind, arg) = match body.split_once(':') {
        Some((k, a)) => (k, Some(a)),
        None => (body, None),
    };
    let num = |what: &str| -> Result<usize, String> {
        arg.ok_or_else(|| format!("`{kind}` needs :{what}"))?
            .parse::<usize>()
            .map_err(|_| format!("`{}` is not a number", arg.unwrap_or_default()))
    };
    let fault = match kind {
        "refuse" => Fault::Refuse,
        "stall" => Fault::Stall,
        "no-usage" => Fault::NoUsage,
        "stall-mid" => Fault::StallMidStream {
            after_tokens: num("TOKENS")?,
        },
        "disconnect" => Fault::Disconnect {
            after_tokens: num("TOKENS")?,
        },
        "error" => Fault::ErrorChunk {
            after_tokens: num("TOKENS")?,
        },
        "malformed" => Fault::MalformedJson {
            after_tokens: num("TOKENS")?,
        },
        "huge" => Fault::HugeChunk {
            bytes: num("BYTES")?,
        },
        "flood" => Fault::Flood {
            tokens: num("TOKENS")?,
        },
        "lines" => Fault::Lines {
            lines: num("LINES")?,
        },
        "code" => Fault::Code {
            tokens: num("TOKENS")?,
        },
        code => {
            let code: u16 = code
                .parse()
                .map_err(|_| format!("unknown fault `{spec}`"))?;
            if !(400..600).contains(&code) {
                return Err(format!("status {code} is not an error status"));
            }
            let retry_after = match arg {
                Some(a) => Some(
                    a.parse::<u64>()
                        .map_err(|_| format!("`{a}` is not seconds"))?,
                ),
                None => None,
            };
            Fault::Status { code, retry_after }
        }
    };
    Ok(FaultPlan { fault, remaining })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind() {
        assert_eq!(
            parse_fault("429:7").unwrap().fault,
            Fault::Status {
                code: 429,
                retry_after: Some(7)
            }
        );
        assert_eq!(parse_fault("refuse").unwrap().fault, Fault::Refuse);
        assert_eq!(
            parse_fault("disconnect:5").unwrap().fault,
            Fault::Disconnect { after_tokens: 5 }
        );
        let p = parse_fault("503x2").unwrap();
        assert_eq!(p.remaining, Some(2));
        assert_eq!(
            p.fault,
            Fault::Status {
                code: 503,
                retry_after: None
            }
        );
        assert_eq!(
            parse_fault("code:20000").unwrap().fault,
            Fault::Code { tokens: 20_000 }
        );
        assert!(parse_fault("200").is_err());
        assert!(parse_fault("explode").is_err());
        assert!(parse_fault("error").is_err());
    }
}
