//! `codeforge keys create|list|disable|enable`: a team's per-member OpenRouter keys, each
//! with its own spending limit that OpenRouter enforces wherever the key is used (the
//! management API, with a management key from `OPENROUTER_MANAGEMENT_KEY`).
//!
//! The management key is never printed; a created key is printed once, on stdout, and
//! stored nowhere.

use serde_json::json;

use super::{CommandError, Output};
use crate::cli::{KeyReset, KeysAction};
use crate::config::{ApiKey, Config};
use crate::provider::{KeyChange, ManagedKey, OpenRouterClient, ProviderError};

/// Where the management key is read from.
pub const MANAGEMENT_KEY_VAR: &str = "OPENROUTER_MANAGEMENT_KEY";

fn client(config: &Config) -> Result<OpenRouterClient, CommandError> {
    let key = std::env::var(MANAGEMENT_KEY_VAR)
        .ok()
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            CommandError::Usage(format!(
                "`keys` needs an OpenRouter management key (it manages keys and cannot call models): create one at https://openrouter.ai/settings/management-keys and set {MANAGEMENT_KEY_VAR}"
            ))
        })?;
    Ok(OpenRouterClient::new(
        &config.base_url,
        Some(ApiKey::new(key)),
        config.timeouts,
    )?)
}

/// A refusal of the management key said as such, not as "moderation".
fn explain(e: ProviderError) -> CommandError {
    match e {
        ProviderError::Auth { message } | ProviderError::Moderation { message } => {
            CommandError::Usage(format!(
                "OpenRouter refused the management key in {MANAGEMENT_KEY_VAR}: {message}. An ordinary API key cannot manage keys"
            ))
        }
        other => CommandError::Provider(other),
    }
}

fn reset_name(r: KeyReset) -> Option<&'static str> {
    match r {
        KeyReset::Daily => Some("daily"),
        KeyReset::Weekly => Some("weekly"),
        KeyReset::Monthly => Some("monthly"),
        KeyReset::Never => None,
    }
}

/// The one key named `name`.
fn find<'a>(keys: &'a [ManagedKey], name: &str) -> Result<&'a ManagedKey, CommandError> {
    let found: Vec<&ManagedKey> = keys.iter().filter(|k| k.name == name).collect();
    match found.as_slice() {
        [one] => Ok(one),
        [] => Err(CommandError::Usage(format!(
            "no key named `{name}` (`codeforge keys list` shows them)"
        ))),
        _ => Err(CommandError::Usage(format!(
            "{} keys are named `{name}`: change one in the OpenRouter settings first",
            found.len()
        ))),
    }
}

fn usd(v: Option<f64>) -> String {
    // `+ 0.0` turns a negative zero (an empty sum) into zero.
    v.map_or_else(|| "—".to_string(), |u| format!("${:.4}", u + 0.0))
}

pub async fn run(
    config: &Config,
    action: &KeysAction,
    out: &mut Output,
) -> Result<(), CommandError> {
    let client = client(config)?;
    match action {
        KeysAction::Create { name, limit, reset } => {
            if !crate::budget::valid_limit(*limit) {
                return Err(CommandError::Usage(format!(
                    "--limit {limit}: expected an amount in USD from 0"
                )));
            }
            if name.trim().is_empty() {
                return Err(CommandError::Usage("the key needs a name".into()));
            }
            let existing = client.list_keys().await.map_err(explain)?;
            if existing.iter().any(|k| &k.name == name) {
                return Err(CommandError::Usage(format!(
                    "a key named `{name}` exists already (`codeforge keys list`)"
                )));
            }
            let created = client
                .create_key(name, Some(*limit), reset_name(*reset))
                .await
                .map_err(explain)?;
            out.err_line(&format!(
                "created `{name}`: limit ${limit} {}; give this key to {name} (OPENROUTER_API_KEY); it is shown only now:",
                reset_name(*reset).unwrap_or("in total")
            ));
            out.line(&crate::sanitize::for_terminal(&created.secret));
        }
        KeysAction::List { json } => {
            let keys = client.list_keys().await.map_err(explain)?;
            if *json {
                out.line(&json!({ "keys": keys }).to_string());
                return Ok(());
            }
            out.line(&format!(
                "{:<20} {:>10} {:>8} {:>10} {:>10}  state",
                "name", "limit", "reset", "today", "total"
            ));
            for k in &keys {
                out.line(&crate::sanitize::for_terminal(&format!(
                    "{:<20} {:>10} {:>8} {:>10} {:>10}  {}",
                    k.name,
                    usd(k.limit),
                    k.limit_reset.as_deref().unwrap_or("total"),
                    usd(k.usage_daily),
                    usd(k.usage),
                    if k.disabled { "disabled" } else { "active" }
                )));
            }
            if keys.is_empty() {
                out.line("(no keys yet: `codeforge keys create NAME --limit USD`)");
            }
        }
        KeysAction::Disable { name } | KeysAction::Enable { name } => {
            let disable = matches!(action, KeysAction::Disable { .. });
            let keys = client.list_keys().await.map_err(explain)?;
            let key = find(&keys, name)?;
            let change = KeyChange {
                disabled: Some(disable),
                ..KeyChange::default()
            };
            client
                .update_key(&key.hash, &change)
                .await
                .map_err(explain)?;
            out.line(&format!(
                "`{name}` {}",
                if disable {
                    "disabled: OpenRouter refuses its requests from now on"
                } else {
                    "enabled again"
                }
            ));
        }
    }
    out.flush();
    Ok(())
}
