//! Read side: today's and this month's spend, per-model day totals, the spend history,
//! stats, settings and feedback.
//!
//! The gauge queries read the day-totals tables only, so they stay O(days) however many
//! requests the ledger holds.

use std::collections::BTreeMap;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Ledger, LedgerError};
use crate::budget::Spend;
use crate::money::Usd;

/// One model's spend on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelDay {
    pub model: String,
    pub spend: Spend,
    pub requests: i64,
}

/// One day of the spend history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayRow {
    pub date: String,
    pub spend: Spend,
    pub requests: i64,
    pub by_model: BTreeMap<String, Usd>,
}

/// Per-model performance over a window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelStats {
    pub model: String,
    pub requests: i64,
    pub ok: i64,
    /// Requests that ended on the model's side: ok, error or cut (not cancelled by the
    /// user, not still open, not an account error such as a rejected key).
    pub finished: i64,
    /// `ok / finished` (1.0 while nothing finished): a cancellation is the user's, not a
    /// failure of the model, as for the router's own success rate.
    pub success_rate: f64,
    pub spend: Usd,
    pub latency_p50_ms: Option<i64>,
    pub latency_p95_ms: Option<i64>,
    pub ttft_p50_ms: Option<i64>,
    pub feedback_up: i64,
    pub feedback_down: i64,
    /// Of the answers billed by the provider: the router's cost estimate against the bill,
    /// mean of |billed − estimated| / billed (`None` without such answers).
    pub estimate_error: Option<f64>,
    /// Mean of billed / estimated (above 1: the estimates run low).
    pub billed_over_estimate: Option<f64>,
}

/// `codeforge stats` in one struct.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReport {
    pub days: Vec<DayRow>,
    pub models: Vec<ModelStats>,
    pub by_intent: BTreeMap<String, Usd>,
    pub requests: i64,
    pub positive_feedback_rate: Option<f64>,
    /// What the settled requests would have cost on the baseline model.
    pub baseline_cost: Usd,
    pub spend: Usd,
}

fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted.get(idx).copied()
}

impl Ledger {
    /// Committed and reserved spend of one local day.
    pub fn day_spend(&self, day: &str) -> Result<Spend, LedgerError> {
        self.conn
            .query_row(
                "SELECT committed_nanos, reserved_nanos FROM daily_totals WHERE day = ?1",
                [day],
                |r| {
                    Ok(Spend {
                        committed: Usd::from_nanos(r.get(0)?),
                        reserved: Usd::from_nanos(r.get(1)?),
                    })
                },
            )
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(|e| self.err(e))
    }

    /// Committed and reserved spend of one month (`YYYY-MM`).
    pub fn month_spend(&self, month: &str) -> Result<Spend, LedgerError> {
        self.conn
            .query_row(
                "SELECT SUM(committed_nanos), SUM(reserved_nanos) FROM daily_totals WHERE month = ?1",
                [month],
                |r| {
                    Ok(Spend {
                        committed: Usd::from_nanos(r.get::<_, Option<i64>>(0)?.unwrap_or(0)),
                        reserved: Usd::from_nanos(r.get::<_, Option<i64>>(1)?.unwrap_or(0)),
                    })
                },
            )
            .map_err(|e| self.err(e))
    }

    /// Each model's spend on one day.
    pub fn model_spend(&self, day: &str) -> Result<Vec<ModelDay>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT model, committed_nanos, reserved_nanos, requests
                 FROM daily_model_totals WHERE day = ?1 ORDER BY model",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([day], |r| {
                Ok(ModelDay {
                    model: r.get(0)?,
                    spend: Spend {
                        committed: Usd::from_nanos(r.get(1)?),
                        reserved: Usd::from_nanos(r.get(2)?),
                    },
                    requests: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>();
        rows.map_err(|e| self.err(e))
    }

    /// The spend history for the given days (oldest first; days with nothing are zero).
    pub fn history(&self, days: &[String]) -> Result<Vec<DayRow>, LedgerError> {
        let mut out = Vec::with_capacity(days.len());
        for day in days {
            let spend = self.day_spend(day)?;
            let models = self.model_spend(day)?;
            out.push(DayRow {
                date: day.clone(),
                spend,
                requests: models.iter().map(|m| m.requests).sum(),
                by_model: models
                    .into_iter()
                    .map(|m| (m.model, m.spend.committed))
                    .collect(),
            });
        }
        Ok(out)
    }

    /// Stats over the given days. `baseline` prices (USD/M prompt, completion) give the
    /// savings figure.
    pub fn stats(&self, days: &[String], baseline: (f64, f64)) -> Result<StatsReport, LedgerError> {
        let history = self.history(days)?;
        let from = days.first().cloned().unwrap_or_default();
        let to = days.last().cloned().unwrap_or_default();
        let rows = self.stat_rows(&from, &to)?;
        let mut tally = Tally::default();
        for r in &rows {
            tally.add(r, baseline);
        }
        Ok(tally.report(history, rows.len() as i64))
    }

    /// Every request of the days `from..=to`, with its rating and the estimate it was
    /// routed with (for answers the provider billed).
    fn stat_rows(&self, from: &str, to: &str) -> Result<Vec<StatRow>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.requested_model, r.status, COALESCE(r.cost_nanos, 0), r.latency_ms,
                        r.ttft_ms, r.intent, r.prompt_tokens, r.completion_tokens, f.rating,
                        COALESCE(r.error_kind, ''),
                        CASE WHEN r.cost_source = 'provider' AND json_valid(r.decision_json)
                                  AND json_extract(r.decision_json, '$.model') = r.requested_model
                             THEN json_extract(r.decision_json, '$.estimated_cost_usd') END
                 FROM requests r LEFT JOIN feedback f ON f.request_id = r.id
                 WHERE r.day >= ?1 AND r.day <= ?2",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![from, to], |r| {
            Ok(StatRow {
                model: r.get(0)?,
                status: r.get(1)?,
                cost: r.get(2)?,
                latency: r.get(3)?,
                ttft: r.get(4)?,
                intent: r.get(5)?,
                prompt: r.get(6)?,
                completion: r.get(7)?,
                rating: r.get(8)?,
                error_kind: r.get(9)?,
                estimated: r.get(10)?,
            })
        })
        .map_err(|e| self.err(e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| self.err(e))
    }

    /// SQLite's `data_version`: it changes when another connection (another CodeForge
    /// process, `codeforge budget`, `codeforge feedback`) commits to the ledger, and not for
    /// this connection's own writes. Cheap enough to poll.
    pub fn data_version(&self) -> Result<i64, LedgerError> {
        self.conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))
    }

    pub fn setting(&self, key: &str) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn set_setting(&mut self, key: &str, value: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Thumbs up (`true`) or down on a request; the last rating wins. Returns the rating it
    /// replaced, if any.
    pub fn set_feedback(
        &mut self,
        request_id: i64,
        up: bool,
        now_ms: i64,
    ) -> Result<Option<bool>, LedgerError> {
        let path = self.path.clone();
        let sql = |e| LedgerError::from_sql(&path, e);
        // One transaction, so the rating it replaces is the one it reports.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let exists = tx
            .query_row("SELECT 1 FROM requests WHERE id = ?1", [request_id], |_| {
                Ok(())
            })
            .optional()
            .map_err(sql)?
            .is_some();
        if !exists {
            return Err(LedgerError::UnknownRequest(request_id));
        }
        let previous: Option<i64> = tx
            .query_row(
                "SELECT rating FROM feedback WHERE request_id = ?1",
                [request_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(sql)?;
        tx.execute(
            "INSERT INTO feedback (request_id, rating, created_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(request_id) DO UPDATE SET rating = excluded.rating,
               created_ms = excluded.created_ms",
            params![request_id, if up { 1 } else { -1 }, now_ms],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(previous.map(|r| r > 0))
    }

    /// The status and cost of one request (tests and `feedback`).
    pub fn request_status(&self, id: i64) -> Result<Option<(String, Option<Usd>)>, LedgerError> {
        self.conn
            .query_row(
                "SELECT status, cost_nanos FROM requests WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get::<_, Option<i64>>(1)?.map(Usd::from_nanos))),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// The ledger id of a request by its provider generation id.
    pub fn request_by_generation(&self, generation_id: &str) -> Result<Option<i64>, LedgerError> {
        self.conn
            .query_row(
                "SELECT id FROM requests WHERE generation_id = ?1 ORDER BY id DESC LIMIT 1",
                [generation_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Today's baseline cost of the settled requests (for "saved today").
    pub fn day_baseline(&self, day: &str) -> Result<Usd, LedgerError> {
        self.conn
            .query_row(
                "SELECT baseline_nanos FROM daily_totals WHERE day = ?1",
                [day],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| Usd::from_nanos(v.unwrap_or(0)))
            .map_err(|e| self.err(e))
    }

    /// Store a `/models` listing (prices per million tokens) in the ledger's price cache.
    pub fn save_prices(
        &mut self,
        prices: &[(String, f64, f64, Option<u64>)],
        now_ms: i64,
    ) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |e| LedgerError::from_sql(&path, e);
        // IMMEDIATE: a deferred transaction that reads then writes gets SQLITE_BUSY at once
        // (no busy wait) when another process wrote in between.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        for (model, p, c, ctx) in prices {
            tx.execute(
                "INSERT INTO price_cache (model, prompt_price, completion_price, context_length, fetched_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(model) DO UPDATE SET prompt_price = excluded.prompt_price,
                   completion_price = excluded.completion_price,
                   context_length = excluded.context_length, fetched_ms = excluded.fetched_ms",
                params![model, p, c, ctx.map(|v| v as i64), now_ms],
            )
            .map_err(sql)?;
        }
        tx.commit().map_err(sql)
    }

    /// The most recent settled requests, newest first (performance tracking at start).
    pub fn recent_outcomes(&self, limit: usize) -> Result<Vec<RecentOutcome>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT requested_model, COALESCE(intent, 'general'), status, ttft_ms, latency_ms,
                        completion_tokens, created_ms, COALESCE(complexity, 'medium'),
                        COALESCE(cost_source, ''), prompt_tokens, COALESCE(cost_nanos, 0)
                 FROM requests WHERE status IN ('ok', 'error', 'cut')
                   AND COALESCE(error_kind, '') NOT IN ('auth', 'credits', 'key_limit', 'moderation', 'bad_request', 'connect', 'process_died')
                 ORDER BY id DESC LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(RecentOutcome {
                    model: r.get(0)?,
                    intent: r.get(1)?,
                    status: r.get(2)?,
                    ttft_ms: r.get(3)?,
                    latency_ms: r.get(4)?,
                    completion_tokens: r.get(5)?,
                    created_ms: r.get(6)?,
                    complexity: r.get(7)?,
                    cost_source: r.get(8)?,
                    prompt_tokens: r.get(9)?,
                    cost: Usd::from_nanos(r.get(10)?),
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>();
        rows.map_err(|e| self.err(e))
    }

    /// Every rating with its request's model and intent: (model, intent, up).
    pub fn ratings(&self) -> Result<Vec<(String, String, bool)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT r.requested_model, COALESCE(r.intent, 'general'), f.rating
                 FROM feedback f JOIN requests r ON r.id = f.request_id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? > 0)))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>();
        rows.map_err(|e| self.err(e))
    }

    /// The model and intent of one request (to apply a rating to the router at once).
    pub fn request_route(&self, id: i64) -> Result<Option<(String, String)>, LedgerError> {
        self.conn
            .query_row(
                "SELECT requested_model, COALESCE(intent, 'general') FROM requests WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}

/// One recent request for the performance averages.
#[derive(Debug, Clone, PartialEq)]
pub struct RecentOutcome {
    /// When the request was made.
    pub created_ms: i64,
    pub model: String,
    pub intent: String,
    pub status: super::RequestStatus,
    pub ttft_ms: Option<i64>,
    pub latency_ms: Option<i64>,
    pub completion_tokens: i64,
    /// The complexity the router saw (its expected answer length).
    pub complexity: String,
    /// `provider` when the usage came from the provider's bill.
    pub cost_source: super::CostSource,
    pub prompt_tokens: i64,
    /// What it cost (its bill when `cost_source` is `provider`).
    pub cost: Usd,
}

/// One request as `stats` reads it.
struct StatRow {
    model: String,
    status: super::RequestStatus,
    cost: i64,
    latency: Option<i64>,
    ttft: Option<i64>,
    intent: Option<String>,
    prompt: i64,
    completion: i64,
    rating: Option<i64>,
    error_kind: String,
    estimated: Option<f64>,
}

/// `stats` summed up request by request.
#[derive(Default)]
struct Tally {
    /// Per model: its figures, and its latencies and first-token times to take quantiles of.
    per_model: BTreeMap<String, (ModelStats, Vec<i64>, Vec<i64>)>,
    /// Per model: (answers, sum of |billed - estimated| / billed, sum of billed / estimated).
    estimates: BTreeMap<String, (f64, f64, f64)>,
    by_intent: BTreeMap<String, Usd>,
    up: i64,
    rated: i64,
    baseline_cost: Usd,
    spend: Usd,
}

impl Tally {
    fn add(&mut self, r: &StatRow, baseline: (f64, f64)) {
        use super::{RequestStatus, Status};
        let e = self.per_model.entry(r.model.clone()).or_insert_with(|| {
            let stats = ModelStats {
                model: r.model.clone(),
                requests: 0,
                ok: 0,
                finished: 0,
                success_rate: 0.0,
                spend: Usd::ZERO,
                latency_p50_ms: None,
                latency_p95_ms: None,
                ttft_p50_ms: None,
                feedback_up: 0,
                feedback_down: 0,
                estimate_error: None,
                billed_over_estimate: None,
            };
            (stats, Vec::new(), Vec::new())
        });
        e.0.requests += 1;
        e.0.spend = e.0.spend.saturating_add(Usd::from_nanos(r.cost));
        // An account problem (key, credits, moderation, a bad request) would fail on any
        // model, and a process killed mid-request is ours: like a cancellation neither
        // says anything about this model (as for the router's own success rate).
        let account = matches!(
            r.error_kind.as_str(),
            "auth" | "credits" | "moderation" | "bad_request" | "process_died"
        );
        let ended = |s: Status| r.status == RequestStatus::Ended(s);
        if (ended(Status::Ok) || ended(Status::Error) || ended(Status::Cut)) && !account {
            e.0.finished += 1;
        }
        if let (true, Some(est)) = (ended(Status::Ok) && r.cost > 0, r.estimated)
            && est > 0.0
        {
            let billed = Usd::from_nanos(r.cost).dollars();
            let x = self.estimates.entry(r.model.clone()).or_default();
            x.0 += 1.0;
            x.1 += (billed - est).abs() / billed;
            x.2 += billed / est;
        }
        if ended(Status::Ok) {
            e.0.ok += 1;
            if let Some(l) = r.latency {
                e.1.push(l);
            }
            if let Some(t) = r.ttft {
                e.2.push(t);
            }
        }
        match r.rating {
            Some(1) => {
                e.0.feedback_up += 1;
                self.up += 1;
                self.rated += 1;
            }
            Some(_) => {
                e.0.feedback_down += 1;
                self.rated += 1;
            }
            None => {}
        }
        if let Some(i) = &r.intent {
            let v = self.by_intent.entry(i.clone()).or_default();
            *v = v.saturating_add(Usd::from_nanos(r.cost));
        }
        self.spend = self.spend.saturating_add(Usd::from_nanos(r.cost));
        // Open requests are not settled yet; an unbilled failure would not have been
        // billed on the baseline model either.
        let unbilled_error = ended(Status::Error) && r.cost == 0;
        let settled = r.status.is_settled();
        if r.error_kind == "process_died" {
            // Killed mid-request: what the baseline would have cost is unknown, so it
            // counts as what was paid (no saving, no loss), not as free.
            self.baseline_cost = self.baseline_cost.saturating_add(Usd::from_nanos(r.cost));
        } else if settled && !unbilled_error {
            self.baseline_cost = self
                .baseline_cost
                .saturating_add(Usd::for_tokens(r.prompt.max(0) as u64, baseline.0))
                .saturating_add(Usd::for_tokens(r.completion.max(0) as u64, baseline.1));
        }
    }

    fn report(self, days: Vec<DayRow>, requests: i64) -> StatsReport {
        let estimates = self.estimates;
        let models = self
            .per_model
            .into_values()
            .map(|(mut s, mut lat, mut ttft)| {
                lat.sort_unstable();
                ttft.sort_unstable();
                s.success_rate = if s.finished > 0 {
                    s.ok as f64 / s.finished as f64
                } else {
                    1.0
                };
                s.latency_p50_ms = percentile(&lat, 0.5);
                s.latency_p95_ms = percentile(&lat, 0.95);
                s.ttft_p50_ms = percentile(&ttft, 0.5);
                if let Some((n, err, ratio)) = estimates.get(&s.model).filter(|e| e.0 > 0.0) {
                    s.estimate_error = Some(err / n);
                    s.billed_over_estimate = Some(ratio / n);
                }
                s
            })
            .collect();
        StatsReport {
            days,
            models,
            by_intent: self.by_intent,
            requests,
            positive_feedback_rate: (self.rated > 0).then(|| self.up as f64 / self.rated as f64),
            baseline_cost: self.baseline_cost,
            spend: self.spend,
        }
    }
}
