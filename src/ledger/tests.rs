use std::time::Duration;

use super::*;
use crate::budget::{Limits, Prices};
use crate::calendar::LocalDay;
use crate::money::Usd;

const PRICES: Prices = Prices {
    prompt: 3.0,
    completion: 15.0,
};

fn day(d: &str) -> LocalDay {
    LocalDay {
        day: d.to_string(),
        month: d[..7].to_string(),
    }
}

fn limits(daily: f64) -> Limits {
    Limits {
        daily: Usd::from_dollars(daily),
        monthly: Usd::from_dollars(100.0),
    }
}

fn new_request(model: &str) -> NewRequest<'_> {
    NewRequest {
        conversation_id: None,
        requested_model: model,
        routed_by: "auto",
        intent: Some("code"),
        complexity: Some("simple"),
        decision_json: Some("{}"),
        prices: PRICES,
        prompt_tokens: 1000,
        wanted_max_tokens: 2000,
        fair_max_tokens: None,
    }
}

fn ok(cost: Usd) -> Settlement {
    Settlement {
        status: Status::Ok,
        served_model: Some("m".into()),
        prompt_tokens: 1000,
        completion_tokens: 100,
        reasoning_tokens: 0,
        cached_tokens: 0,
        cost,
        cost_source: CostSource::Provider,
        ttft_ms: Some(100),
        latency_ms: Some(900),
        error_kind: None,
        generation_id: Some("gen-1".into()),
        baseline_cost: Usd::ZERO,
    }
}

#[test]
fn reserve_then_settle_moves_money_from_reserved_to_committed() {
    let mut l = Ledger::open_in_memory().unwrap();
    let d = day("2026-11-26");
    let r = l.reserve(&new_request("a/m"), limits(3.33), 1, &d).unwrap();
    assert_eq!(r.max_tokens, 2000);
    assert_eq!(r.reserved, crate::budget::worst_case(PRICES, 1000, 2000));
    let s = l.day_spend(&d.day).unwrap();
    assert_eq!((s.committed, s.reserved), (Usd::ZERO, r.reserved));

    l.settle(r.id, &ok(Usd::from_dollars(0.004)), 2).unwrap();
    let s = l.day_spend(&d.day).unwrap();
    assert_eq!(
        (s.committed, s.reserved),
        (Usd::from_dollars(0.004), Usd::ZERO)
    );
    // Settling again changes nothing.
    l.settle(r.id, &ok(Usd::from_dollars(1.0)), 3).unwrap();
    assert_eq!(
        l.day_spend(&d.day).unwrap().committed,
        Usd::from_dollars(0.004)
    );
    assert_eq!(
        l.month_spend("2026-11").unwrap().committed,
        Usd::from_dollars(0.004)
    );
    let models = l.model_spend(&d.day).unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].model, "a/m");
    assert_eq!(models[0].requests, 1);
    assert_eq!(
        l.request_status(r.id).unwrap(),
        Some(("ok".to_string(), Some(Usd::from_dollars(0.004))))
    );
}

#[test]
fn a_full_day_refuses_and_a_new_day_starts_fresh() {
    let mut l = Ledger::open_in_memory().unwrap();
    let d = day("2026-11-26");
    let tiny = limits(0.02);
    let mut granted = 0;
    loop {
        match l.reserve(&new_request("a/m"), tiny, 1, &d) {
            Ok(_) => granted += 1,
            Err(LedgerError::Refused(e)) => {
                assert!(e.to_string().contains("codeforge budget --daily"), "{e}");
                break;
            }
            Err(e) => panic!("{e}"),
        }
        assert!(granted < 100);
    }
    assert!(granted >= 1);
    assert!(l.day_spend(&d.day).unwrap().total() <= tiny.daily);
    // Midnight: the next local day has its own limit.
    assert!(
        l.reserve(&new_request("a/m"), tiny, 2, &day("2026-11-27"))
            .is_ok()
    );
}

#[test]
fn dead_owners_reservations_are_recovered_not_dropped() {
    let mut l = Ledger::open_in_memory().unwrap();
    let d = day("2026-11-26");
    let with_gen = l.reserve(&new_request("a/m"), limits(3.33), 1, &d).unwrap();
    l.mark_started(with_gen.id, "gen-42").unwrap();
    let without_gen = l.reserve(&new_request("a/m"), limits(3.33), 1, &d).unwrap();
    let live = l.reserve(&new_request("a/m"), limits(3.33), 1, &d).unwrap();
    // Two of them belonged to a process that no longer exists.
    l.conn
        .execute(
            "UPDATE requests SET owner_pid = 999999999 WHERE id IN (?1, ?2)",
            [with_gen.id, without_gen.id],
        )
        .unwrap();
    let orphans = l.recover_orphans(5).unwrap();
    assert_eq!(orphans.len(), 1);
    assert_eq!(orphans[0].id, with_gen.id);
    assert_eq!(orphans[0].generation_id.as_deref(), Some("gen-42"));
    // Without a generation id the worst case is committed; the orphan stays reserved.
    let s = l.day_spend(&d.day).unwrap();
    assert_eq!(s.committed, without_gen.reserved);
    assert_eq!(s.reserved, with_gen.reserved.saturating_add(live.reserved));
    assert_eq!(
        l.request_status(with_gen.id).unwrap().unwrap().0,
        "orphaned"
    );
    // Reconciled later with what /generation reported.
    let mut settled = ok(Usd::from_dollars(0.002));
    settled.cost_source = CostSource::Generation;
    l.settle(orphans[0].id, &settled, 6).unwrap();
    let s = l.day_spend(&d.day).unwrap();
    assert_eq!(s.reserved, live.reserved);
    // Recovery again finds nothing new.
    assert!(l.recover_orphans(7).unwrap().is_empty());
}

#[test]
fn an_older_schema_migrates_and_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    {
        let mut conn = rusqlite::Connection::open(&path).unwrap();
        migrations().to_version(&mut conn, 1).unwrap();
        conn.execute(
            "INSERT INTO requests (created_ms, day, month, requested_model, routed_by, max_tokens,
               reserved_nanos, cost_nanos, status, owner_pid, owner_start_ms)
             VALUES (1, '2026-11-20', '2026-11', 'old/model', 'auto', 100, 0, 5000, 'ok', 1, 1)",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO daily_totals (day, month, committed_nanos, reserved_nanos, requests)
             VALUES ('2026-11-20', '2026-11', 5000, 0, 1)",
            [],
        )
        .unwrap();
    }
    let l = Ledger::open(&path).unwrap();
    let version: i64 = l
        .conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(
        l.day_spend("2026-11-20").unwrap().committed,
        Usd::from_nanos(5000)
    );
    let m = l.model_spend("2026-11-20").unwrap();
    assert_eq!(m[0].model, "old/model");
    assert_eq!(m[0].spend.committed, Usd::from_nanos(5000));
}

#[test]
fn migrations_are_valid() {
    migrations().validate().unwrap();
}

#[test]
fn a_corrupt_file_is_reported_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let garbage = b"this is not sqlite at all, but it is somebody's data".repeat(100);
    std::fs::write(&path, &garbage).unwrap();
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, LedgerError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("left untouched"));
    assert_eq!(std::fs::read(&path).unwrap(), garbage);
    // A damaged SQLite file (valid header, broken pages) is refused too, bytes unchanged.
    let mut damaged = b"SQLite format 3\0".to_vec();
    damaged.extend(std::iter::repeat_n(0xA5u8, 8192));
    std::fs::write(&path, &damaged).unwrap();
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, LedgerError::Corrupt { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), damaged);
}

#[test]
fn an_empty_ledger_file_is_refused_not_taken_as_new() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    std::fs::write(&path, b"").unwrap();
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, LedgerError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("empty (0 bytes)"), "{err}");
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        0,
        "nothing written"
    );
    // A ledger CodeForge creates is never empty, so it opens again.
    let fresh = dir.path().join("new").join("ledger.db");
    drop(Ledger::open(&fresh).unwrap());
    assert!(std::fs::metadata(&fresh).unwrap().len() > 0);
    Ledger::open(&fresh).unwrap();
}

#[cfg(unix)]
#[test]
fn the_ledger_is_private_to_its_owner() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let path = data.join("ledger.db");
    drop(Ledger::open(&path).unwrap());
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(&data), 0o700);
    // One left world-readable by an earlier version is narrowed at the next open.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(Ledger::open(&path).unwrap());
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_damaged_page_anywhere_is_refused_before_anything_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    {
        let mut l = Ledger::open(&path).unwrap();
        for i in 0..200 {
            l.set_setting(&format!("filler-{i}"), &"x".repeat(1000))
                .unwrap();
        }
    }
    // Pages 3 to 6 overwritten; the header and the settings a budget change touches may
    // still read fine, which is how a write used to get through.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 24_576, "{}", bytes.len());
    for (i, b) in bytes[8192..24_576].iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(167).wrapping_add(13);
    }
    std::fs::write(&path, &bytes).unwrap();
    let err = Ledger::open(&path).unwrap_err();
    assert!(matches!(err, LedgerError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("left untouched"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}

#[test]
fn the_whole_file_is_checked_only_when_it_may_hold_unchecked_damage() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let created = Ledger::open(&path).unwrap();
    assert!(!created.checked_at_open(), "nothing to check in a new file");
    drop(created);
    let mut l = Ledger::open(&path).unwrap();
    assert!(
        !l.checked_at_open(),
        "created and closed cleanly by CodeForge"
    );
    l.set_setting("k", "v").unwrap();
    drop(l);
    // Closed cleanly by CodeForge and untouched since: no full scan.
    let l = Ledger::open(&path).unwrap();
    assert!(!l.checked_at_open());
    // While another process has it open (its log is there), a second open checks.
    let other = Ledger::open(&path).unwrap();
    assert!(other.checked_at_open());
    drop(other);
    drop(l);
    assert!(!Ledger::open(&path).unwrap().checked_at_open());
    // Changed by anything else since (its bytes rewritten as they were): checked again.
    let bytes = std::fs::read(&path).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&path, &bytes).unwrap();
    assert!(Ledger::open(&path).unwrap().checked_at_open());
    // A process that ended without closing leaves its log: the next open checks.
    let mut l = Ledger::open(&path).unwrap();
    assert!(!l.checked_at_open());
    l.set_setting("k", "w").unwrap();
    std::mem::forget(l);
    assert!(Ledger::open(&path).unwrap().checked_at_open());
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    drop(Ledger::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let err = Ledger::open(&path).unwrap_err();
    assert!(
        matches!(err, LedgerError::TooNew { found: 99, .. }),
        "{err}"
    );
}

#[test]
fn a_locked_database_gives_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut l = Ledger::open(&path).unwrap();
    l.conn.busy_timeout(Duration::from_millis(100)).unwrap();
    let holder = rusqlite::Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let err = l
        .reserve(&new_request("a/m"), limits(3.33), 1, &day("2026-11-26"))
        .unwrap_err();
    assert!(matches!(err, LedgerError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("locked by another process"));
    holder.execute_batch("ROLLBACK").unwrap();
    assert!(
        l.reserve(&new_request("a/m"), limits(3.33), 1, &day("2026-11-26"))
            .is_ok()
    );
}

#[test]
fn conversations_keep_their_messages_in_order() {
    let mut l = Ledger::open_in_memory().unwrap();
    let d = day("2026-11-26");
    let r = l.reserve(&new_request("a/m"), limits(3.33), 1, &d).unwrap();
    let c = l
        .record_exchange(None, "first question", "hi!", r.id, 11)
        .unwrap();
    let r2 = l.reserve(&new_request("a/m"), limits(3.33), 2, &d).unwrap();
    let c2 = l.record_exchange(None, "second", "yes", r2.id, 20).unwrap();
    assert_eq!(l.last_conversation().unwrap(), Some(c2));
    let m = l.messages(c).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(
        (m[0].role.as_str(), &*m[0].content, &*m[1].content),
        ("user", "first question", "hi!")
    );
    let list = l.conversations(10).unwrap();
    assert_eq!(list[0].id, c2);
    assert_eq!(list[1].messages, 2);
    assert_eq!(list[1].title, "first question");
    // An exchange that cannot be kept whole (its conversation does not exist) keeps
    // nothing: no prompt without its answer.
    assert!(
        l.record_exchange(Some(999), "lost", "lost too", r.id, 30)
            .is_err()
    );
    assert_eq!(l.messages(999).unwrap().len(), 0);
    let total: i64 = l
        .conn
        .query_row("SELECT COUNT(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(total, 4);
}

#[test]
fn feedback_needs_a_real_request_and_the_last_rating_wins() {
    let mut l = Ledger::open_in_memory().unwrap();
    assert!(matches!(
        l.set_feedback(7, true, 1),
        Err(LedgerError::UnknownRequest(7))
    ));
    let d = day("2026-11-26");
    let r = l.reserve(&new_request("a/m"), limits(3.33), 1, &d).unwrap();
    l.settle(r.id, &ok(Usd::from_dollars(0.01)), 2).unwrap();
    // Each call reports the rating it replaced.
    assert_eq!(l.set_feedback(r.id, false, 3).unwrap(), None);
    assert_eq!(l.set_feedback(r.id, true, 4).unwrap(), Some(false));
    let s = l.stats(std::slice::from_ref(&d.day), (3.0, 15.0)).unwrap();
    assert_eq!(s.positive_feedback_rate, Some(1.0));
    assert_eq!(s.models[0].feedback_up, 1);
    assert_eq!(s.models[0].latency_p50_ms, Some(900));
    assert_eq!(s.by_intent["code"], Usd::from_dollars(0.01));
}

#[test]
fn an_unwritable_data_directory_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = Ledger::open(&blocker.join("data/ledger.db")).unwrap_err();
    assert!(matches!(err, LedgerError::Open { .. }), "{err}");
    assert!(err.to_string().contains("cannot create"), "{err}");
    assert_eq!(std::fs::read(&blocker).unwrap(), b"x");
}

#[test]
fn a_cancelled_request_is_not_a_failure_of_the_model_in_the_stats() {
    let mut l = Ledger::open_in_memory().unwrap();
    let d = day("2026-11-26");
    let settle = |l: &mut Ledger, status: Status| {
        let r = l.reserve(&new_request("a/m"), limits(3.33), 1, &d).unwrap();
        let mut s = ok(Usd::from_dollars(0.01));
        s.status = status;
        l.settle(r.id, &s, 2).unwrap();
    };
    settle(&mut l, Status::Ok);
    settle(&mut l, Status::Cancelled);
    let s = l.stats(std::slice::from_ref(&d.day), (3.0, 15.0)).unwrap();
    let m = &s.models[0];
    assert_eq!((m.requests, m.finished, m.ok), (2, 1, 1));
    assert_eq!(m.success_rate, 1.0);
    // A rejected key is not the model's failure either.
    let r = l.reserve(&new_request("a/m"), limits(3.33), 1, &d).unwrap();
    let mut auth = ok(Usd::ZERO);
    auth.status = Status::Error;
    auth.error_kind = Some("auth".into());
    l.settle(r.id, &auth, 2).unwrap();
    let s = l.stats(std::slice::from_ref(&d.day), (3.0, 15.0)).unwrap();
    assert_eq!((s.models[0].finished, s.models[0].success_rate), (1, 1.0));
    // A process killed mid-request is not the model's failure, and costs no "saving".
    let r = l.reserve(&new_request("a/m"), limits(3.33), 1, &d).unwrap();
    let before = l.stats(std::slice::from_ref(&d.day), (3.0, 15.0)).unwrap();
    l.settle(
        r.id,
        &Settlement::process_died(r.reserved, CostSource::Reservation),
        2,
    )
    .unwrap();
    let s = l.stats(std::slice::from_ref(&d.day), (3.0, 15.0)).unwrap();
    assert_eq!((s.models[0].finished, s.models[0].success_rate), (1, 1.0));
    assert_eq!(
        s.baseline_cost.saturating_sub(s.spend),
        before.baseline_cost.saturating_sub(before.spend),
        "a kill moves spend and baseline alike"
    );
    assert!(
        l.recent_outcomes(10)
            .unwrap()
            .iter()
            .all(|o| o.status.is_ok())
    );
    // A model's error is.
    settle(&mut l, Status::Error);
    let s = l.stats(std::slice::from_ref(&d.day), (3.0, 15.0)).unwrap();
    assert_eq!(s.models[0].success_rate, 0.5);
}

#[test]
fn requests_running_together_share_a_tight_budget() {
    // A $0.02 day, a cheap model, ten requests in flight at once (none settled yet).
    let cheap = Prices {
        prompt: 0.57,
        completion: 2.30,
    };
    let d = day("2026-11-26");
    let run = |fair: Option<u64>| {
        let mut l = Ledger::open_in_memory().unwrap();
        let mut granted = Vec::new();
        for _ in 0..10 {
            let req = NewRequest {
                prices: cheap,
                prompt_tokens: 60,
                wanted_max_tokens: 8192,
                fair_max_tokens: fair,
                ..new_request("moonshotai/kimi-k2")
            };
            if let Ok(r) = l.reserve(&req, limits(0.02), 1, &d) {
                granted.push(r);
            }
        }
        let held: i64 = granted.iter().map(|r| r.reserved.nanos()).sum();
        (granted.len(), held, l.day_spend(&d.day).unwrap())
    };
    // Holding everything that is left: the first takes nearly all, the others starve.
    let (greedy, _, _) = run(None);
    assert!(greedy <= 3, "{greedy}");
    // A fair part (twice a 250-token answer): all ten run, and together they still fit.
    let (fair, held, today) = run(Some(560));
    assert_eq!(fair, 10);
    assert!(held <= Usd::from_dollars(0.02).nanos(), "{held}");
    assert!(today.total() <= Usd::from_dollars(0.02));
}

#[test]
fn what_every_start_looks_up_is_found_through_an_index_not_a_scan_of_history() {
    let l = Ledger::open_in_memory().unwrap();
    for sql in [
        super::money_ops::ESTIMATES_TO_RECONCILE,
        super::money_ops::WORST_CASES_LEFT,
    ] {
        let plan: Vec<String> = l
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap()
            .query_map([10], |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let plan = plan.join("; ");
        assert!(!plan.contains("SCAN requests"), "{sql}\n{plan}");
        assert!(plan.contains("requests_cost_source"), "{plan}");
    }
}
