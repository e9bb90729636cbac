//! Reserve → settle: the transactions that keep `committed + reserved <= limit` true
//! across threads, processes, crashes and provider failures.
//!
//! Every step runs in an IMMEDIATE transaction (one writer at a time across processes) and
//! updates the request row and the day totals together.

use super::vocab::{CostSource, RequestStatus};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::{Ledger, LedgerError};
use crate::budget::{Limits, Prices, Spend, Standing, Want, admit};
use crate::calendar::LocalDay;
use crate::money::Usd;

/// A request about to be sent.
#[derive(Debug, Clone)]
pub struct NewRequest<'a> {
    pub conversation_id: Option<i64>,
    pub requested_model: &'a str,
    pub routed_by: &'a str,
    pub intent: Option<&'a str>,
    pub complexity: Option<&'a str>,
    pub decision_json: Option<&'a str>,
    pub prices: Prices,
    pub prompt_tokens: u64,
    pub wanted_max_tokens: u64,
    /// What a fair reservation holds when the budget is tight (see `budget::admit`):
    /// the expected answer with a margin. `None`: hold up to everything that is left.
    pub fair_max_tokens: Option<u64>,
}

/// A granted reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub id: i64,
    pub reserved: Usd,
    /// The `max_tokens` to send: capped so the worst case fits the budget.
    pub max_tokens: u64,
    pub day: LocalDay,
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Error,
    Cancelled,
    Cut,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Ok, Status::Error, Status::Cancelled, Status::Cut];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Cancelled => "cancelled",
            Status::Cut => "cut",
        }
    }
}

/// The final numbers of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct Settlement {
    pub status: Status,
    pub served_model: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
    pub cached_tokens: u64,
    pub cost: Usd,
    pub cost_source: CostSource,
    pub ttft_ms: Option<u64>,
    pub latency_ms: Option<u64>,
    pub error_kind: Option<String>,
    pub generation_id: Option<String>,
    /// What the same tokens would have cost on the baseline model (for "saved").
    pub baseline_cost: Usd,
}

impl Settlement {
    /// A request whose process died: only its cost (from `/generation`, or the worst case
    /// held for it) is known.
    pub fn process_died(cost: Usd, cost_source: CostSource) -> Self {
        Self {
            status: Status::Cut,
            served_model: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            reasoning_tokens: 0,
            cached_tokens: 0,
            cost,
            cost_source,
            ttft_ms: None,
            latency_ms: None,
            error_kind: Some("process_died".into()),
            generation_id: None,
            baseline_cost: Usd::ZERO,
        }
    }
}

/// A reservation left open by a process that is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Orphan {
    pub id: i64,
    pub generation_id: Option<String>,
    pub reserved: Usd,
    pub requested_model: String,
    /// When the reservation was made.
    pub created_ms: i64,
}

fn spend_of(tx: &rusqlite::Transaction<'_>, sql: &str, key: &str) -> rusqlite::Result<Spend> {
    tx.query_row(sql, [key], |r| {
        Ok(Spend {
            committed: Usd::from_nanos(r.get::<_, Option<i64>>(0)?.unwrap_or(0)),
            reserved: Usd::from_nanos(r.get::<_, Option<i64>>(1)?.unwrap_or(0)),
        })
    })
}

const DAY_SPEND: &str =
    "SELECT SUM(committed_nanos), SUM(reserved_nanos) FROM daily_totals WHERE day = ?1";
const MONTH_SPEND: &str =
    "SELECT SUM(committed_nanos), SUM(reserved_nanos) FROM daily_totals WHERE month = ?1";

/// Move money between the reserved and committed columns of a day's totals.
/// What settling or reconciling a request needs: its day, month, model, one money column
/// (`reserved_nanos` or `cost_nanos`) and status. The outer error is SQL, the inner says
/// the request is unknown.
type MoneyRow<T> = (String, String, String, T, RequestStatus);

fn money_row<T: rusqlite::types::FromSql>(
    tx: &rusqlite::Transaction<'_>,
    id: i64,
    column: &'static str,
) -> rusqlite::Result<Result<MoneyRow<T>, LedgerError>> {
    let row = tx
        .query_row(
            &format!(
                "SELECT day, month, requested_model, {column}, status FROM requests WHERE id = ?1"
            ),
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .optional()?;
    Ok(row.ok_or(LedgerError::UnknownRequest(id)))
}

fn adjust_totals(
    tx: &rusqlite::Transaction<'_>,
    day: &str,
    month: &str,
    model: &str,
    committed: i64,
    reserved: i64,
    requests: i64,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO daily_totals (day, month, committed_nanos, reserved_nanos, requests)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(day) DO UPDATE SET
           committed_nanos = committed_nanos + excluded.committed_nanos,
           reserved_nanos = reserved_nanos + excluded.reserved_nanos,
           requests = requests + excluded.requests",
        params![day, month, committed, reserved, requests],
    )?;
    tx.execute(
        "INSERT INTO daily_model_totals (day, model, committed_nanos, reserved_nanos, requests)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(day, model) DO UPDATE SET
           committed_nanos = committed_nanos + excluded.committed_nanos,
           reserved_nanos = reserved_nanos + excluded.reserved_nanos,
           requests = requests + excluded.requests",
        params![day, model, committed, reserved, requests],
    )?;
    Ok(())
}

fn is_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    #[cfg(target_os = "linux")]
    {
        // A zombie (killed but not yet reaped) holds no reservation either.
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
            Err(_) => false,
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

impl Ledger {
    /// Reserve the worst case of a request, or refuse it. `max_tokens` is capped so the
    /// worst case fits what is left of today's and this month's limits.
    pub fn reserve(
        &mut self,
        req: &NewRequest<'_>,
        limits: Limits,
        now_ms: i64,
        day: &LocalDay,
    ) -> Result<Reservation, LedgerError> {
        let owner = self.owner;
        let path = self.path.clone();
        let sql = |e| LedgerError::from_sql(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let today = spend_of(&tx, DAY_SPEND, &day.day).map_err(sql)?;
        let month = spend_of(&tx, MONTH_SPEND, &day.month).map_err(sql)?;
        let standing = Standing {
            limits,
            today,
            month,
            key: super::key_limit::standing(&tx, now_ms).map_err(sql)?,
        };
        let admission = admit(
            &standing,
            Want {
                prices: req.prices,
                prompt_tokens: req.prompt_tokens,
                max_tokens: req.wanted_max_tokens,
                fair_max_tokens: req.fair_max_tokens,
            },
        )?;
        tx.execute(
            "INSERT INTO requests (created_ms, day, month, conversation_id, requested_model,
               routed_by, intent, complexity, decision_json, prompt_tokens, max_tokens,
               reserved_nanos, status, owner_pid, owner_start_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, 'open', ?13, ?14)",
            params![
                now_ms,
                day.day,
                day.month,
                req.conversation_id,
                req.requested_model,
                req.routed_by,
                req.intent,
                req.complexity,
                req.decision_json,
                req.prompt_tokens as i64,
                admission.max_tokens as i64,
                admission.reserve.nanos(),
                owner.pid,
                owner.start_ms,
            ],
        )
        .map_err(sql)?;
        let id = tx.last_insert_rowid();
        adjust_totals(
            &tx,
            &day.day,
            &day.month,
            req.requested_model,
            0,
            admission.reserve.nanos(),
            1,
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(Reservation {
            id,
            reserved: admission.reserve,
            max_tokens: admission.max_tokens,
            day: day.clone(),
        })
    }

    /// Record the provider's generation id as soon as it is known, so a crash mid-stream
    /// can still be reconciled.
    pub fn mark_started(&mut self, id: i64, generation_id: &str) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE requests SET generation_id = ?2 WHERE id = ?1",
                params![id, generation_id],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Settle a reservation to its final cost. Settling twice is a no-op.
    pub fn settle(&mut self, id: i64, s: &Settlement, now_ms: i64) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |e| LedgerError::from_sql(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let (day, month, model, reserved, status) =
            money_row::<i64>(&tx, id, "reserved_nanos").map_err(sql)??;
        if status.is_settled() {
            return Ok(());
        }
        tx.execute(
            "UPDATE requests SET status = ?2, served_model = ?3, prompt_tokens = ?4,
               completion_tokens = ?5, reasoning_tokens = ?6, cached_tokens = ?7,
               cost_nanos = ?8, cost_source = ?9, ttft_ms = ?10, latency_ms = ?11,
               error_kind = ?12, generation_id = COALESCE(?13, generation_id), settled_ms = ?14,
               baseline_nanos = ?15
             WHERE id = ?1",
            params![
                id,
                RequestStatus::Ended(s.status),
                s.served_model,
                s.prompt_tokens as i64,
                s.completion_tokens as i64,
                s.reasoning_tokens as i64,
                s.cached_tokens as i64,
                s.cost.nanos(),
                s.cost_source,
                s.ttft_ms.map(|v| v as i64),
                s.latency_ms.map(|v| v as i64),
                s.error_kind,
                s.generation_id,
                now_ms,
                s.baseline_cost.nanos(),
            ],
        )
        .map_err(sql)?;
        adjust_totals(&tx, &day, &month, &model, s.cost.nanos(), -reserved, 0).map_err(sql)?;
        tx.execute(
            "UPDATE daily_totals SET baseline_nanos = baseline_nanos + ?2 WHERE day = ?1",
            params![day, s.baseline_cost.nanos()],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Find reservations whose process is gone. They stay counted (status `orphaned`);
    /// those with no generation id are settled at their worst case at once, since no one
    /// can ask the provider what they cost. The rest await [`Ledger::settle`] with what
    /// `GET /generation` reports.
    pub fn recover_orphans(&mut self, now_ms: i64) -> Result<Vec<Orphan>, LedgerError> {
        let path = self.path.clone();
        let sql = |e| LedgerError::from_sql(&path, e);
        let owner = self.owner;
        struct OpenRow {
            id: i64,
            generation_id: Option<String>,
            reserved: i64,
            model: String,
            pid: u32,
            start_ms: i64,
            status: RequestStatus,
            created_ms: i64,
        }
        let rows: Vec<OpenRow> = {
            let mut stmt = self
                .conn
                .prepare(
                    "SELECT id, generation_id, reserved_nanos, requested_model, owner_pid,
                            owner_start_ms, status, created_ms
                     FROM requests WHERE status IN ('open', 'orphaned')",
                )
                .map_err(sql)?;
            stmt.query_map([], |r| {
                Ok(OpenRow {
                    id: r.get(0)?,
                    generation_id: r.get(1)?,
                    reserved: r.get(2)?,
                    model: r.get(3)?,
                    pid: r.get(4)?,
                    start_ms: r.get(5)?,
                    status: r.get(6)?,
                    created_ms: r.get(7)?,
                })
            })
            .map_err(sql)?
            .collect::<Result<_, _>>()
            .map_err(sql)?
        };
        let mut orphans = Vec::new();
        for OpenRow {
            id,
            generation_id,
            reserved,
            model,
            pid,
            start_ms,
            status,
            created_ms,
        } in rows
        {
            let mine = pid == owner.pid && start_ms == owner.start_ms;
            if status == RequestStatus::Open && (mine || is_alive(pid)) {
                continue;
            }
            match &generation_id {
                None => {
                    let s = Settlement::process_died(
                        Usd::from_nanos(reserved),
                        CostSource::Reservation,
                    );
                    self.settle(id, &s, now_ms)?;
                }
                Some(_) => {
                    self.conn
                        .execute(
                            "UPDATE requests SET status = 'orphaned' WHERE id = ?1",
                            [id],
                        )
                        .map_err(sql)?;
                    orphans.push(Orphan {
                        id,
                        generation_id,
                        reserved: Usd::from_nanos(reserved),
                        requested_model: model,
                        created_ms,
                    });
                }
            }
        }
        Ok(orphans)
    }

    /// Settled requests counted at an estimate or their worst case whose generation id
    /// is known (cancelled or cut streams): candidates for `GET /generation`.
    pub fn estimates_to_reconcile(&self, limit: usize) -> Result<Vec<(i64, String)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(ESTIMATES_TO_RECONCILE)
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>();
        rows.map_err(|e| self.err(e))
    }

    /// Requests still counted at their worst case (no bill came): (id, model, prompt and
    /// completion tokens as streamed), oldest first.
    pub fn worst_cases_left(
        &self,
        limit: usize,
    ) -> Result<Vec<(i64, String, u64, u64)>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(WORST_CASES_LEFT)
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, i64>(2)?.max(0) as u64,
                    r.get::<_, i64>(3)?.max(0) as u64,
                ))
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>();
        rows.map_err(|e| self.err(e))
    }

    /// Replace a settled estimate or worst case with `cost` (`source`: `generation` for the
    /// provider's bill, `estimate`); the day totals move by the difference. Orphans are
    /// settled instead.
    pub fn reconcile(
        &mut self,
        id: i64,
        cost: Usd,
        source: CostSource,
        now_ms: i64,
    ) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |e| LedgerError::from_sql(&path, e);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql)?;
        let (day, month, model, old, status) =
            money_row::<Option<i64>>(&tx, id, "cost_nanos").map_err(sql)??;
        if !status.is_settled() {
            drop(tx);
            return self.settle(id, &Settlement::process_died(cost, source), now_ms);
        }
        let delta = cost.nanos() - old.unwrap_or(0);
        tx.execute(
            "UPDATE requests SET cost_nanos = ?2, cost_source = ?4, settled_ms = ?3 WHERE id = ?1",
            params![id, cost.nanos(), now_ms, source],
        )
        .map_err(sql)?;
        adjust_totals(&tx, &day, &month, &model, delta, 0, 0).map_err(sql)?;
        tx.commit().map_err(sql)
    }
}

/// Settled requests whose cost is still our estimate or the worst case and that the provider
/// can bill (a generation id): looked up at every start, through `requests_cost_source`.
pub(crate) const ESTIMATES_TO_RECONCILE: &str = "SELECT id, generation_id FROM requests
     WHERE cost_source IN ('estimate', 'worst_case') AND generation_id IS NOT NULL
       AND status IN ('cancelled', 'cut', 'ok', 'error')
     ORDER BY id DESC LIMIT ?1";

/// Requests still counted at their worst case, oldest first (at every start, indexed too).
pub(crate) const WORST_CASES_LEFT: &str =
    "SELECT id, requested_model, prompt_tokens, completion_tokens FROM requests
     WHERE cost_source = 'worst_case' ORDER BY id LIMIT ?1";
