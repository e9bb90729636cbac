//! A session: config, backend, ledger and the conversation, plus the budget view and the
//! start-up recovery of reservations left by crashed processes.

use jiff::tz::TimeZone;

use super::LedgerHandle;
use super::prices;
use super::protocol::{BreakerState, BudgetSnapshot, ModelPerf, ModelSpend};
use crate::backend::{Backend, BackendError};
use crate::budget::{KeyReset, Limits, Spend};
use crate::calendar::{self, LocalDay};
use crate::catalog::PriceCache;
use crate::config::Config;
use crate::ledger::{CostSource, Ledger, LedgerError, Settlement};
use crate::money::Usd;
use crate::provider::{Message, ProviderError};
use crate::router::{Availability, Breakers, Outcome, RouteError, Signals};
use crate::task::Intent;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Route(#[from] RouteError),
    #[error("{0}")]
    Provider(#[from] ProviderError),
    #[error("{0}")]
    Config(String),
    #[error("cancelled")]
    Cancelled,
    /// The shared endpoint cannot be reached at all (DNS, refused, no route): the network
    /// is down, not the model, so no other model is tried and none is blamed.
    #[error("offline: {0}. Nothing was sent to another model; check the connection and try again")]
    Offline(String),
}

/// The conversation being held: what is sent as history.
#[derive(Debug, Clone, Default)]
pub struct Conversation {
    /// The ledger's conversation id, once the first message is stored.
    pub id: Option<i64>,
    /// User and assistant messages, oldest first.
    pub messages: Vec<Message>,
}

/// What start-up recovery found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recovery {
    /// Orphaned reservations settled from `GET /generation`.
    pub reconciled: usize,
    /// Orphans still held (the provider did not answer yet).
    pub still_held: usize,
    /// Orphans closed at their reserved worst case: the provider will not report them
    /// (older than [`ORPHAN_GIVE_UP_MS`], or served by a demo simulator that is gone).
    pub closed_at_reservation: usize,
    /// Estimates replaced by the provider's figure.
    pub estimates_fixed: usize,
    /// What the provider billed for the reconciled ones.
    pub reconciled_cost: Usd,
    /// What the closed ones were settled at (their reservations).
    pub closed_cost: Usd,
    /// What the ones still held hold against today's budget.
    pub held_cost: Usd,
}

pub struct Session {
    pub config: Config,
    pub backend: Backend,
    pub ledger: LedgerHandle,
    pub tz: TimeZone,
    pub conversation: Conversation,
    /// What the router learned: ratings and performance, rebuilt from the ledger at start.
    pub signals: Signals,
    /// Circuit breakers per model (this process).
    pub breakers: Breakers,
    /// The last turn's intent (follow-ups keep it).
    pub last_intent: Option<Intent>,
    /// The router's decision of the last turn (`None` when it was refused before one):
    /// what headless `ask --json` prints.
    pub last_decision: Option<crate::router::Decision>,
    /// 0 = cheapest that fits … 10 = best regardless of cost.
    pub preference: u8,
    /// Route on optimistic quality estimates (`[router] explore`).
    pub explore: bool,
    /// The system prompt of every request ([`super::SYSTEM_PROMPT`], plus the edit format
    /// while files are attached); counted in the tokens routing and reservations see.
    pub system: String,
    /// What to tell the user about the project's instructions in `system`, if any.
    pub instructions: Option<String>,
    /// The ledger's `data_version` when the learned state was last read.
    seen_version: i64,
    /// `GET /models` read in the background (see `super::prices`), until taken in.
    prices_task: Option<tokio::task::JoinHandle<Result<PriceCache, ProviderError>>>,
    /// Estimates being replaced by their bills from `GET /generation`.
    reconciles: Vec<tokio::task::JoinHandle<()>>,
}

/// When a settled estimate's bill is asked for again (OpenRouter writes the record a
/// little after the stream ends): after these waits, then at the next start.
const RECONCILE_WAITS: [u64; 4] = [300, 1_000, 3_000, 10_000];

/// After this long an orphan the provider cannot report is closed at its reservation (the
/// worst case it was allowed, so spend is never under-counted) instead of held forever.
pub const ORPHAN_GIVE_UP_MS: i64 = 24 * 3600 * 1000;

/// How often the key's limit is read from OpenRouter while CodeForge is in use.
pub const KEY_REFRESH_MS: i64 = 60_000;

/// How long a turn waits for `GET /key` before going on with the last reading.
const KEY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How many recent requests rebuild the performance averages at start.
const PERF_HISTORY: usize = 500;

pub const DAILY_LIMIT_KEY: &str = "daily_limit_usd";
pub const MONTHLY_LIMIT_KEY: &str = "monthly_limit_usd";

/// What the ledger says the router has learned: budget shares set by `budget --optimize
/// --apply` (for the `ids` given) and the signals (performance of the last
/// requests, every rating). Shared by the session and `codeforge route`, so both decide alike.
pub fn learned_state(
    l: &Ledger,
    ids: &[String],
) -> Result<(Vec<(String, f64)>, Signals), LedgerError> {
    let mut shares = Vec::new();
    for id in ids {
        if let Some(v) = l
            .setting(&share_key(id))?
            .and_then(|v| v.parse::<f64>().ok())
        {
            shares.push((id.clone(), v));
        }
    }
    let mut signals = Signals::new();
    for o in l.recent_outcomes(PERF_HISTORY)?.iter().rev() {
        if let Some(intent) = Intent::parse(&o.intent) {
            signals.observe(&Outcome {
                model: o.model.clone(),
                intent,
                ok: o.status.is_ok(),
                ttft_ms: o.ttft_ms.map(|v| v as f64),
                latency_ms: o.latency_ms.map(|v| v as f64),
                completion_tokens: o.completion_tokens.max(0) as u64,
                at_ms: o.created_ms,
            });
            // As the live session learns it from a complete answer the provider billed.
            if o.status.is_ok() && o.cost_source == CostSource::Provider {
                let complexity = match o.complexity.as_str() {
                    "simple" => crate::task::Complexity::Simple,
                    "high" => crate::task::Complexity::High,
                    _ => crate::task::Complexity::Medium,
                };
                signals.observe_output(
                    &o.model,
                    intent,
                    crate::router::expected_completion_tokens(complexity),
                    o.completion_tokens.max(0) as u64,
                );
                signals.observe_bill(
                    &o.model,
                    o.cost.dollars(),
                    o.prompt_tokens.max(0) as u64,
                    o.completion_tokens.max(0) as u64,
                );
            }
        }
    }
    for (model, intent, up) in l.ratings()? {
        if let Some(intent) = Intent::parse(&intent) {
            signals.rate(&model, intent, up, 1.0);
        }
    }
    Ok((shares, signals))
}

/// Settings key of a model's budget share (written by `codeforge budget --optimize --apply`).
pub fn share_key(model: &str) -> String {
    format!("share:{model}")
}

/// Limits in force: settings written by `codeforge budget` win over the config's.
pub fn resolve_limits(l: &Ledger, daily: f64, monthly: f64) -> Result<Limits, LedgerError> {
    let parse = |v: Option<String>, d: f64| {
        Usd::from_dollars(v.and_then(|s| s.parse::<f64>().ok()).unwrap_or(d))
    };
    Ok(Limits {
        daily: parse(l.setting(DAILY_LIMIT_KEY)?, daily),
        monthly: parse(l.setting(MONTHLY_LIMIT_KEY)?, monthly),
    })
}

impl Session {
    /// Start a new conversation: no history, and no thread for a follow-up to inherit.
    pub fn start_conversation(&mut self) {
        self.conversation = Conversation::default();
        self.last_intent = None;
    }

    /// Take up a stored conversation: its messages become the history and its last
    /// answer's intent the thread a follow-up inherits. Returns the stored messages.
    pub async fn resume(
        &mut self,
        id: i64,
    ) -> Result<Vec<crate::ledger::StoredMessage>, CoreError> {
        let msgs = self.ledger.call(move |l| l.messages(id)).await?;
        self.conversation.id = Some(id);
        self.conversation.messages = msgs
            .iter()
            .map(|m| match m.role.as_str() {
                "assistant" => Message::assistant(m.content.clone()),
                _ => Message::user(m.content.clone()),
            })
            .collect();
        self.last_intent = msgs
            .iter()
            .rev()
            .filter_map(|m| m.request.as_ref()?.decision_json.as_deref())
            .filter_map(|j| serde_json::from_str::<crate::router::Decision>(j).ok())
            .find(|d| !d.chat)
            .map(|d| d.intent);
        Ok(msgs)
    }

    /// Open the ledger and connect (demo mode without a key).
    pub async fn open(config: Config, demo: bool) -> Result<Self, CoreError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
        let system = crate::instructions::system_prompt(
            super::SYSTEM_PROMPT,
            config.system_prompt.as_deref(),
            &cwd,
        );
        // The router's one-time set-up runs on the other core while the ledger opens (if no
        // thread can be made, the first decision builds it instead).
        let _ = std::thread::Builder::new()
            .name("router-warm-up".into())
            .spawn(crate::router::warm_up);
        let tz =
            calendar::time_zone(config.budget.timezone.as_deref()).map_err(CoreError::Config)?;
        let path = config.paths.ledger_file();
        let ledger = tokio::task::spawn_blocking(move || Ledger::open(&path))
            .await
            .map_err(|e| LedgerError::Sql(e.to_string()))??;
        let mut backend = Backend::connect(&config, demo).await?;
        let ledger = LedgerHandle::new(ledger);
        let ids: Vec<String> = backend
            .catalog
            .models()
            .iter()
            .map(|m| m.id.clone())
            .collect();
        let (shares, signals, seen_version) = ledger
            .call(move |l| {
                let (shares, signals) = learned_state(l, &ids)?;
                Ok((shares, signals, l.data_version()?))
            })
            .await?;
        for (id, share) in shares {
            backend.catalog.set_share(&id, share);
        }
        let (preference, explore) = (config.preference, config.explore);
        let listing_age = PriceCache::load(&config.paths.models_cache_file())
            .ok()
            .flatten()
            .map(|c| prices::now_s().saturating_sub(c.fetched_at));
        let mut session = Self {
            config,
            backend,
            ledger,
            tz,
            conversation: Conversation::default(),
            signals,
            breakers: Breakers::new(),
            last_intent: None,
            last_decision: None,
            preference,
            explore,
            instructions: system.notice(),
            system: system.text,
            seen_version,
            prices_task: None,
            reconciles: Vec::new(),
        };
        // A listing over a day old (or none yet) is read again while the user works.
        if listing_age.is_none_or(|age| age > prices::PRICES_MAX_AGE_S) {
            session.refresh_prices_in_background();
        }
        Ok(session)
    }

    /// Replace request `id`'s worst case by its bill from `GET /generation` in the
    /// background, asking again a few times while OpenRouter has no record yet; when no
    /// bill comes, by `estimate`. A process that ends first leaves it to the next start.
    pub fn reconcile_in_background(&mut self, id: i64, generation: String, estimate: Usd) {
        let (client, ledger) = (self.backend.client.clone(), self.ledger.clone());
        self.reconciles.retain(|t| !t.is_finished());
        self.reconciles.push(tokio::spawn(async move {
            for wait in RECONCILE_WAITS {
                tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
                if let Ok(info) = client.generation(&generation).await {
                    let cost = Usd::from_dollars(info.total_cost);
                    let _ = ledger
                        .call(move |l| {
                            l.reconcile(id, cost, CostSource::Generation, calendar::now_ms())
                        })
                        .await;
                    return;
                }
            }
            let _ = ledger
                .call(move |l| l.reconcile(id, estimate, CostSource::Estimate, calendar::now_ms()))
                .await;
        }));
    }

    /// Before the process ends: wait up to `wait` for the work left in the background
    /// (bills being fetched, prices being read) and take it in. Says what changed.
    pub async fn finish_background(&mut self, wait: std::time::Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        for task in std::mem::take(&mut self.reconciles) {
            let _ = tokio::time::timeout_at(deadline, task).await;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.take_prices(Some(left)).await
    }

    /// Read the prices from `GET /models` in the background, unless a read is under way
    /// (or in demo mode, whose prices are the catalog's by construction).
    pub fn refresh_prices_in_background(&mut self) {
        if self.backend.demo || self.prices_task.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let client = self.backend.client.clone();
        self.prices_task = Some(tokio::spawn(async move { prices::fetch(&client).await }));
    }

    /// Take in prices read in the background once they are there (waiting up to `wait`
    /// for them): the cache file, the ledger's price table and the catalog the router
    /// uses. Says what changed, if anything did; a failed read changes nothing.
    pub async fn take_prices(&mut self, wait: Option<std::time::Duration>) -> Option<String> {
        let task = self.prices_task.take()?;
        let joined = if task.is_finished() {
            task.await
        } else if let Some(w) = wait {
            tokio::time::timeout(w, task).await.ok()?
        } else {
            self.prices_task = Some(task);
            return None;
        };
        let cache = joined.ok()?.ok()?;
        if cache.models.is_empty() {
            return None;
        }
        let _ = cache.save(&self.config.paths.models_cache_file());
        let rows = prices::ledger_rows(&cache);
        let _ = self
            .ledger
            .call(move |l| l.save_prices(&rows, calendar::now_ms()))
            .await;
        prices::describe(&prices::apply(&mut self.backend.catalog, &cache))
    }

    /// Catch up with what other processes wrote to the ledger since the last look (ratings
    /// from `codeforge feedback`, shares from `budget --optimize --apply`, limits, spend):
    /// the learned state is read again when it changed. True when it did, so the caller can
    /// show the new budget.
    pub async fn sync_with_ledger(&mut self) -> Result<bool, CoreError> {
        let ids: Vec<String> = self
            .backend
            .catalog
            .models()
            .iter()
            .map(|m| m.id.clone())
            .collect();
        let seen = self.seen_version;
        let fresh = self
            .ledger
            .call(move |l| {
                let v = l.data_version()?;
                if v == seen {
                    return Ok(None);
                }
                Ok(Some((learned_state(l, &ids)?, v)))
            })
            .await?;
        let Some(((shares, signals), version)) = fresh else {
            return Ok(false);
        };
        for (id, share) in shares {
            self.backend.catalog.set_share(&id, share);
        }
        self.signals = signals;
        self.seen_version = version;
        Ok(true)
    }

    pub fn today(&self) -> LocalDay {
        calendar::local_day(calendar::now_ms(), &self.tz)
    }

    /// Limits in force: `codeforge budget` settings in the ledger, else the config.
    pub async fn limits(&self) -> Result<Limits, CoreError> {
        let (daily, monthly) = (self.config.budget.daily_usd, self.config.budget.monthly_usd);
        let limits = self
            .ledger
            .call(move |l| resolve_limits(l, daily, monthly))
            .await?;
        Ok(limits)
    }

    /// Today's and this month's spend.
    pub async fn spend(&self) -> Result<(LocalDay, Spend, Spend), CoreError> {
        let day = self.today();
        let d = day.clone();
        let (today, month) = self
            .ledger
            .call(move |l| Ok((l.day_spend(&d.day)?, l.month_spend(&d.month)?)))
            .await?;
        Ok((day, today, month))
    }

    /// Everything the sidebar shows. Reads day totals only (O(days), not O(requests));
    /// latency and success come from the in-memory moving averages.
    pub async fn budget_snapshot(&self) -> Result<BudgetSnapshot, CoreError> {
        let limits = self.limits().await?;
        let now = calendar::now_ms();
        let day = calendar::local_day(now, &self.tz);
        let days = calendar::last_days(now, 14, &self.tz);
        let d = day.clone();
        let (today, month, per_model, history, baseline, key) = self
            .ledger
            .call(move |l| {
                Ok((
                    l.day_spend(&d.day)?,
                    l.month_spend(&d.month)?,
                    l.model_spend(&d.day)?,
                    l.history(&days)?,
                    l.day_baseline(&d.day)?,
                    l.key_standing(now)?,
                ))
            })
            .await?;
        let model_stats = self
            .backend
            .catalog
            .models()
            .iter()
            .filter_map(|m| {
                let perf = self.signals.model_perf(&m.id)?;
                let requests = per_model
                    .iter()
                    .find(|p| p.model == m.id)
                    .map_or(0, |p| p.requests);
                Some(ModelPerf {
                    model: m.id.clone(),
                    requests,
                    success_rate: perf.success_at(now),
                    latency_ms: (perf.latency_ms > 0.0).then_some(perf.latency_ms as i64),
                    ttft_ms: (perf.ttft_ms > 0.0).then_some(perf.ttft_ms as i64),
                })
            })
            .collect();
        Ok(BudgetSnapshot {
            day: day.day,
            limits,
            today,
            month,
            per_model: per_model
                .into_iter()
                .map(|m| ModelSpend {
                    model: m.model,
                    spend: m.spend,
                    requests: m.requests,
                })
                .collect(),
            history: history
                .into_iter()
                .map(|r| (r.date, r.spend.committed))
                .collect(),
            saved_today: baseline.saturating_sub(today.committed),
            baseline_model: self.config.budget.baseline_model.clone(),
            model_stats,
            shares: self
                .backend
                .catalog
                .models()
                .iter()
                .map(|m| (m.id.clone(), m.budget_share))
                .collect(),
            breakers: self
                .breakers
                .states(now)
                .into_iter()
                .filter_map(|(m, a)| {
                    let state = match a {
                        Availability::Open { until_ms, .. } => BreakerState::Open {
                            for_secs: ((until_ms - now).max(0) as u64).div_ceil(1000),
                        },
                        Availability::HalfOpen => BreakerState::Probe,
                        Availability::Closed => return None,
                    };
                    Some((m, state))
                })
                .collect(),
            key,
        })
    }

    /// Read the key's spending limit from OpenRouter (`GET /key`) when the last reading,
    /// by any process on this machine, is over [`KEY_REFRESH_MS`] old, or when `force`.
    /// A server that cannot say (no `/key`, an error, no answer within two seconds) leaves
    /// the last reading in force. Returns whether a new reading was stored.
    pub async fn refresh_key(&self, force: bool) -> Result<bool, CoreError> {
        let now = calendar::now_ms();
        let checked = self.ledger.call(|l| l.key_checked_ms()).await?;
        if !force && checked.is_some_and(|c| c <= now && now - c < KEY_REFRESH_MS) {
            return Ok(false);
        }
        let read = tokio::time::timeout(KEY_WAIT, self.backend.client.key_info()).await;
        let Ok(Ok(info)) = read else {
            self.ledger.call(move |l| l.key_checked(now)).await?;
            return Ok(false);
        };
        let limit = match (info.limit, info.limit_remaining) {
            (Some(limit), Some(left)) if limit.is_finite() && left.is_finite() => Some((
                Usd::from_dollars(limit.max(0.0)),
                Usd::from_dollars(left.max(0.0)),
                KeyReset::parse(info.limit_reset.as_deref()),
            )),
            _ => None,
        };
        self.ledger
            .call(move |l| l.set_key_limit(limit, now))
            .await?;
        Ok(true)
    }

    /// OpenRouter refused a request because the key's limit is spent (403): nothing is
    /// left of it until the next reading says otherwise.
    pub async fn key_spent(&self) -> Result<(), CoreError> {
        let now = calendar::now_ms();
        self.ledger
            .call(move |l| {
                let (limit, reset) = l
                    .key_standing(now)?
                    .map_or((Usd::ZERO, KeyReset::Daily), |k| (k.limit, k.reset));
                l.set_key_limit(Some((limit, Usd::ZERO, reset)), now)
            })
            .await?;
        Ok(())
    }

    /// Find reservations left by dead processes and settle what the provider can tell us.
    /// Best effort: a provider that does not answer leaves them held (counted) for next time.
    pub async fn recover(&self) -> Result<Recovery, CoreError> {
        let now = calendar::now_ms();
        // Recovery is the session's first write: it also opens the WAL for the turns after.
        let orphans = self
            .ledger
            .call(move |l| {
                l.set_setting("last_start_ms", &now.to_string())?;
                l.recover_orphans(now)
            })
            .await?;
        let mut rec = Recovery::default();
        for o in orphans {
            let Some(gen_id) = o.generation_id.clone() else {
                continue;
            };
            match self.backend.client.generation(&gen_id).await {
                Ok(info) => {
                    let s = Settlement {
                        served_model: info.model.clone(),
                        prompt_tokens: info
                            .native_tokens_prompt
                            .or(info.tokens_prompt)
                            .unwrap_or(0),
                        completion_tokens: info
                            .native_tokens_completion
                            .or(info.tokens_completion)
                            .unwrap_or(0),
                        generation_id: Some(gen_id),
                        ..Settlement::process_died(
                            Usd::from_dollars(info.total_cost),
                            CostSource::Generation,
                        )
                    };
                    let id = o.id;
                    self.ledger
                        .call(move |l| l.settle(id, &s, calendar::now_ms()))
                        .await?;
                    rec.reconciled += 1;
                    rec.reconciled_cost = rec
                        .reconciled_cost
                        .saturating_add(Usd::from_dollars(info.total_cost));
                }
                // The demo's simulator kept its records in the process that died.
                Err(_) if self.backend.demo || now - o.created_ms > ORPHAN_GIVE_UP_MS => {
                    let s = Settlement {
                        generation_id: Some(gen_id),
                        ..Settlement::process_died(o.reserved, CostSource::Reservation)
                    };
                    let id = o.id;
                    self.ledger
                        .call(move |l| l.settle(id, &s, calendar::now_ms()))
                        .await?;
                    rec.closed_at_reservation += 1;
                    rec.closed_cost = rec.closed_cost.saturating_add(o.reserved);
                }
                Err(_) => {
                    rec.still_held += 1;
                    rec.held_cost = rec.held_cost.saturating_add(o.reserved);
                }
            }
        }
        let estimates = self.ledger.call(|l| l.estimates_to_reconcile(20)).await?;
        for (id, gen_id) in estimates {
            if let Ok(info) = self.backend.client.generation(&gen_id).await {
                let cost = Usd::from_dollars(info.total_cost);
                self.ledger
                    .call(move |l| {
                        l.reconcile(id, cost, CostSource::Generation, calendar::now_ms())
                    })
                    .await?;
                rec.estimates_fixed += 1;
            }
        }
        // Worst cases whose bill the provider cannot give (no `/generation` here): the
        // estimate from their streamed tokens, rather than the worst case for good.
        let unbilled = self.ledger.call(|l| l.worst_cases_left(20)).await?;
        for (id, model, prompt_tokens, completion_tokens) in unbilled {
            let Some(m) = self.backend.catalog.get(&model) else {
                continue;
            };
            let estimate = m.cost(prompt_tokens, completion_tokens);
            self.ledger
                .call(move |l| l.reconcile(id, estimate, CostSource::Estimate, calendar::now_ms()))
                .await?;
        }
        Ok(rec)
    }
}
