//! The budget promise under concurrency: several connections to one ledger file reserve,
//! settle, cancel and fail at random, across a midnight rollover, while a watcher reads the
//! totals. At every moment and at the end, committed + reserved <= limit for every day,
//! and the day totals equal the sum of the request rows.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use codeforge::budget::{Limits, Prices};
use codeforge::calendar::LocalDay;
use codeforge::ledger::{Ledger, LedgerError, NewRequest, Settlement, Status};
use codeforge::money::Usd;
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct Op {
    prompt_tokens: u64,
    max_tokens: u64,
    prices: (f64, f64),
    outcome: u8,
    used_fraction: f64,
    next_day: bool,
}

fn op() -> impl Strategy<Value = Op> {
    (
        1u64..20_000,
        16u64..8_000,
        prop_oneof![
            Just((3.0, 15.0)),
            Just((0.3, 2.5)),
            Just((2.0, 8.0)),
            Just((0.57, 2.3))
        ],
        0u8..4,
        0.0f64..=1.0,
        any::<bool>(),
    )
        .prop_map(
            |(prompt_tokens, max_tokens, prices, outcome, used_fraction, next_day)| Op {
                prompt_tokens,
                max_tokens,
                prices,
                outcome,
                used_fraction,
                next_day,
            },
        )
}

fn day(next: bool) -> LocalDay {
    let d = if next { "2026-11-27" } else { "2026-11-26" };
    LocalDay {
        day: d.into(),
        month: "2026-11".into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn committed_plus_reserved_never_exceeds_the_limit(
        plans in proptest::collection::vec(proptest::collection::vec(op(), 1..25), 3..5),
        daily_cents in 1u32..50,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.db");
        drop(Ledger::open(&path).unwrap());
        let limits = Limits {
            daily: Usd::from_dollars(daily_cents as f64 / 100.0),
            monthly: Usd::from_dollars(100.0),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let watcher = {
            let path = path.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let l = Ledger::open(&path).unwrap();
                let mut checks = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    for d in ["2026-11-26", "2026-11-27"] {
                        let s = l.day_spend(d).unwrap();
                        assert!(s.total() <= limits.daily, "{d}: {s:?} over {:?}", limits.daily);
                    }
                    checks += 1;
                }
                checks
            })
        };
        let workers: Vec<_> = plans
            .into_iter()
            .map(|plan| {
                let path = path.clone();
                std::thread::spawn(move || {
                    let mut l = Ledger::open(&path).unwrap();
                    for (i, op) in plan.iter().enumerate() {
                        let req = NewRequest {
                            conversation_id: None,
                            requested_model: "m",
                            routed_by: "auto",
                            intent: None,
                            complexity: None,
                            decision_json: None,
                            prices: Prices { prompt: op.prices.0, completion: op.prices.1 },
                            prompt_tokens: op.prompt_tokens,
                            wanted_max_tokens: op.max_tokens,
                            fair_max_tokens: Some(op.max_tokens / 4),
                        };
                        let d = day(op.next_day);
                        let r = match l.reserve(&req, limits, i as i64, &d) {
                            Ok(r) => r,
                            Err(LedgerError::Refused(_)) => continue,
                            Err(e) => panic!("{e}"),
                        };
                        assert!(r.max_tokens <= op.max_tokens);
                        let (status, cost) = match op.outcome {
                            0 => (Status::Ok, r.reserved.nanos() as f64 * op.used_fraction),
                            1 => (Status::Cancelled, r.reserved.nanos() as f64 * op.used_fraction / 2.0),
                            2 => (Status::Error, 0.0),
                            _ => (Status::Cut, r.reserved.nanos() as f64 * op.used_fraction),
                        };
                        let s = Settlement {
                            status,
                            ..common::billed("m", op.prompt_tokens, 0, Usd::from_nanos(cost as i64))
                        };
                        l.settle(r.id, &s, i as i64).unwrap();
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        watcher.join().unwrap();

        let l = Ledger::open(&path).unwrap();
        for d in ["2026-11-26", "2026-11-27"] {
            let s = l.day_spend(d).unwrap();
            prop_assert!(s.total() <= limits.daily);
            prop_assert_eq!(s.reserved, Usd::ZERO);
            let stats = l.stats(&[d.to_string()], (3.0, 15.0)).unwrap();
            prop_assert_eq!(stats.spend, s.committed, "day totals disagree with the rows");
        }
    }
}
