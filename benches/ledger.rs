//! Ledger benchmarks: today's spend and the sidebar aggregates with 1,000,000 requests in
//! the ledger, and one request's reserve + settle. Run: `cargo bench --bench ledger`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use codeforge::budget::{Limits, Prices};
use codeforge::calendar::LocalDay;
use codeforge::ledger::{Ledger, NewRequest, Settlement, Status};
use codeforge::money::Usd;

fn main() {
    divan::main();
}

const TODAY: &str = "2026-11-26";

/// A ledger file with 1,000,000 requests spread over 365 days and 5 models.
fn big_ledger() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        drop(Ledger::open(&path).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "BEGIN;
             WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
             INSERT INTO requests (created_ms, day, month, requested_model, served_model, routed_by,
                 intent, complexity, prompt_tokens, completion_tokens, max_tokens, reserved_nanos,
                 cost_nanos, cost_source, ttft_ms, latency_ms, status, owner_pid, owner_start_ms)
             SELECT i, date('2026-11-26', '-' || (i % 365) || ' days'),
                    strftime('%Y-%m', date('2026-11-26', '-' || (i % 365) || ' days')),
                    CASE i % 5 WHEN 0 THEN 'x-ai/grok-4' WHEN 1 THEN 'anthropic/claude-sonnet-4'
                      WHEN 2 THEN 'moonshotai/kimi-k2' WHEN 3 THEN 'google/gemini-2.5-flash'
                      ELSE 'openai/o3' END,
                    NULL, 'auto', 'code', 'simple', 500, 300, 4096, 0, 1000 + i % 5000, 'provider',
                    200 + i % 300, 900 + i % 2000, 'ok', 1, 1
             FROM n;
             INSERT INTO daily_totals (day, month, committed_nanos, reserved_nanos, requests)
               SELECT day, month, SUM(cost_nanos), 0, COUNT(*) FROM requests GROUP BY day;
             INSERT INTO daily_model_totals (day, model, committed_nanos, reserved_nanos, requests)
               SELECT day, requested_model, SUM(cost_nanos), 0, COUNT(*) FROM requests
               GROUP BY day, requested_model;
             COMMIT;",
        )
        .unwrap();
        dir
    })
    .path()
}

fn open() -> Ledger {
    Ledger::open(&big_ledger().join("ledger.db")).unwrap()
}

#[divan::bench]
fn today_spend_1m_rows(b: divan::Bencher) {
    let l = open();
    b.bench_local(|| l.day_spend(divan::black_box(TODAY)).unwrap());
}

#[divan::bench]
fn month_spend_1m_rows(b: divan::Bencher) {
    let l = open();
    b.bench_local(|| l.month_spend(divan::black_box("2026-11")).unwrap());
}

/// Everything the sidebar reads from the ledger: today, month, per model, 14-day history,
/// today's baseline cost (latency and success come from memory).
#[divan::bench]
fn sidebar_aggregates_1m_rows(b: divan::Bencher) {
    let l = open();
    let days: Vec<String> = (13..=26).map(|d| format!("2026-11-{d:02}")).collect();
    b.bench_local(|| {
        (
            l.day_spend(TODAY).unwrap(),
            l.month_spend("2026-11").unwrap(),
            l.model_spend(TODAY).unwrap(),
            l.history(&days).unwrap(),
            l.day_baseline(TODAY).unwrap(),
        )
    });
}

/// `codeforge stats` for one day: percentiles over today's ~2,700 rows.
#[divan::bench]
fn stats_command_one_day_1m_rows(b: divan::Bencher) {
    let l = open();
    b.bench_local(|| l.stats(&[TODAY.to_string()], (3.0, 15.0)).unwrap());
}

#[divan::bench]
fn reserve_and_settle_one_request(b: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let mut l = Ledger::open(&dir.path().join("ledger.db")).unwrap();
    let day = LocalDay {
        day: TODAY.into(),
        month: "2026-11".into(),
    };
    let limits = Limits {
        daily: Usd::from_dollars(1e6),
        monthly: Usd::from_dollars(1e7),
    };
    b.bench_local(|| {
        let r = l
            .reserve(
                &NewRequest {
                    conversation_id: None,
                    requested_model: "anthropic/claude-sonnet-4",
                    routed_by: "auto",
                    intent: Some("code"),
                    complexity: Some("simple"),
                    decision_json: Some("{}"),
                    prices: Prices {
                        prompt: 3.0,
                        completion: 15.0,
                    },
                    prompt_tokens: 800,
                    wanted_max_tokens: 4096,
                    fair_max_tokens: None,
                },
                limits,
                1,
                &day,
            )
            .unwrap();
        l.settle(
            r.id,
            &Settlement {
                status: Status::Ok,
                served_model: None,
                prompt_tokens: 800,
                completion_tokens: 300,
                reasoning_tokens: 0,
                cached_tokens: 0,
                cost: Usd::from_dollars(0.007),
                cost_source: codeforge::ledger::CostSource::Provider,
                ttft_ms: Some(300),
                latency_ms: Some(1200),
                error_kind: None,
                generation_id: None,
                baseline_cost: Usd::ZERO,
            },
            2,
        )
        .unwrap();
    });
}
