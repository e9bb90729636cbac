//! Ledger errors, written for the user: what happened to which file, and what to do.

use std::path::{Path, PathBuf};

use crate::budget::Refusal;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "the ledger {} is corrupt or not a CodeForge ledger ({detail}); it was left untouched. Move it aside to start a new one",
        path.display()
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "the ledger {} is locked by another process; try again in a moment",
        path.display()
    )]
    Locked { path: PathBuf },
    #[error(
        "the ledger {} was written by a newer CodeForge (schema {found}; this build knows {known}); it was left untouched",
        path.display()
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error("cannot open the ledger {}: {detail}", path.display())]
    Open { path: PathBuf, detail: String },
    #[error(
        "cannot write the ledger {}: {detail}. Free some space (or fix the disk) and try again; nothing already written was lost",
        path.display()
    )]
    Write { path: PathBuf, detail: String },
    #[error("{0}")]
    Refused(#[from] Refusal),
    #[error("request {0} is not in the ledger")]
    UnknownRequest(i64),
    #[error("ledger error: {0}")]
    Sql(String),
}

impl LedgerError {
    /// The ledger cannot be opened or created where it should be (a read-only or missing
    /// home): the user's set-up, not a failure of the request.
    pub fn is_setup(&self) -> bool {
        matches!(self, LedgerError::Open { .. })
    }

    pub(crate) fn from_sql(path: &Path, e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        let path = path.to_path_buf();
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => LedgerError::Locked { path },
            Some(C::NotADatabase | C::DatabaseCorrupt) => {
                super::verified::saw_damage(&path);
                LedgerError::Corrupt {
                    path,
                    detail: e.to_string(),
                }
            }
            Some(C::CannotOpen | C::ReadOnly | C::PermissionDenied) => LedgerError::Open {
                path,
                detail: format!("{e} (is the data directory writable?)"),
            },
            Some(C::SystemIoFailure) => {
                super::verified::saw_damage(&path);
                LedgerError::Write {
                    path,
                    detail: e.to_string(),
                }
            }
            Some(C::DiskFull) => LedgerError::Write {
                path,
                detail: e.to_string(),
            },
            _ => LedgerError::Sql(e.to_string()),
        }
    }
}
