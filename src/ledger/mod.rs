//! The local SQLite ledger: every request, its reservation and settlement, conversations,
//! feedback, settings, and running day totals for the budget gauge.
//!
//! Owns the schema (numbered migrations in `assets/migrations/`) and every transaction that
//! touches money. Must not import `provider`, `router`, `tui`, `ratatui` or `crossterm`;
//! budget arithmetic comes from the pure `budget` module.

mod error;
mod key_limit;
mod money_ops;
mod queries;
mod store;
mod verified;
mod vocab;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};

pub use error::LedgerError;
pub use money_ops::{NewRequest, Orphan, Reservation, Settlement, Status};
pub use queries::{DayRow, ModelDay, ModelStats, RecentOutcome, StatsReport};
pub use store::{ConversationSummary, StoredMessage, StoredRequest};
pub use vocab::{CostSource, RequestStatus, Role};

/// The numbered schema migrations, oldest first.
pub fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(include_str!("../../assets/migrations/0001_init.sql")),
        M::up(include_str!(
            "../../assets/migrations/0002_model_totals.sql"
        )),
        M::up(include_str!("../../assets/migrations/0003_baseline.sql")),
        M::up(include_str!(
            "../../assets/migrations/0004_cost_source_index.sql"
        )),
    ])
}

/// SQLite's page cache per connection, in KiB (as a negative `cache_size`; SQLite's default
/// is 2,000 KiB).
const CACHE_KIB: i64 = -512;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 4;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The process that holds a reservation (to find reservations left by dead processes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Owner {
    pid: u32,
    start_ms: i64,
}

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
    owner: Owner,
    /// The whole file was checked when this ledger opened.
    checked_at_open: bool,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        if self.path == Path::new(":memory:") {
            return;
        }
        // Close first (the last connection checkpoints and removes the log), then stamp.
        if let Ok(placeholder) = Connection::open_in_memory() {
            let conn = std::mem::replace(&mut self.conn, placeholder);
            if conn.close().is_ok() {
                verified::stamp_clean_close(&self.path);
            }
        }
    }
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger").field("path", &self.path).finish()
    }
}

const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

impl Ledger {
    /// Open (creating if absent) and migrate. A file that is not a SQLite database, or is
    /// from a newer CodeForge, is left untouched and reported.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        if let Some(dir) = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty() && !d.exists())
        {
            std::fs::create_dir_all(dir).map_err(|e| LedgerError::Open {
                path: path.to_path_buf(),
                detail: format!("cannot create {}: {e}", dir.display()),
            })?;
            private(dir, 0o700);
        }
        // Processes starting together on a new ledger would race to create it, to switch
        // the journal mode (which fails at once instead of waiting) and to create the
        // tables; an exclusive lock file serialises creation and set-up between them.
        let guard = setup_lock(path)?;
        let exists = path.exists();
        if exists {
            check_header(path)?;
        }
        let flags = if exists {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let conn =
            Connection::open_with_flags(path, flags).map_err(|e| LedgerError::from_sql(path, e))?;
        // Every prompt and answer is in it: readable by its owner only (SQLite gives the
        // -wal and -shm files the same mode).
        private(path, 0o600);
        Self::setup(conn, path.to_path_buf(), Some(guard))
    }

    /// A private in-memory ledger (tests, benchmarks).
    pub fn open_in_memory() -> Result<Self, LedgerError> {
        let conn = Connection::open_in_memory()
            .map_err(|e| LedgerError::from_sql(Path::new(":memory:"), e))?;
        Self::setup(conn, PathBuf::from(":memory:"), None)
    }

    /// `_guard`: the set-up lock of an on-disk ledger, held until set-up is done.
    fn setup(
        mut conn: Connection,
        path: PathBuf,
        _guard: Option<std::fs::File>,
    ) -> Result<Self, LedgerError> {
        let sql = |e| LedgerError::from_sql(&path, e);
        conn.busy_timeout(BUSY_TIMEOUT).map_err(sql)?;
        let on_disk = path != Path::new(":memory:");
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if version > SCHEMA_VERSION {
            return Err(LedgerError::TooNew {
                path: path.clone(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        // A damaged page can sit where a given query never looks, and a write there would
        // spread the damage: the whole file is checked before anything writes, unless it is
        // exactly as a clean close of CodeForge left it (see `verified`).
        let checked = on_disk
            && version > 0
            && (version < SCHEMA_VERSION || !verified::unchanged_since_clean_close(&path));
        if on_disk {
            verified::forget(&path);
        }
        if checked {
            let verdict: String = conn
                .query_row("PRAGMA quick_check(1)", [], |r| r.get(0))
                .map_err(sql)?;
            if verdict != "ok" {
                return Err(LedgerError::Corrupt {
                    path: path.clone(),
                    detail: format!("integrity check: {verdict}"),
                });
            }
        }
        if on_disk {
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0))
                .map_err(sql)?;
            conn.pragma_update(None, "synchronous", "NORMAL")
                .map_err(sql)?;
        }
        // Every query the app makes reads a few pages through an index or the day totals;
        // the start's one longer read (the last 500 outcomes, ~1 MB on a year-old ledger)
        // would otherwise stay cached for the whole process. The OS keeps the file cached.
        conn.pragma_update(None, "cache_size", CACHE_KIB)
            .map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(sql)?;
        migrations().to_latest(&mut conn).map_err(|e| match e {
            rusqlite_migration::Error::RusqliteError { err, .. } => {
                LedgerError::from_sql(&path, err)
            }
            other => LedgerError::Sql(other.to_string()),
        })?;
        Ok(Self {
            conn,
            path,
            owner: Owner {
                pid: std::process::id(),
                start_ms: crate::calendar::now_ms(),
            },
            checked_at_open: checked,
        })
    }

    /// Whether opening read the whole file to check it (see [`verified`]).
    pub fn checked_at_open(&self) -> bool {
        self.checked_at_open
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: rusqlite::Error) -> LedgerError {
        LedgerError::from_sql(&self.path, e)
    }
}

/// Hold an exclusive lock on `<ledger>.lock` until the returned file is dropped.
fn setup_lock(path: &Path) -> Result<std::fs::File, LedgerError> {
    let lock_path = path.with_extension("db.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| LedgerError::Open {
            path: lock_path.clone(),
            detail: e.to_string(),
        })?;
    file.lock().map_err(|e| LedgerError::Open {
        path: lock_path,
        detail: format!("cannot lock: {e}"),
    })?;
    Ok(file)
}

/// Narrow `path`'s permissions to `mode` (owner only) where they are wider. Best effort: a
/// file system without Unix modes keeps its own rules.
pub fn private(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

/// Refuse files that are not SQLite databases before SQLite writes anything to them.
fn check_header(path: &Path) -> Result<(), LedgerError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| LedgerError::Open {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    let mut head = [0u8; 16];
    let n = f.read(&mut head).map_err(|e| LedgerError::Open {
        path: path.to_path_buf(),
        detail: e.to_string(),
    })?;
    if n == 0 {
        // SQLite would take it as a new database, and the limits and today's spend would
        // silently vanish. A ledger CodeForge created is never empty: creation and set-up
        // happen under the set-up lock, which this open holds.
        return Err(LedgerError::Corrupt {
            path: path.to_path_buf(),
            detail: "the file is empty (0 bytes), so it was truncated or is not CodeForge's; \
                     nothing was changed (move it away to start a new ledger)"
                .into(),
        });
    }
    if n < 16 || &head != SQLITE_HEADER {
        return Err(LedgerError::Corrupt {
            path: path.to_path_buf(),
            detail: "the file does not start with a SQLite header".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
