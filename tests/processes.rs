//! Several real `codeforge ask` processes sharing one ledger never oversubscribe the
//! limit together, and a process killed with SIGKILL mid-stream leaves a reservation that
//! the next start recovers and reconciles.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use codeforge::money::Usd;

use common::{ask_process as ask, paced_sim, run_all};

/// Claude asked for a short function: dear enough for a tiny limit to bind.
const CLAUDE_ASK: [&str; 3] = [
    "-m",
    "claude-sonnet-4",
    "write a python function that sums a csv column",
];

/// A home whose daily limit is `usd`.
fn home_with_limit(usd: f64) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!("[budget]\ndaily_usd = {usd}\n"),
    )
    .unwrap();
    home
}

fn totals(home: &Path) -> (i64, i64, i64) {
    let conn = rusqlite::Connection::open(home.join("ledger.db")).unwrap();
    conn.query_row(
        "SELECT COALESCE(SUM(committed_nanos),0), COALESCE(SUM(reserved_nanos),0),
                (SELECT COALESCE(SUM(cost_nanos),0) FROM requests)
         FROM daily_totals",
        [],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_processes_never_oversubscribe_a_tiny_limit() {
    let sim = paced_sim(50, 300.0).await;
    let home = home_with_limit(0.006);
    let results = run_all((0..8).map(|_| {
        ask(
            home.path(),
            &sim.url(),
            &["-m", "claude-sonnet-4", "write a python function"],
        )
    }))
    .await;
    let (mut ok, mut refused) = (0, 0);
    for (code, stderr) in results {
        match code {
            Some(0) => ok += 1,
            Some(1) => {
                let last = stderr.lines().last().unwrap_or("");
                assert!(
                    last.contains("budget") || last.contains("could cost up to"),
                    "refusal must say why: {last}"
                );
                refused += 1;
            }
            other => panic!("unexpected exit {other:?}: {stderr}"),
        }
    }
    assert!(ok >= 1, "nobody got through");
    assert!(refused >= 1, "a $0.006 limit cannot pay for 8 answers");
    let (committed, reserved, rows) = totals(home.path());
    assert_eq!(reserved, 0, "reservations left open");
    assert_eq!(committed, rows, "day totals disagree with the request rows");
    assert!(
        committed <= 6_000_000,
        "spent {committed} nano-dollars of a 6,000,000 limit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_concurrent_asks_on_a_tight_limit_spend_most_of_it_and_never_more() {
    let sim = paced_sim(50, 300.0).await;
    let home = home_with_limit(0.02);
    let results = run_all((0..40).map(|_| ask(home.path(), &sim.url(), &CLAUDE_ASK))).await;
    let (mut ok, mut refused) = (0, 0);
    for (code, stderr) in results {
        match code {
            Some(0) => ok += 1,
            Some(1) => refused += 1,
            other => panic!("unexpected exit {other:?}: {stderr}"),
        }
    }
    let (committed, reserved, rows) = totals(home.path());
    assert_eq!(reserved, 0, "reservations left open");
    assert_eq!(committed, rows);
    // Requests wait for the money others hold instead of being refused while it is held:
    // most of the limit is spent, none past it.
    assert!(
        committed <= 20_000_000,
        "spent {committed} of 20,000,000 nano-dollars"
    );
    assert!(
        committed >= 16_000_000,
        "spent only {committed} of 20,000,000 nano-dollars ({ok} answered, {refused} refused)"
    );
    assert_eq!(
        Usd::from_nanos(committed),
        Usd::from_dollars(sim.billed()),
        "ledger = billing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rounds_of_concurrent_asks_stay_within_the_limit_when_billed_prices_drift() {
    // The server bills a fifth more (then a fifth less) than the catalog lists and ignores
    // max_price; rounds of 8 concurrent asks on $0.01 never spend past it.
    for scale in [1.2, 0.8] {
        let sim = paced_sim(30, 400.0).await;
        sim.set_price_scale(scale);
        sim.set_honour_max_price(false);
        let home = home_with_limit(0.01);
        for _round in 0..3 {
            let results = run_all((0..8).map(|_| ask(home.path(), &sim.url(), &CLAUDE_ASK))).await;
            for (code, stderr) in results {
                assert!(matches!(code, Some(0 | 1)), "{code:?}: {stderr}");
            }
            let (committed, reserved, _) = totals(home.path());
            assert_eq!(reserved, 0);
            assert!(
                committed <= 10_000_000,
                "prices ×{scale}: spent {committed} of 10,000,000 nano-dollars"
            );
        }
        let (committed, _, _) = totals(home.path());
        assert_eq!(
            Usd::from_nanos(committed),
            Usd::from_dollars(sim.billed()),
            "ledger = billing"
        );
        assert!(
            committed >= 5_000_000,
            "prices ×{scale}: only {committed} spent"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_is_recovered_at_the_next_start() {
    let sim = paced_sim(0, 15.0).await;
    let home = tempfile::tempdir().unwrap();
    let mut child = ask(
        home.path(),
        &sim.url(),
        &[
            "-m",
            "claude-sonnet-4",
            "write a rust function that adds two numbers",
        ],
    )
    .spawn()
    .unwrap();
    // Wait until the request is in flight with its generation id recorded.
    let db = home.path().join("ledger.db");
    let mut gen_id = None;
    for _ in 0..400 {
        if db.exists()
            && let Ok(conn) = rusqlite::Connection::open(&db)
        {
            gen_id = conn
                .query_row(
                    "SELECT generation_id FROM requests WHERE status = 'open' AND generation_id IS NOT NULL",
                    [],
                    |r| r.get::<_, String>(0),
                )
                .ok();
        }
        if gen_id.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let gen_id = gen_id.expect("the request never started");
    tokio::time::sleep(Duration::from_millis(300)).await;
    child.start_kill().unwrap(); // SIGKILL
    child.wait().await.unwrap();

    // The reservation is still counted.
    let (committed, reserved, _) = totals(home.path());
    assert_eq!(committed, 0);
    assert!(reserved > 0);

    // Wait until the simulator has noticed the dropped connection (it bills the partial).
    let mut billed = None;
    for _ in 0..200 {
        if let Some(g) = sim.generation(&gen_id).filter(|g| g.cancelled) {
            billed = Some(g.total_cost);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let billed = billed.expect("the simulator never saw the disconnect");

    let out = ask(home.path(), &sim.url(), &["-m", "gemini-2.5-flash", "hi"])
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("settled 1 interrupted request(s) from the provider's records"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (status, source, cost): (String, String, i64) = conn
        .query_row(
            "SELECT status, cost_source, cost_nanos FROM requests WHERE generation_id = ?1",
            [&gen_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!((status.as_str(), source.as_str()), ("cut", "generation"));
    assert_eq!(cost, codeforge::money::Usd::from_dollars(billed).nanos());
    let (committed, reserved, rows) = totals(home.path());
    assert_eq!(reserved, 0);
    assert_eq!(committed, rows);
}
