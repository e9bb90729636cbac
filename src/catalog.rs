//! The model catalog: which models CodeForge can route to, their prices, limits and
//! strengths. Built from the embedded `assets/models.toml`, patched by the user config and
//! by the `/models` price cache.
//!
//! Pure data: must not import the provider, router, ledger or tui modules, and does no IO
//! except reading/writing the price cache file on request.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::money::Usd;
use crate::task::Intent;

const BUILTIN_TOML: &str = include_str!("../assets/models.toml");

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("built-in model catalog is invalid: {0}")]
    Builtin(String),
    #[error("model `{id}` in the config is new, so it needs `{field}`")]
    MissingField { id: String, field: &'static str },
    #[error("model `{id}`: {message}")]
    Invalid { id: String, message: String },
    #[error("cannot read or write the model price cache {path}: {message}")]
    Cache { path: String, message: String },
}

/// Prior task fit per intent (0..1).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strengths {
    #[serde(default)]
    pub code: f64,
    #[serde(default)]
    pub debug: f64,
    #[serde(default)]
    pub explain: f64,
    #[serde(default)]
    pub reasoning: f64,
    #[serde(default)]
    pub math: f64,
    #[serde(default)]
    pub general: f64,
}

impl Strengths {
    pub fn get(&self, intent: Intent) -> f64 {
        match intent {
            Intent::Code => self.code,
            Intent::Debug => self.debug,
            Intent::Explain => self.explain,
            Intent::Reasoning => self.reasoning,
            Intent::Math => self.math,
            Intent::General => self.general,
        }
    }

    /// The intent this model is strongest at (ties: the first in `Intent::ALL`).
    pub fn best(&self) -> Intent {
        let mut best = Intent::General;
        let mut score = f64::MIN;
        for i in Intent::ALL {
            if self.get(i) > score {
                score = self.get(i);
                best = i;
            }
        }
        best
    }
}

/// One routable model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The OpenRouter id (or the model name at a custom endpoint).
    pub id: String,
    /// Short display name.
    pub name: String,
    #[serde(default)]
    pub role: String,
    /// USD per million prompt tokens.
    pub prompt_price: f64,
    /// USD per million completion tokens.
    pub completion_price: f64,
    pub context_length: u64,
    pub max_output: u64,
    pub latency_target_ms: u64,
    #[serde(default)]
    pub budget_share: f64,
    #[serde(default)]
    pub strengths: Strengths,
    #[serde(default)]
    pub alternates: Vec<String>,
    /// Billed output tokens per visible answer token: hidden reasoning tokens (o3, grok-4)
    /// are billed as completion tokens. Used for cost estimates, not for limits.
    #[serde(default = "one")]
    pub output_factor: f64,
    /// A custom OpenAI-compatible endpoint; `None` means the configured OpenRouter base URL.
    #[serde(default)]
    pub base_url: Option<String>,
    /// Environment variable holding the key for `base_url`.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// False once `codeforge models --refresh` found the id (and every alternate) missing
    /// from `/models`.
    #[serde(default = "yes")]
    pub listed: bool,
    /// The listed alternate that requests go to while `id` is not listed.
    #[serde(default)]
    pub substitute: Option<String>,
}

fn yes() -> bool {
    true
}

fn one() -> f64 {
    1.0
}

impl ModelSpec {
    /// The id to put in a request: the substitute alternate while `id` is unlisted.
    pub fn request_id(&self) -> &str {
        self.substitute.as_deref().unwrap_or(&self.id)
    }

    /// Expected cost of an answer of `answer_tokens` visible tokens, with the hidden
    /// reasoning tokens the model bills besides them.
    pub fn expected_cost(&self, prompt_tokens: u64, answer_tokens: u64) -> Usd {
        self.cost_with_factor(prompt_tokens, answer_tokens, self.output_factor)
    }

    /// The same with a billed-per-expected-token `factor` learned from real usage (below 1
    /// when answers run shorter than expected).
    pub fn cost_with_factor(&self, prompt_tokens: u64, answer_tokens: u64, factor: f64) -> Usd {
        let billed = (answer_tokens as f64 * factor.max(0.0)).round() as u64;
        self.cost(prompt_tokens, billed)
    }

    /// Worst-case or expected cost of a request with these token counts.
    pub fn cost(&self, prompt_tokens: u64, completion_tokens: u64) -> Usd {
        Usd::for_tokens(prompt_tokens, self.prompt_price)
            .saturating_add(Usd::for_tokens(completion_tokens, self.completion_price))
    }
}

/// A user-config entry: overrides fields of a catalog model, or adds a new one.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelPatch {
    pub id: String,
    pub name: Option<String>,
    pub role: Option<String>,
    pub prompt_price: Option<f64>,
    pub completion_price: Option<f64>,
    pub context_length: Option<u64>,
    pub max_output: Option<u64>,
    pub latency_target_ms: Option<u64>,
    pub output_factor: Option<f64>,
    pub budget_share: Option<f64>,
    pub strengths: Option<Strengths>,
    pub alternates: Option<Vec<String>>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    model: Vec<ModelSpec>,
}

/// Live prices and limits read from `GET /models`, cached on disk.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriceCache {
    /// Unix seconds of the refresh.
    pub fetched_at: u64,
    pub models: BTreeMap<String, CachedPrice>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CachedPrice {
    pub prompt_price: f64,
    pub completion_price: f64,
    pub context_length: Option<u64>,
    pub max_output: Option<u64>,
}

impl PriceCache {
    pub fn load(path: &Path) -> Result<Option<Self>, CatalogError> {
        let err = |message: String| CatalogError::Cache {
            path: path.display().to_string(),
            message,
        };
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| err(format!("{e} (delete the file and refresh)"))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(err(e.to_string())),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), CatalogError> {
        let err = |message: String| CatalogError::Cache {
            path: path.display().to_string(),
            message,
        };
        // Private to the user, like the ledger: a 0700 folder, a 0600 file.
        if let Some(dir) = path.parent().filter(|d| !d.exists()) {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(|e| err(e.to_string()))?;
        }
        let json = serde_json::to_vec_pretty(self).map_err(|e| err(e.to_string()))?;
        let tmp = path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        std::io::Write::write_all(
            &mut options.open(&tmp).map_err(|e| err(e.to_string()))?,
            &json,
        )
        .map_err(|e| err(e.to_string()))?;
        std::fs::rename(&tmp, path).map_err(|e| err(e.to_string()))
    }
}

/// A price change found by a refresh: id, old and new (prompt, completion) per million.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceChange {
    pub id: String,
    pub old: (f64, f64),
    pub new: (f64, f64),
}

/// What a refresh changed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RefreshReport {
    pub price_changes: Vec<PriceChange>,
    /// Catalog ids OpenRouter no longer lists, with the alternate that will be used.
    pub unlisted: Vec<(String, Option<String>)>,
}

/// The set of routable models, in catalog order.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    models: Vec<ModelSpec>,
}

impl Catalog {
    /// The embedded catalog.
    pub fn builtin() -> Result<Self, CatalogError> {
        let file: CatalogFile =
            toml::from_str(BUILTIN_TOML).map_err(|e| CatalogError::Builtin(e.to_string()))?;
        let catalog = Catalog { models: file.model };
        catalog.validate()?;
        Ok(catalog)
    }

    /// Built-in catalog + user patches + cached live prices.
    pub fn load(patches: &[ModelPatch], cache: Option<&PriceCache>) -> Result<Self, CatalogError> {
        let mut catalog = Self::builtin()?;
        catalog.apply_patches(patches)?;
        if let Some(cache) = cache {
            catalog.apply_cache(cache);
        }
        Ok(catalog)
    }

    pub fn models(&self) -> &[ModelSpec] {
        &self.models
    }

    pub fn get(&self, id: &str) -> Option<&ModelSpec> {
        self.models.iter().find(|m| m.id == id)
    }

    /// Find by full id or short name (what users type after `--model`).
    pub fn find(&self, id_or_name: &str) -> Option<&ModelSpec> {
        self.get(id_or_name)
            .or_else(|| self.models.iter().find(|m| m.name == id_or_name))
    }

    /// Override one model's budget share (from `budget --optimize --apply`).
    pub fn set_share(&mut self, id: &str, share: f64) {
        if let Some(m) = self.models.iter_mut().find(|m| m.id == id)
            && share.is_finite()
            && share >= 0.0
        {
            m.budget_share = share;
        }
    }

    pub fn apply_patches(&mut self, patches: &[ModelPatch]) -> Result<(), CatalogError> {
        for p in patches {
            match self.models.iter_mut().find(|m| m.id == p.id) {
                Some(m) => patch_model(m, p),
                None => self.models.push(new_model(p)?),
            }
        }
        self.validate()
    }

    /// Apply cached `/models` prices. An id absent from a non-empty listing is served by
    /// its first listed alternate (at that alternate's prices), or becomes unlisted.
    pub fn apply_cache(&mut self, cache: &PriceCache) {
        if cache.models.is_empty() {
            return;
        }
        for m in &mut self.models {
            if m.base_url.is_some() {
                continue; // custom endpoints are not OpenRouter models
            }
            let listed = std::iter::once(&m.id)
                .chain(m.alternates.iter())
                .find_map(|id| cache.models.get(id).map(|p| (id.clone(), p.clone())));
            match listed {
                Some((id, p)) => {
                    m.prompt_price = p.prompt_price;
                    m.completion_price = p.completion_price;
                    if let Some(c) = p.context_length {
                        m.context_length = c;
                    }
                    if let Some(o) = p.max_output {
                        m.max_output = o;
                    }
                    m.listed = true;
                    m.substitute = (id != m.id).then_some(id);
                }
                None => {
                    m.listed = false;
                    m.substitute = None;
                }
            }
        }
    }

    /// Compare the catalog with a fresh listing and describe the changes.
    pub fn refresh_report(&self, cache: &PriceCache) -> RefreshReport {
        let mut report = RefreshReport::default();
        for m in &self.models {
            if m.base_url.is_some() {
                continue;
            }
            match cache.models.get(&m.id) {
                Some(p) => {
                    if (p.prompt_price - m.prompt_price).abs() > 1e-9
                        || (p.completion_price - m.completion_price).abs() > 1e-9
                    {
                        report.price_changes.push(PriceChange {
                            id: m.id.clone(),
                            old: (m.prompt_price, m.completion_price),
                            new: (p.prompt_price, p.completion_price),
                        });
                    }
                }
                None => {
                    let alt = m
                        .alternates
                        .iter()
                        .find(|a| cache.models.contains_key(*a))
                        .cloned();
                    report.unlisted.push((m.id.clone(), alt));
                }
            }
        }
        report
    }

    fn validate(&self) -> Result<(), CatalogError> {
        for (i, m) in self.models.iter().enumerate() {
            let invalid = |message: String| CatalogError::Invalid {
                id: m.id.clone(),
                message,
            };
            if m.id.trim().is_empty() {
                return Err(invalid("id is empty".into()));
            }
            if self.models[..i].iter().any(|o| o.id == m.id) {
                return Err(invalid("listed twice".into()));
            }
            for (name, v) in [
                ("prompt_price", m.prompt_price),
                ("completion_price", m.completion_price),
                ("budget_share", m.budget_share),
            ] {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(invalid(format!("{name} must be a number >= 0, got {v}")));
                }
            }
            if m.context_length == 0 || m.max_output == 0 {
                return Err(invalid("context_length and max_output must be > 0".into()));
            }
        }
        Ok(())
    }
}

fn patch_model(m: &mut ModelSpec, p: &ModelPatch) {
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = &p.$f { m.$f = v.clone(); } )* };
    }
    set!(
        name,
        role,
        prompt_price,
        completion_price,
        context_length,
        max_output,
        latency_target_ms,
        budget_share,
        strengths,
        alternates,
        output_factor
    );
    if p.base_url.is_some() {
        m.base_url = p.base_url.clone();
    }
    if p.api_key_env.is_some() {
        m.api_key_env = p.api_key_env.clone();
    }
}

fn new_model(p: &ModelPatch) -> Result<ModelSpec, CatalogError> {
    let need = |field: &'static str| CatalogError::MissingField {
        id: p.id.clone(),
        field,
    };
    Ok(ModelSpec {
        id: p.id.clone(),
        name: p
            .name
            .clone()
            .unwrap_or_else(|| p.id.rsplit('/').next().unwrap_or(&p.id).to_string()),
        role: p.role.clone().unwrap_or_default(),
        prompt_price: p.prompt_price.ok_or_else(|| need("prompt_price"))?,
        completion_price: p.completion_price.ok_or_else(|| need("completion_price"))?,
        context_length: p.context_length.ok_or_else(|| need("context_length"))?,
        max_output: p.max_output.unwrap_or(4096),
        latency_target_ms: p.latency_target_ms.unwrap_or(2000),
        budget_share: p.budget_share.unwrap_or(0.0),
        strengths: p.strengths.unwrap_or(Strengths {
            code: 0.5,
            debug: 0.5,
            explain: 0.5,
            reasoning: 0.5,
            math: 0.5,
            general: 0.5,
        }),
        alternates: p.alternates.clone().unwrap_or_default(),
        output_factor: p.output_factor.unwrap_or(1.0),
        base_url: p.base_url.clone(),
        api_key_env: p.api_key_env.clone(),
        listed: true,
        substitute: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_has_the_five_roles_with_their_shares() {
        let c = Catalog::builtin().unwrap();
        let ids: Vec<_> = c.models().iter().map(|m| m.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "x-ai/grok-4",
                "anthropic/claude-sonnet-4",
                "moonshotai/kimi-k2",
                "google/gemini-2.5-flash",
                "openai/o3"
            ]
        );
        let shares: f64 = c.models().iter().map(|m| m.budget_share).sum();
        assert!((shares - 1.0).abs() < 1e-9);
        // The priors follow their cited sources (assets/models.toml): Aider polyglot for
        // code, AIME 2025 for maths, GPQA Diamond for reasoning.
        let by = |intent: Intent| {
            let mut v: Vec<(&str, f64)> = c
                .models()
                .iter()
                .map(|m| (m.name.as_str(), m.strengths.get(intent)))
                .collect();
            v.sort_by(|a, b| b.1.total_cmp(&a.1));
            v.into_iter().map(|(n, _)| n).collect::<Vec<_>>()
        };
        assert_eq!(
            by(Intent::Code),
            [
                "grok-4",
                "o3",
                "kimi-k2",
                "claude-sonnet-4",
                "gemini-2.5-flash"
            ]
        );
        assert_eq!(by(Intent::Math)[..2], ["grok-4", "o3"]);
        assert_eq!(by(Intent::Math)[4], "kimi-k2");
        assert_eq!(by(Intent::Reasoning)[..2], ["grok-4", "o3"]);
        // Hidden reasoning tokens are billed: o3 and grok-4 cost more per visible token.
        let o3 = c.get("openai/o3").unwrap();
        assert!(o3.expected_cost(0, 1000) > o3.cost(0, 1000));
        let kimi = c.get("moonshotai/kimi-k2").unwrap();
        assert_eq!(kimi.expected_cost(100, 1000), kimi.cost(100, 1000));
        assert_eq!(c.find("kimi-k2").unwrap().id, "moonshotai/kimi-k2");
    }

    #[test]
    fn patches_override_and_extend() {
        let mut c = Catalog::builtin().unwrap();
        c.apply_patches(&[
            ModelPatch {
                id: "openai/o3".into(),
                prompt_price: Some(1.0),
                ..Default::default()
            },
            ModelPatch {
                id: "qwen2.5-coder:7b".into(),
                base_url: Some("http://127.0.0.1:11434/v1".into()),
                prompt_price: Some(0.0),
                completion_price: Some(0.0),
                context_length: Some(32768),
                ..Default::default()
            },
        ])
        .unwrap();
        assert_eq!(c.get("openai/o3").unwrap().prompt_price, 1.0);
        assert_eq!(c.get("openai/o3").unwrap().completion_price, 8.0);
        let local = c.get("qwen2.5-coder:7b").unwrap();
        assert_eq!(local.name, "qwen2.5-coder:7b");
        assert_eq!(local.base_url.as_deref(), Some("http://127.0.0.1:11434/v1"));
    }

    #[test]
    fn a_new_model_without_prices_is_rejected_by_name() {
        let mut c = Catalog::builtin().unwrap();
        let err = c
            .apply_patches(&[ModelPatch {
                id: "new/model".into(),
                ..Default::default()
            }])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "model `new/model` in the config is new, so it needs `prompt_price`"
        );
    }

    #[test]
    fn cache_updates_prices_and_marks_unlisted_ids() {
        let mut c = Catalog::builtin().unwrap();
        let mut cache = PriceCache::default();
        for m in c.models() {
            if m.id != "x-ai/grok-4" {
                cache.models.insert(
                    m.id.clone(),
                    CachedPrice {
                        prompt_price: m.prompt_price * 2.0,
                        completion_price: m.completion_price,
                        context_length: Some(1000),
                        max_output: None,
                    },
                );
            }
        }
        cache.models.insert(
            "x-ai/grok-4.20".into(),
            CachedPrice {
                prompt_price: 1.25,
                completion_price: 2.5,
                context_length: None,
                max_output: None,
            },
        );
        let report = c.refresh_report(&cache);
        assert_eq!(
            report.unlisted,
            vec![(
                "x-ai/grok-4".to_string(),
                Some("x-ai/grok-4.20".to_string())
            )]
        );
        assert_eq!(report.price_changes.len(), 4);
        c.apply_cache(&cache);
        let grok = c.get("x-ai/grok-4").unwrap();
        assert!(grok.listed);
        assert_eq!(grok.request_id(), "x-ai/grok-4.20");
        assert_eq!((grok.prompt_price, grok.completion_price), (1.25, 2.5));
        cache.models.remove("x-ai/grok-4.20");
        c.apply_cache(&cache);
        assert!(!c.get("x-ai/grok-4").unwrap().listed);
        let o3 = c.get("openai/o3").unwrap();
        assert_eq!(o3.prompt_price, 4.0);
        assert_eq!(o3.context_length, 1000);
    }

    #[test]
    fn cost_uses_both_prices() {
        let c = Catalog::builtin().unwrap();
        let claude = c.get("anthropic/claude-sonnet-4").unwrap();
        assert_eq!(claude.cost(1_000_000, 0), Usd::from_dollars(3.0));
        assert_eq!(claude.cost(0, 1000), Usd::from_dollars(0.015));
    }
}
