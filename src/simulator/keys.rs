//! Keys in the simulator, as OpenRouter has them: each key's own spending limit (`GET
//! /key`; 403 "Key limit exceeded" once spent; 402 "can only afford M" for a request whose
//! worst case does not fit what is left less what is in flight) and the management API
//! (`/keys`, with a management key) that creates, lists and disables per-member keys.
//!
//! Keys created through `/keys` have their own limit and usage; every other key shares the
//! default limit (`codeforge simulate --key-limit`). Must not import the router, ledger or
//! tui modules.

use std::collections::HashMap;

use hyper::{Response, StatusCode};
use serde_json::{Value, json};

use super::{GenerationRecord, SimBody, SimState, error_response, full, lock};
use crate::catalog::ModelSpec;

/// A key created through `/keys`.
#[derive(Debug, Clone)]
struct Managed {
    hash: String,
    name: String,
    secret: String,
    limit: Option<f64>,
    reset: Option<String>,
    disabled: bool,
    created_at: String,
}

/// Every key's limit, what is in flight on it, and the keys created through `/keys`.
#[derive(Debug, Default)]
pub(crate) struct KeyState {
    /// The limit (USD, resetting daily) of every key not created through `/keys`.
    pub default_limit: Option<f64>,
    /// The key that may call `/keys` (none: nobody may).
    pub management_key: Option<String>,
    managed: Vec<Managed>,
    /// Worst cases of the requests streaming now, by generation id: (key, USD).
    in_flight: HashMap<String, (String, f64)>,
    created: u64,
}

impl KeyState {
    fn managed(&self, secret: &str) -> Option<&Managed> {
        self.managed.iter().find(|m| m.secret == secret)
    }

    /// Whether two keys spend from one limit: the same created key, or both default keys.
    fn same_scope(&self, a: &str, b: &str) -> bool {
        match (self.managed(a), self.managed(b)) {
            (Some(x), Some(y)) => x.hash == y.hash,
            (None, None) => true,
            _ => false,
        }
    }

    /// The limit of `secret`'s scope and its reset.
    fn limit_of(&self, secret: &str) -> (Option<f64>, Option<String>) {
        match self.managed(secret) {
            Some(m) => (m.limit, m.reset.clone()),
            None => (self.default_limit, Some("daily".into())),
        }
    }

    /// A generation has been billed: it is no longer in flight.
    pub fn settled(&mut self, generation: &str) {
        self.in_flight.remove(generation);
    }

    /// Whether `secret` is a created key that was disabled.
    pub fn disabled(&self, secret: &str) -> bool {
        self.managed(secret).is_some_and(|m| m.disabled)
    }
}

/// The bearer token of an `Authorization` header ("" when none).
pub(crate) fn bearer(authorization: Option<&str>) -> &str {
    authorization
        .and_then(|a| a.strip_prefix("Bearer "))
        .unwrap_or("")
}

type Generations = HashMap<String, GenerationRecord>;

/// What `secret`'s scope has been billed. (Locks are always taken generations first,
/// then keys.)
fn usage(generations: &Generations, keys: &KeyState, secret: &str) -> f64 {
    generations
        .values()
        .filter(|g| keys.same_scope(&g.key, secret))
        .map(|g| g.total_cost)
        .sum::<f64>()
        + 0.0
}

/// OpenRouter's check before a request starts, for the key `secret`: 403 when its limit
/// is spent, 402 "can only afford M" when the worst case does not fit what is left less
/// what is in flight on it; else the worst case is held as in flight.
pub(crate) fn admit(
    state: &SimState,
    secret: &str,
    generation: &str,
    model: &ModelSpec,
    prompt_tokens: u64,
    max_tokens: u64,
) -> Result<(), (u16, String)> {
    let generations = lock(&state.generations);
    let mut keys = lock(&state.keys);
    let (Some(limit), reset) = keys.limit_of(secret) else {
        return Ok(());
    };
    let used = usage(&generations, &keys, secret);
    if used >= limit {
        let period = reset.as_deref().unwrap_or("total");
        return Err((
            403,
            format!(
                "Key limit exceeded ({period} limit). Manage it using https://openrouter.ai/settings/keys"
            ),
        ));
    }
    let held: f64 = keys
        .in_flight
        .values()
        .filter(|(k, _)| keys.same_scope(k, secret))
        .map(|(_, usd)| usd)
        .sum();
    let left = limit - used - held;
    let worst = model.cost(prompt_tokens, max_tokens).dollars();
    if worst > left {
        let prompt_cost = model.cost(prompt_tokens, 0).dollars();
        let per_token = model.completion_price / 1e6;
        let afford = if per_token > 0.0 {
            ((left - prompt_cost) / per_token).floor().max(0.0) as u64
        } else {
            max_tokens
        };
        return Err((
            402,
            format!(
                "This request requires more credits, or fewer max_tokens. You requested up to {max_tokens} tokens, but can only afford {afford}. To increase, visit https://openrouter.ai/settings/keys and create a key with a higher total limit"
            ),
        ));
    }
    keys.in_flight
        .insert(generation.to_string(), (secret.to_string(), worst));
    Ok(())
}

/// `GET /key` for the key `secret`.
pub(crate) fn key_response(state: &SimState, secret: &str) -> Response<SimBody> {
    let generations = lock(&state.generations);
    let keys = lock(&state.keys);
    let used = usage(&generations, &keys, secret);
    let (limit, reset) = keys.limit_of(secret);
    let remaining = limit.map(|l| (l - used).max(0.0));
    let managed = keys.managed(secret);
    full(
        StatusCode::OK,
        json!({"data": {
            "label": managed.map_or("sk-or-v1-sim...".to_string(), |m| label(&m.secret)),
            "limit": limit, "limit_remaining": remaining,
            "limit_reset": if limit.is_some() { json!(reset) } else { Value::Null },
            "usage": used, "usage_daily": used, "is_free_tier": false,
            "is_management_key": keys.management_key.as_deref() == Some(secret),
        }}),
    )
}

fn label(secret: &str) -> String {
    format!("{}...", secret.chars().take(14).collect::<String>())
}

fn describe(generations: &Generations, keys: &KeyState, m: &Managed) -> Value {
    let used = usage(generations, keys, &m.secret);
    json!({"hash": m.hash, "name": m.name, "label": label(&m.secret), "limit": m.limit,
           "limit_reset": m.reset, "disabled": m.disabled, "usage": used,
           "usage_daily": used, "created_at": m.created_at})
}

/// `/keys` and `/keys/{hash}`: list, create, read, change and delete keys, with the
/// management key only.
pub(crate) fn manage(
    state: &SimState,
    secret: &str,
    method: &str,
    route: &str,
    body: &[u8],
) -> Response<SimBody> {
    let generations = lock(&state.generations);
    let mut keys = lock(&state.keys);
    if keys.management_key.as_deref() != Some(secret) || secret.is_empty() {
        return error_response(403, "Only management keys can perform this operation", None);
    }
    let hash = route.strip_prefix("/keys/").map(str::to_string);
    let body: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (method, hash) {
        ("GET", None) => {
            let data: Vec<Value> = keys
                .managed
                .iter()
                .map(|m| describe(&generations, &keys, m))
                .collect();
            full(StatusCode::OK, json!({ "data": data }))
        }
        ("POST", None) => {
            let Some(name) = body.get("name").and_then(Value::as_str) else {
                return error_response(400, "name is required", None);
            };
            keys.created += 1;
            let n = keys.created;
            let m = Managed {
                hash: format!("{:064x}", 0x00c0_def0_u64.wrapping_mul(n + 7)),
                name: name.to_string(),
                secret: format!("sk-or-v1-sim{n:04}{}", "0".repeat(48)),
                limit: body.get("limit").and_then(Value::as_f64),
                reset: body
                    .get("limit_reset")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                disabled: false,
                created_at: "2026-12-01T00:00:00Z".into(),
            };
            let data = describe(&generations, &keys, &m);
            let secret = m.secret.clone();
            keys.managed.push(m);
            full(StatusCode::CREATED, json!({ "data": data, "key": secret }))
        }
        (method, Some(hash)) => {
            let Some(i) = keys.managed.iter().position(|m| m.hash == hash) else {
                return error_response(404, "Key not found", None);
            };
            match method {
                "GET" => full(
                    StatusCode::OK,
                    json!({ "data": describe(&generations, &keys, &keys.managed[i]) }),
                ),
                "PATCH" => {
                    let m = &mut keys.managed[i];
                    if let Some(d) = body.get("disabled").and_then(Value::as_bool) {
                        m.disabled = d;
                    }
                    if let Some(l) = body.get("limit") {
                        m.limit = l.as_f64();
                    }
                    if let Some(r) = body.get("limit_reset") {
                        m.reset = r.as_str().map(str::to_string);
                    }
                    if let Some(n) = body.get("name").and_then(Value::as_str) {
                        m.name = n.to_string();
                    }
                    full(
                        StatusCode::OK,
                        json!({ "data": describe(&generations, &keys, &keys.managed[i]) }),
                    )
                }
                "DELETE" => {
                    keys.managed.remove(i);
                    full(StatusCode::OK, json!({ "deleted": true }))
                }
                _ => error_response(405, "method not allowed", None),
            }
        }
        _ => error_response(405, "method not allowed", None),
    }
}
