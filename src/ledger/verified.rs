//! When the ledger's integrity must be checked at start: `PRAGMA quick_check` reads the
//! whole file (162 ms at 65 MB, 1.45 s from a cold cache), so it runs only when the file
//! may hold damage CodeForge did not check: a schema migration is due, the last process did
//! not close cleanly (a write-ahead log is left), or the file changed since the last clean
//! close (its size, modification time or inode differ from the stamp that close left in
//! `<ledger>.db-ok`), and never after a session that met damage in it. Damage that keeps the
//! size, time and inode (a failing disk) is found by SQLite when a query reads it, not at
//! start. Owns that stamp; must not import the rest of the ledger.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Ledgers this process saw damage in (a corrupt page, an I/O error): never stamped clean.
static DAMAGED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Remember that `db` reported damage, so that closing it does not stamp it clean.
pub fn saw_damage(db: &Path) {
    if let Ok(mut set) = DAMAGED.lock() {
        set.get_or_insert_with(HashSet::new)
            .insert(db.to_path_buf());
    }
}

fn damaged(db: &Path) -> bool {
    // A poisoned lock: assume the worst.
    DAMAGED
        .lock()
        .map_or(true, |set| set.as_ref().is_some_and(|s| s.contains(db)))
}

fn stamp_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-ok");
    PathBuf::from(p)
}

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    PathBuf::from(p)
}

/// What identifies the file's bytes as of now, cheaply.
fn fingerprint(db: &Path) -> Option<String> {
    let m = std::fs::metadata(db).ok()?;
    let modified = m
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_nanos();
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0u64;
    Some(format!("{} {modified} {inode}", m.len()))
}

/// A write-ahead log is left beside the file: another process has it open, or one ended
/// without closing it.
fn wal_left(db: &Path) -> bool {
    std::fs::metadata(wal_path(db)).is_ok_and(|m| m.len() > 0)
}

/// The file is as the last clean close left it: no check needed.
pub fn unchanged_since_clean_close(db: &Path) -> bool {
    if wal_left(db) {
        return false;
    }
    match (std::fs::read_to_string(stamp_path(db)), fingerprint(db)) {
        (Ok(stamp), Some(now)) => stamp.trim() == now,
        _ => false,
    }
}

/// After this process's connection closed: if it was the last (no log left), stamp the file
/// as cleanly closed. Best effort: a missing stamp only means one more check.
pub fn stamp_clean_close(db: &Path) {
    let stamp = stamp_path(db);
    if wal_left(db) || damaged(db) {
        let _ = std::fs::remove_file(&stamp);
        return;
    }
    if let Some(now) = fingerprint(db) {
        let _ = std::fs::write(&stamp, now);
    }
}

/// Forget the stamp (before anything writes: until the next clean close, the file is not
/// as stamped).
pub fn forget(db: &Path) {
    let _ = std::fs::remove_file(stamp_path(db));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ledger_that_reported_damage_is_never_stamped_clean() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
        for p in [&a, &b] {
            std::fs::write(p, b"SQLite format 3\0").unwrap();
        }
        saw_damage(&a);
        stamp_clean_close(&a);
        stamp_clean_close(&b);
        assert!(
            !unchanged_since_clean_close(&a),
            "damaged: checked at the next open"
        );
        assert!(
            unchanged_since_clean_close(&b),
            "the other ledger is unaffected"
        );
        forget(&b);
        assert!(!unchanged_since_clean_close(&b));
    }
}
