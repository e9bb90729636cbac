//! User configuration: the TOML file, environment overrides, and the resolved [`Config`].
//!
//! Owns parsing and validation of `config.toml` and the secret handling of the API key.
//! Must not import the provider, router, ledger or tui modules (only the catalog's plain
//! data types for model overrides).

mod paths;
mod secret;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use paths::Paths;
pub use secret::ApiKey;

use crate::catalog::ModelPatch;

/// The documented default config written by `codeforge config init`.
pub const DEFAULT_CONFIG_TOML: &str = include_str!("../../assets/default-config.toml");
/// OpenRouter's public API root.
pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not find a home directory; set CODEFORGE_HOME to a directory CodeForge may use")]
    NoHomeDirectory,
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write config file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path} already exists (use --force to overwrite it)")]
    AlreadyExists { path: PathBuf },
    #[error("{}", format_parse_error(path, *line, *column, key.as_deref(), message))]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        key: Option<String>,
        message: String,
    },
    #[error("{}", format_invalid(path, *line, key, message))]
    Invalid {
        path: PathBuf,
        /// Where the key is set in the file (none when it came from the environment).
        line: Option<usize>,
        key: String,
        message: String,
    },
}

/// `text` with anything that looks like an API key (`sk-…`, 12 characters or more) hidden:
/// a key typed into the wrong field must not be echoed by the error about it.
pub fn redact_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sk-") {
        let starts_word = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let len = rest[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(rest.len() - at);
        out.push_str(&rest[..at]);
        if starts_word && len >= 12 {
            out.push_str("sk-…(hidden)");
        } else {
            out.push_str(&rest[at..at + len]);
        }
        rest = &rest[at + len.max(3)..];
    }
    out.push_str(rest);
    out
}

fn format_parse_error(
    path: &Path,
    line: usize,
    column: usize,
    key: Option<&str>,
    message: &str,
) -> String {
    let message = &redact_keys(message);
    match key {
        Some(key) => format!(
            "invalid config {}:{line}:{column}: key `{key}`: {message}",
            path.display()
        ),
        None => format!(
            "invalid config {}:{line}:{column}: {message}",
            path.display()
        ),
    }
}

fn format_invalid(path: &Path, line: Option<usize>, key: &str, message: &str) -> String {
    let message = &redact_keys(message);
    match line {
        Some(line) => format!(
            "invalid config {}:{line}: key `{key}`: {message}",
            path.display()
        ),
        None => format!("invalid config {}: key `{key}`: {message}", path.display()),
    }
}

/// The 1-based line of the config text that sets the dotted `key` (`table.name`, or `name`
/// at the top level), if any: where `toml`'s own parser found that key.
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (k, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == part)?;
        if parts.peek().is_none() {
            let at = k.span().start.min(text.len());
            return Some(text[..at].matches('\n').count() + 1);
        }
        match v.get_ref() {
            toml::de::DeValue::Table(t) => table = t,
            _ => return None,
        }
    }
    None
}

/// The config file as written by the user: every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub api_key: Option<String>,
    pub base_url: Option<String>,
    /// Allow plain `http://` to a host other than this machine (the key travels in clear).
    pub allow_insecure_http: Option<bool>,
    /// Added to the system prompt of every request (after CodeForge's own).
    pub system_prompt: Option<String>,
    /// Attachments above this many tokens are sent only when the user says how.
    pub attach_confirm_tokens: Option<u64>,
    #[serde(default)]
    pub timeouts: TimeoutsFile,
    #[serde(default)]
    pub router: RouterFile,
    #[serde(default)]
    pub budget: BudgetFile,
    #[serde(default)]
    pub models: Vec<ModelPatch>,
    /// Key overrides: action name → key, e.g. `model_picker = "ctrl-k"`.
    #[serde(default)]
    pub keys: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub ui: UiFile,
    /// Named roles: `[roles.reviewer]` with its own system prompt, preference and model.
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, Role>,
}

/// A named way of working, chosen with `/role NAME` or `ask --role NAME`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// Added to the system prompt while the role is in use.
    pub system_prompt: Option<String>,
    /// Quality ↔ cost preference (0–10) while the role is in use.
    pub preference: Option<u8>,
    /// A model id every request of the role goes to (pinned).
    pub model: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiFile {
    /// `dark`, `light`, or the name of a file in `<config dir>/themes/`.
    pub theme: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeoutsFile {
    pub connect_ms: Option<u64>,
    pub first_byte_ms: Option<u64>,
    pub idle_ms: Option<u64>,
    pub first_token_ms: Option<u64>,
    pub turn_ms: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouterFile {
    /// 0 = cheapest model that fits … 10 = best regardless of cost.
    pub preference: Option<u8>,
    /// Try models the ratings know least about, optimistically (learns faster).
    pub explore: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetFile {
    pub daily_usd: Option<f64>,
    pub monthly_usd: Option<f64>,
    pub timezone: Option<String>,
    pub baseline_model: Option<String>,
    pub max_output_tokens: Option<u64>,
}

/// Network deadlines for one provider request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// From sending the request to the response headers (OpenRouter sends them at once).
    pub first_byte: Duration,
    /// Longest silence between two stream events; keep-alive comments count as activity.
    pub idle: Duration,
    /// From sending the request to the first answer token (keep-alives do not count): past
    /// it the router falls back to the next model.
    pub first_token: Duration,
    /// From the prompt to its first answer token, across every model tried: past it the
    /// turn ends (no model answered) instead of trying the next.
    pub turn: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(30),
            idle: Duration::from_secs(60),
            first_token: Duration::from_secs(45),
            turn: Duration::from_secs(90),
        }
    }
}

/// Where the API key came from (shown by `config show`, never the key itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    Environment,
    ConfigFile,
    None,
}

/// Budget settings after defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetSettings {
    pub daily_usd: f64,
    pub monthly_usd: f64,
    pub timezone: Option<String>,
    pub baseline_model: String,
    /// The most output tokens one request asks for; `None`: each model's own limit. The
    /// budget lowers it further (see `budget::admit`).
    pub max_output_tokens: Option<u64>,
}

impl Default for BudgetSettings {
    fn default() -> Self {
        Self {
            daily_usd: 3.33,
            monthly_usd: 100.0,
            timezone: None,
            baseline_model: "anthropic/claude-sonnet-4".to_string(),
            max_output_tokens: None,
        }
    }
}

/// The resolved configuration: file + environment + defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub paths: Paths,
    pub config_file: PathBuf,
    pub config_file_exists: bool,
    pub api_key: Option<ApiKey>,
    pub key_source: KeySource,
    pub base_url: String,
    /// Plain `http://` to another host was allowed in the config (said at start).
    pub allow_insecure_http: bool,
    pub timeouts: Timeouts,
    pub preference: u8,
    /// Route on the optimistic quality estimate (`[router] explore`).
    pub explore: bool,
    pub budget: BudgetSettings,
    pub model_patches: Vec<ModelPatch>,
    pub keys: std::collections::BTreeMap<String, String>,
    pub theme: String,
    /// `system_prompt` from the config file.
    pub system_prompt: Option<String>,
    /// `[roles.NAME]` from the config file.
    pub roles: std::collections::BTreeMap<String, Role>,
    /// `attach_confirm_tokens` from the config file.
    pub attach_confirm_tokens: u64,
}

impl Config {
    /// Load from the resolved paths and the process environment.
    pub fn load() -> Result<Self, ConfigError> {
        let paths = Paths::resolve()?;
        Self::load_from(paths, |name| std::env::var(name).ok())
    }

    /// Load with an explicit environment lookup (tests pass a closure).
    pub fn load_from(
        paths: Paths,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let config_file = paths.config_file();
        let (file, exists, text) = match std::fs::read(&config_file) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                (parse_config(&config_file, &text)?, true, text)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (ConfigFile::default(), false, String::new())
            }
            Err(source) => {
                return Err(ConfigError::Read {
                    path: config_file,
                    source,
                });
            }
        };
        resolve(paths, config_file, exists, file, env).map_err(|e| match e {
            ConfigError::Invalid {
                path,
                line: None,
                key,
                message,
            } => ConfigError::Invalid {
                line: line_of(&text, &key),
                path,
                key,
                message,
            },
            other => other,
        })
    }

    /// A config with defaults only, for tests and the demo.
    pub fn defaults_under(root: &Path) -> Self {
        let paths = Paths::under(root);
        let config_file = paths.config_file();
        Self {
            paths,
            config_file,
            config_file_exists: false,
            api_key: None,
            key_source: KeySource::None,
            base_url: DEFAULT_BASE_URL.to_string(),
            allow_insecure_http: false,
            timeouts: Timeouts::default(),
            preference: 5,
            explore: false,
            budget: BudgetSettings::default(),
            model_patches: Vec::new(),
            keys: Default::default(),
            theme: "dark".to_string(),
            system_prompt: None,
            roles: std::collections::BTreeMap::new(),
            attach_confirm_tokens: crate::attach::CONFIRM_TOKENS,
        }
    }

    /// Human-readable summary for `codeforge config show`; never contains the key.
    pub fn show(&self) -> String {
        let key = match self.key_source {
            KeySource::Environment => "set (from OPENROUTER_API_KEY)",
            KeySource::ConfigFile => "set (from the config file)",
            KeySource::None => "not set (demo mode: answers come from the built-in simulator)",
        };
        let file_state = if self.config_file_exists {
            ""
        } else {
            " (not created yet; `codeforge config init`)"
        };
        format!(
            "config file      {}{file_state}\n\
             data dir         {}\n\
             ledger           {}\n\
             api key          {key}\n\
             base url         {}\n\
             timeouts         connect {} ms, first byte {} ms, idle {} ms, first token {} ms, turn {} ms\n\
             preference       {} (0 = cheapest that fits … 10 = best regardless of cost)\n\
             explore          {}\n\
             daily budget     ${:.2}\n\
             monthly budget   ${:.2}\n\
             baseline model   {}\n\
             output cap       {}\n\
             model overrides  {}\n\
             theme            {}\n",
            self.config_file.display(),
            self.paths.data_dir.display(),
            self.paths.ledger_file().display(),
            self.base_url,
            self.timeouts.connect.as_millis(),
            self.timeouts.first_byte.as_millis(),
            self.timeouts.idle.as_millis(),
            self.timeouts.first_token.as_millis(),
            self.timeouts.turn.as_millis(),
            self.preference,
            if self.explore {
                "on (tries what the ratings know least about)"
            } else {
                "off"
            },
            self.budget.daily_usd,
            self.budget.monthly_usd,
            self.budget.baseline_model,
            self.budget.max_output_tokens.map_or_else(
                || "each model's own limit, lowered by the budget".to_string(),
                |n| format!("{n} tokens, lowered by the budget")
            ),
            self.model_patches.len(),
            self.theme,
        )
    }
}

/// Write the default config file (mode 0600: it may come to hold the key).
pub fn init_config_file(path: &Path, force: bool) -> Result<(), ConfigError> {
    if path.exists() && !force {
        return Err(ConfigError::AlreadyExists {
            path: path.to_path_buf(),
        });
    }
    let write_err = |source| ConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_err)?;
    }
    write_private(path, DEFAULT_CONFIG_TOML.as_bytes()).map_err(write_err)
}

/// Create or truncate a file readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(bytes)
}

/// Parse the TOML text of a config file, mapping errors to file, line and key.
pub fn parse_config(path: &Path, text: &str) -> Result<ConfigFile, ConfigError> {
    toml::from_str::<ConfigFile>(text).map_err(|e| {
        let (line, column, key) = match e.span() {
            Some(span) => locate(text, span.start),
            None => (1, 1, None),
        };
        ConfigError::Parse {
            path: path.to_path_buf(),
            line,
            column,
            key,
            message: e.message().trim().to_string(),
        }
    })
}

/// 1-based line and column of a byte offset, plus the dotted key defined on that line.
fn locate(text: &str, offset: usize) -> (usize, usize, Option<String>) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.len() - line_start + 1;
    let line_text = text
        .get(line_start..)
        .unwrap_or("")
        .lines()
        .next()
        .unwrap_or("");
    let mut table: Option<String> = None;
    for l in before.lines().take(line.saturating_sub(1)) {
        let t = l.trim();
        if t.starts_with('[') {
            table = Some(t.trim_matches(|c| c == '[' || c == ']').trim().to_string());
        }
    }
    // The key set on this line, in its table; a header or any line without `=` names no
    // key (naming the previous table would point at the wrong one).
    let key = if line_text.trim_start().starts_with('[') {
        None
    } else {
        line_text.split_once('=').map(|(k, _)| k.trim().to_string())
    };
    let key = match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (_, None) => None,
    };
    (line, column, key.filter(|k| !k.is_empty()))
}

fn resolve(
    paths: Paths,
    config_file: PathBuf,
    exists: bool,
    file: ConfigFile,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let invalid = |key: &str, message: String| invalid(&config_file, key, message);
    let env_key = env("OPENROUTER_API_KEY").filter(|k| !k.trim().is_empty());
    let file_key = file.api_key.filter(|k| !k.trim().is_empty());
    let (api_key, key_source) = match (env_key, file_key) {
        (Some(k), _) => (Some(ApiKey::new(k)), KeySource::Environment),
        (None, Some(k)) => (Some(ApiKey::new(k)), KeySource::ConfigFile),
        (None, None) => (None, KeySource::None),
    };
    let base_url = env("OPENROUTER_BASE_URL")
        .filter(|u| !u.trim().is_empty())
        .or(file.base_url)
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
    let allow_insecure_http = file.allow_insecure_http.unwrap_or(false);
    let base_url = endpoints(&config_file, &base_url, &file.models, allow_insecure_http)?;
    let timeouts = timeouts(&config_file, &file.timeouts)?;
    let preference = file.router.preference.unwrap_or(5);
    if preference > 10 {
        return Err(invalid(
            "router.preference",
            format!("{preference} is out of range 0..=10"),
        ));
    }
    for (name, role) in &file.roles {
        if let Some(p) = role.preference
            && p > 10
        {
            return Err(invalid(
                &format!("roles.{name}.preference"),
                format!("{p} is out of range 0..=10"),
            ));
        }
    }
    let budget = budget_settings(&config_file, file.budget)?;
    Ok(Config {
        paths,
        config_file,
        config_file_exists: exists,
        api_key,
        key_source,
        base_url,
        allow_insecure_http,
        timeouts,
        preference,
        explore: file.router.explore.unwrap_or(false),
        budget,
        model_patches: file.models,
        keys: file.keys,
        theme: file.ui.theme.unwrap_or_else(|| "dark".to_string()),
        system_prompt: file.system_prompt.filter(|s| !s.trim().is_empty()),
        roles: file.roles,
        attach_confirm_tokens: file
            .attach_confirm_tokens
            .unwrap_or(crate::attach::CONFIRM_TOKENS),
    })
}

/// A value of `key` in `path` that cannot be used (its line is found later, from the text).
fn invalid(path: &Path, key: &str, message: String) -> ConfigError {
    ConfigError::Invalid {
        path: path.to_path_buf(),
        line: None,
        key: key.to_string(),
        message,
    }
}

/// The base URL, checked (http or https, no trailing slash), and every model's own: the
/// key goes with every request, in clear text only to this machine unless allowed.
fn endpoints(
    path: &Path,
    base_url: &str,
    models: &[ModelPatch],
    allow_insecure_http: bool,
) -> Result<String, ConfigError> {
    let lower = base_url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(invalid(
            path,
            "base_url",
            format!("`{base_url}` is not an http:// or https:// URL"),
        ));
    }
    let base_url = base_url.trim_end_matches('/').to_string();
    let urls = std::iter::once(("base_url".to_string(), base_url.as_str())).chain(
        models.iter().filter_map(|m| {
            m.base_url
                .as_deref()
                .map(|u| (format!("models.{}.base_url", m.id), u))
        }),
    );
    for (key, url) in urls {
        if !allow_insecure_http && insecure(url) {
            return Err(invalid(
                path,
                &key,
                format!(
                    "`{url}` would send the API key in clear text to another machine: use https://, \
                     or set allow_insecure_http = true in the config (plain http is allowed to \
                     this machine: localhost, 127.0.0.0/8, [::1])"
                ),
            ));
        }
    }
    Ok(base_url)
}

/// `[timeouts]` in milliseconds, each above 0; the defaults for those not given.
fn timeouts(path: &Path, file: &TimeoutsFile) -> Result<Timeouts, ConfigError> {
    let defaults = Timeouts::default();
    let ms = |key: &str, v: Option<u64>, d: Duration| -> Result<Duration, ConfigError> {
        match v {
            None => Ok(d),
            Some(0) => Err(invalid(path, key, "must be greater than 0".into())),
            Some(v) => Ok(Duration::from_millis(v)),
        }
    };
    Ok(Timeouts {
        connect: ms("timeouts.connect_ms", file.connect_ms, defaults.connect)?,
        first_byte: ms(
            "timeouts.first_byte_ms",
            file.first_byte_ms,
            defaults.first_byte,
        )?,
        idle: ms("timeouts.idle_ms", file.idle_ms, defaults.idle)?,
        first_token: ms(
            "timeouts.first_token_ms",
            file.first_token_ms,
            defaults.first_token,
        )?,
        turn: ms("timeouts.turn_ms", file.turn_ms, defaults.turn)?,
    })
}

/// `[budget]`: limits that are amounts, the time zone and the baseline model.
fn budget_settings(path: &Path, file: BudgetFile) -> Result<BudgetSettings, ConfigError> {
    let mut budget = BudgetSettings::default();
    for (key, v, slot) in [
        ("budget.daily_usd", file.daily_usd, &mut budget.daily_usd),
        (
            "budget.monthly_usd",
            file.monthly_usd,
            &mut budget.monthly_usd,
        ),
    ] {
        if let Some(v) = v {
            if !(v.is_finite() && v >= 0.0) {
                return Err(invalid(path, key, format!("{v} is not a valid amount")));
            }
            *slot = v;
        }
    }
    if let Some(n) = file.max_output_tokens {
        if n < crate::budget::MIN_OUTPUT_TOKENS {
            return Err(invalid(
                path,
                "budget.max_output_tokens",
                format!(
                    "{n} is too few: an answer needs at least {} tokens",
                    crate::budget::MIN_OUTPUT_TOKENS
                ),
            ));
        }
        budget.max_output_tokens = Some(n);
    }
    budget.timezone = file.timezone;
    if let Some(b) = file.baseline_model {
        budget.baseline_model = b;
    }
    Ok(budget)
}

/// Plain http to a host that is not this machine (parsed as the HTTP client parses it, so
/// `HTTP://` or `http://evil.example\\@localhost/` are judged by where they really go).
pub fn insecure(url: &str) -> bool {
    let Ok(u) = reqwest::Url::parse(url) else {
        return false; // not a URL: the scheme check reports it
    };
    if u.scheme() != "http" {
        return false;
    }
    let Some(host) = u.host_str() else {
        return true;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) => !ip.is_loopback(),
        Err(_) => {
            let d = host.to_ascii_lowercase();
            !(d == "localhost" || d.ends_with(".localhost"))
        }
    }
}

impl Config {
    /// What to say at start when plain http to another machine was allowed.
    pub fn insecure_warning(&self) -> Option<String> {
        let mut urls: Vec<&str> = vec![self.base_url.as_str()];
        urls.extend(
            self.model_patches
                .iter()
                .filter_map(|m| m.base_url.as_deref()),
        );
        let plain: Vec<&str> = urls.into_iter().filter(|u| insecure(u)).collect();
        (!plain.is_empty()).then(|| {
            format!(
                "warning: allow_insecure_http is set: the API key goes in clear text to {}",
                plain.join(", ")
            )
        })
    }
}

#[cfg(test)]
mod tests;
