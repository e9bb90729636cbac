//! The ledger behind an async handle: every call runs on tokio's blocking pool, so a slow
//! disk or a lock held by another process never stalls the UI or a stream.

use std::sync::{Arc, Mutex};

use crate::ledger::{Ledger, LedgerError};

#[derive(Clone)]
pub struct LedgerHandle {
    inner: Arc<Mutex<Ledger>>,
}

impl LedgerHandle {
    pub fn new(ledger: Ledger) -> Self {
        Self {
            inner: Arc::new(Mutex::new(ledger)),
        }
    }

    /// Run `f` with the ledger on a blocking thread.
    pub async fn call<R, F>(&self, f: F) -> Result<R, LedgerError>
    where
        F: FnOnce(&mut Ledger) -> Result<R, LedgerError> + Send + 'static,
        R: Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = inner
                .lock()
                .map_err(|_| LedgerError::Sql("the ledger lock was poisoned by a crash".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| LedgerError::Sql(format!("ledger task failed: {e}")))?
    }
}
