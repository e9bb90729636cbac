//! A team budget through the OpenRouter key: the key's limit (`GET /key`) caps every
//! reservation alongside the local limits, a 403 "Key limit exceeded" is a budget refusal
//! for every model, a 402 "can only afford M" is answered within M, and two machines
//! (separate ledgers) sharing one key never spend past its limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rig;

use std::time::Duration;

use codeforge::core::{Choice, CoreError, Event, Session, TurnOutcome};
use codeforge::ledger::LedgerError;
use codeforge::money::Usd;
use codeforge::provider::ErrorKind;
use codeforge::simulator::Simulator;
use tokio_util::sync::CancellationToken;

const CLAUDE: &str = "anthropic/claude-sonnet-4";

async fn ask(session: &mut Session, prompt: &str) -> (Result<TurnOutcome, CoreError>, Vec<Event>) {
    let choice = Choice::Override(CLAUDE.into());
    common::run_turn(session, prompt, choice, &CancellationToken::new()).await
}

fn posts(sim: &Simulator) -> Vec<serde_json::Value> {
    sim.requests()
        .into_iter()
        .filter(|r| r.method == "POST")
        .filter_map(|r| r.body)
        .collect()
}

#[tokio::test]
async fn the_keys_limit_is_read_caps_the_reservation_and_is_shown() {
    let rig = rig(|_| {}).await;
    let mut session = rig.session;
    rig.sim.set_key_limit(Some(0.02));
    let (r, events) = ask(
        &mut session,
        "write a python function that adds two numbers",
    )
    .await;
    r.unwrap();
    // The request's worst case fits what the key had left ($0.02), not the local $3.33.
    let reserved = common::reserved(&events).unwrap();
    assert!(reserved <= Usd::from_dollars(0.02), "held {reserved}");
    // What is left: the server's reading less what this turn was billed since.
    let snap = session.budget_snapshot().await.unwrap();
    let key = snap.key.expect("the key's limit is shown");
    assert_eq!(key.limit, Usd::from_dollars(0.02));
    let expected = Usd::from_dollars(0.02).saturating_sub(Usd::from_dollars(rig.sim.billed()));
    assert!(
        (key.left.nanos() - expected.nanos()).abs() <= 2,
        "left {} vs {}",
        key.left,
        expected
    );
    // A key without a limit: nothing is shown and the local budget alone applies.
    rig.sim.set_key_limit(None);
    session.refresh_key(true).await.unwrap();
    assert_eq!(session.budget_snapshot().await.unwrap().key, None);
}

#[tokio::test]
async fn a_spent_key_is_a_budget_refusal_for_every_model_not_a_fallback() {
    let rig = rig(|_| {}).await;
    let mut session = rig.session;
    rig.sim.set_key_limit(Some(1.0));
    ask(
        &mut session,
        "write a python function that adds two numbers",
    )
    .await
    .0
    .unwrap();
    // Another machine spends the key while this one's reading is still fresh: OpenRouter
    // answers 403 "Key limit exceeded".
    rig.sim.set_key_limit(Some(0.000_001));
    let before = posts(&rig.sim).len();
    let (r, events) = ask(&mut session, "write a rust function that adds two numbers").await;
    let e = r.unwrap_err();
    assert!(
        matches!(&e, CoreError::Provider(p) if p.kind() == ErrorKind::KeyLimit),
        "{e:?}"
    );
    assert!(e.to_string().contains("key's spending limit"), "{e}");
    assert_eq!(posts(&rig.sim).len(), before + 1, "no other model is tried");
    assert!(
        !events.iter().any(|e| matches!(e, Event::Fallback { .. })),
        "{events:?}"
    );
    // The next turn is refused here, naming the key, without sending anything.
    let (r, _) = ask(&mut session, "and in go?").await;
    let e = r.unwrap_err();
    assert!(
        matches!(
            &e,
            CoreError::Ledger(LedgerError::Refused(codeforge::budget::Refusal::Key { .. }))
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("OpenRouter key's daily limit"),
        "{e}"
    );
    assert_eq!(posts(&rig.sim).len(), before + 1);
}

#[tokio::test]
async fn a_402_can_only_afford_is_answered_within_what_can_be_paid() {
    let rig = rig(|_| {}).await;
    let mut session = rig.session;
    // The server charges three times the catalog's prices: the client's worst case fits
    // the key's $0.01, the server's does not, and it says how many tokens it can pay for.
    rig.sim.set_price_scale(3.0);
    rig.sim.set_honour_max_price(false);
    rig.sim.set_key_limit(Some(0.01));
    let (r, events) = ask(
        &mut session,
        "write a python function that adds two numbers",
    )
    .await;
    let outcome = r.unwrap();
    assert!(!outcome.content.is_empty());
    let sent = posts(&rig.sim);
    assert_eq!(sent.len(), 2, "asked once more, on the same model");
    assert!(sent.iter().all(|b| b["model"] == CLAUDE));
    let first = sent[0]["max_tokens"].as_u64().unwrap();
    let second = sent[1]["max_tokens"].as_u64().unwrap();
    assert!(second < first, "{second} < {first}");
    let notice = common::notice(&events).expect("the user is told");
    assert!(
        notice.contains(&format!("at most {second} output tokens")),
        "{notice}"
    );
    assert!(rig.sim.billed() <= 0.01, "billed {}", rig.sim.billed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_machines_sharing_a_key_never_spend_past_its_limit() {
    let sim = common::paced_sim(30, 400.0).await;
    const LIMIT: f64 = 0.03;
    sim.set_key_limit(Some(LIMIT));
    // Two machines: two ledgers with roomy local limits, one key.
    let homes = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut results = Vec::new();
    for _round in 0..3 {
        let commands = homes.iter().flat_map(|home| {
            (0..4).map(|_| {
                common::ask_process(
                    home.path(),
                    &sim.url(),
                    &["-m", "claude-sonnet-4", "write a python function"],
                )
            })
        });
        // Rounds overlap: each starts while the one before is still streaming.
        let round = tokio::spawn(common::run_all(commands.collect::<Vec<_>>()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        results.push(round);
    }
    let (mut ok, mut refused) = (0, 0);
    for round in results {
        for (code, stderr) in round.await.unwrap() {
            match code {
                Some(0) => ok += 1,
                Some(1) => {
                    // A refusal for money: the key's limit, what it can afford, or (while
                    // others hold the rest) the budget left.
                    assert!(
                        ["key", "afford", "budget", "left"]
                            .iter()
                            .any(|w| stderr.contains(w)),
                        "a refusal says why: {stderr}"
                    );
                    refused += 1;
                }
                other => panic!("unexpected exit {other:?}: {stderr}"),
            }
        }
    }
    let billed = sim.billed();
    assert!(billed <= LIMIT, "billed ${billed} on a ${LIMIT} key");
    assert!(ok >= 2, "{ok} answered, {refused} refused");
    assert!(refused >= 1, "24 answers cannot fit ${LIMIT}");
    eprintln!("{ok} answered, {refused} refused, billed ${billed:.6} of ${LIMIT}");
}
