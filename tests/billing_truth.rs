//! Ledger = billing for every fault mode: whatever breaks a stream (a dropped connection,
//! an error chunk, malformed JSON, no usage chunk, a flood past `max_tokens`, a stall), the
//! ledger ends at what the provider billed, read from `GET /generation` in the background
//! moments after the turn, before the process ends.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rig;

use std::time::Duration;

use codeforge::core::Choice;
use codeforge::simulator::Fault;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const KIMI: &str = "moonshotai/kimi-k2";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ledger_ends_at_the_bill_for_every_fault_mode() {
    let faults = [
        (
            "disconnect after 5 tokens",
            Fault::Disconnect { after_tokens: 5 },
        ),
        (
            "error chunk after 5 tokens",
            Fault::ErrorChunk { after_tokens: 5 },
        ),
        (
            "malformed JSON after 5 tokens",
            Fault::MalformedJson { after_tokens: 5 },
        ),
        (
            "malformed JSON before any token",
            Fault::MalformedJson { after_tokens: 0 },
        ),
        ("no usage chunk", Fault::NoUsage),
        ("a flood past max_tokens", Fault::Flood { tokens: 40_000 }),
        (
            "a stall mid-stream",
            Fault::StallMidStream { after_tokens: 5 },
        ),
    ];
    for (what, fault) in faults {
        let mut r = rig(|c| c.timeouts.idle = Duration::from_millis(400)).await;
        r.sim.fail(KIMI, fault);
        let (tx, _rx) = mpsc::unbounded_channel();
        let _ = tokio::time::timeout(
            Duration::from_secs(30),
            r.session.run_turn(
                codeforge::core::TurnId(1),
                "write a python function that adds two numbers",
                &Choice::Override("kimi-k2".into()),
                &CancellationToken::new(),
                &tx,
            ),
        )
        .await
        .expect("turn hung");
        r.session.finish_background(Duration::from_secs(15)).await;
        let billed = r.sim.billed();
        let conn = rusqlite::Connection::open(r.session.config.paths.ledger_file()).unwrap();
        let (recorded, source): (i64, String) = conn
            .query_row(
                "SELECT COALESCE(SUM(cost_nanos), 0), GROUP_CONCAT(cost_source) FROM requests",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        let billed_nanos = (billed * 1e9).round() as i64;
        assert!(
            (recorded - billed_nanos).abs() <= 1,
            "{what}: ledger {recorded} nano-dollars ({source}), billed {billed_nanos}"
        );
        assert!(billed > 0.0, "{what}: the simulator billed nothing");
    }
}
