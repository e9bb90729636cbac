//! OpenRouter's key management API (`/keys`, with a management key): per-member keys,
//! each with its own spending limit that OpenRouter enforces on every machine using it.
//!
//! Must not import `router`, `ledger`, `tui`, `ratatui` or `crossterm`.

use serde::Deserialize;
use serde_json::{Value, json};

use super::client::OpenRouterClient;
use super::error::ProviderError;

/// One key as `/keys` lists it (never its secret).
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
pub struct ManagedKey {
    pub hash: String,
    #[serde(default)]
    pub name: String,
    /// A prefix of the secret, as OpenRouter shows it ("sk-or-v1-abc...").
    #[serde(default)]
    pub label: Option<String>,
    /// USD; `None` = no limit.
    #[serde(default)]
    pub limit: Option<f64>,
    /// "daily", "weekly", "monthly" or `None`.
    #[serde(default)]
    pub limit_reset: Option<String>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub usage: Option<f64>,
    #[serde(default)]
    pub usage_daily: Option<f64>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// A key just created: its record and its secret, which OpenRouter returns only once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub record: ManagedKey,
    pub secret: String,
}

/// What a key may be changed to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyChange {
    pub disabled: Option<bool>,
    /// `Some(None)` removes the limit.
    pub limit: Option<Option<f64>>,
    pub limit_reset: Option<Option<String>>,
}

impl OpenRouterClient {
    /// Every key of the account (`GET /keys`, pages of 100).
    pub async fn list_keys(&self) -> Result<Vec<ManagedKey>, ProviderError> {
        #[derive(Deserialize)]
        struct Page {
            data: Vec<ManagedKey>,
        }
        let mut all = Vec::new();
        loop {
            let page: Page = self.get_json(&format!("keys?offset={}", all.len())).await?;
            let n = page.data.len();
            all.extend(page.data);
            if n < 100 {
                return Ok(all);
            }
        }
    }

    /// Create a key (`POST /keys`) with an optional limit in USD and its reset period.
    pub async fn create_key(
        &self,
        name: &str,
        limit: Option<f64>,
        limit_reset: Option<&str>,
    ) -> Result<CreatedKey, ProviderError> {
        #[derive(Deserialize)]
        struct Created {
            data: ManagedKey,
            key: String,
        }
        let mut body = json!({ "name": name });
        if let Some(l) = limit {
            body["limit"] = json!(l);
        }
        if let Some(r) = limit_reset {
            body["limit_reset"] = json!(r);
        }
        let c: Created = self
            .call_json(reqwest::Method::POST, "keys", Some(&body))
            .await?;
        Ok(CreatedKey {
            record: c.data,
            secret: c.key,
        })
    }

    /// Change a key (`PATCH /keys/{hash}`).
    pub async fn update_key(
        &self,
        hash: &str,
        change: &KeyChange,
    ) -> Result<ManagedKey, ProviderError> {
        #[derive(Deserialize)]
        struct Updated {
            data: ManagedKey,
        }
        if !hash.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ProviderError::Protocol {
                detail: format!("`{hash}` is not a key hash"),
            });
        }
        let mut body = json!({});
        if let Some(d) = change.disabled {
            body["disabled"] = json!(d);
        }
        if let Some(l) = &change.limit {
            body["limit"] = l.map_or(Value::Null, |v| json!(v));
        }
        if let Some(r) = &change.limit_reset {
            body["limit_reset"] = r.as_ref().map_or(Value::Null, |v| json!(v));
        }
        let u: Updated = self
            .call_json(reqwest::Method::PATCH, &format!("keys/{hash}"), Some(&body))
            .await?;
        Ok(u.data)
    }
}
