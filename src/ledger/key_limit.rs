//! The OpenRouter key's spending limit as last read from `GET /key`, kept in the ledger so
//! every process on this machine shares one reading, and what is left of it now.
//!
//! What is left = the server's `limit_remaining` at the reading, less what this ledger's
//! requests cost since (settled after the reading) and what its open requests hold. Other
//! machines' spend arrives with the next reading (OpenRouter is the source of truth).
//! Must not import `provider`, `router`, `tui`, `ratatui` or `crossterm`.

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::{Ledger, LedgerError};
use crate::budget::{KeyReset, KeyStanding, Limits, Standing};
use crate::calendar::{self, LocalDay};
use crate::money::Usd;

const SNAPSHOT: &str = "openrouter_key_limit";
const CHECKED: &str = "openrouter_key_checked_ms";

/// A reading of the key's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Snapshot {
    fetched_ms: i64,
    limit_nanos: i64,
    remaining_nanos: i64,
    reset: KeyReset,
    /// The lowest request id whose cost the reading may not include: the oldest request
    /// open at the reading, else the next id.
    since_id: i64,
}

impl Snapshot {
    /// A reading from before the limit last reset says nothing about now.
    fn current(&self, now_ms: i64) -> bool {
        let (then, now) = (
            calendar::utc_periods(self.fetched_ms),
            calendar::utc_periods(now_ms),
        );
        match self.reset {
            KeyReset::Daily => then[0] == now[0],
            KeyReset::Weekly => then[1] == now[1],
            KeyReset::Monthly => then[2] == now[2],
            KeyReset::Never => true,
        }
    }
}

/// What is left of the key's limit, from the stored reading (`None`: no limit, no reading,
/// or a reading from before the last reset).
pub(super) fn standing(conn: &Connection, now_ms: i64) -> rusqlite::Result<Option<KeyStanding>> {
    let json: Option<String> = conn
        .query_row(
            "SELECT value FROM settings WHERE key = ?1",
            [SNAPSHOT],
            |r| r.get(0),
        )
        .optional()?;
    let Some(snap) = json.and_then(|j| serde_json::from_str::<Snapshot>(&j).ok()) else {
        return Ok(None);
    };
    if !snap.current(now_ms) {
        return Ok(None);
    }
    // Requests from `since_id` on: open ones hold their reservation, ones settled after
    // the reading cost what they cost. A range scan on the primary key.
    let used: i64 = conn.query_row(
        "SELECT COALESCE(SUM(CASE WHEN status IN ('open', 'orphaned') THEN reserved_nanos
                                  WHEN settled_ms > ?2 THEN COALESCE(cost_nanos, 0)
                                  ELSE 0 END), 0)
           FROM requests WHERE id >= ?1",
        params![snap.since_id, snap.fetched_ms],
        |r| r.get(0),
    )?;
    Ok(Some(KeyStanding {
        limit: Usd::from_nanos(snap.limit_nanos),
        left: Usd::from_nanos(snap.remaining_nanos).saturating_sub(Usd::from_nanos(used)),
        reset: snap.reset,
        fetched_ms: snap.fetched_ms,
    }))
}

impl Ledger {
    /// Store a reading of the key: its limit and what the server says remains, or `None`
    /// for a key without a limit (the local budget alone applies).
    pub fn set_key_limit(
        &mut self,
        limit: Option<(Usd, Usd, KeyReset)>,
        fetched_ms: i64,
    ) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |e| LedgerError::from_sql(&path, e);
        // IMMEDIATE: a deferred transaction that reads then writes gets SQLITE_BUSY at once
        // (no busy wait) when another process wrote in between.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        match limit {
            Some((limit, remaining, reset)) => {
                let since_id: i64 = tx
                    .query_row(
                        "SELECT COALESCE((SELECT MIN(id) FROM requests
                                           WHERE status IN ('open', 'orphaned')),
                                         (SELECT COALESCE(MAX(id), 0) + 1 FROM requests))",
                        [],
                        |r| r.get(0),
                    )
                    .map_err(sql)?;
                let snap = Snapshot {
                    fetched_ms,
                    limit_nanos: limit.nanos(),
                    remaining_nanos: remaining.nanos(),
                    reset,
                    since_id,
                };
                let json = serde_json::to_string(&snap)
                    .map_err(|e| LedgerError::Sql(format!("cannot store the key's limit: {e}")))?;
                tx.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![SNAPSHOT, json],
                )
                .map_err(sql)?;
            }
            None => {
                tx.execute("DELETE FROM settings WHERE key = ?1", [SNAPSHOT])
                    .map_err(sql)?;
            }
        }
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            params![CHECKED, fetched_ms.to_string()],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    /// Remember that the key was asked about (even when the server could not say), so
    /// processes do not ask more than once a minute.
    pub fn key_checked(&mut self, now_ms: i64) -> Result<(), LedgerError> {
        self.set_setting(CHECKED, &now_ms.to_string())
    }

    /// When the key was last asked about.
    pub fn key_checked_ms(&self) -> Result<Option<i64>, LedgerError> {
        Ok(self.setting(CHECKED)?.and_then(|v| v.parse().ok()))
    }

    /// Everything a reservation is admitted against: the limits in force, today's and this
    /// month's spend (open reservations included) and what is left of the key's limit.
    pub fn standing(
        &self,
        limits: Limits,
        day: &LocalDay,
        now_ms: i64,
    ) -> Result<Standing, LedgerError> {
        Ok(Standing {
            limits,
            today: self.day_spend(&day.day)?,
            month: self.month_spend(&day.month)?,
            key: self.key_standing(now_ms)?,
        })
    }

    /// What is left of the key's limit now, if it has one.
    pub fn key_standing(&self, now_ms: i64) -> Result<Option<KeyStanding>, LedgerError> {
        standing(&self.conn, now_ms).map_err(|e| self.err(e))
    }
}
