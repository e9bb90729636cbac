//! The turn driver against the simulator with a real ledger file: fallback before the
//! first token, the first-token deadline, cancellation, cut streams, the budget cap, and
//! reconciliation from `GET /generation`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rig;

use std::time::Duration;

use codeforge::catalog::Catalog;
use codeforge::core::{Choice, Event, Session};
use codeforge::ledger::Ledger;
use codeforge::money::Usd;
use codeforge::simulator::{Behaviour, Fault, Simulator};
use tokio_util::sync::CancellationToken;

/// The model the router picks for the everyday code prompt these tests send.
const FIRST: &str = "moonshotai/kimi-k2";

async fn turn(
    session: &mut Session,
    prompt: &str,
    choice: Choice,
    cancel: &CancellationToken,
) -> (
    Result<codeforge::core::TurnOutcome, codeforge::core::CoreError>,
    Vec<Event>,
) {
    common::run_turn(session, prompt, choice, cancel).await
}

/// A turn nobody cancels.
async fn ask(
    session: &mut Session,
    prompt: &str,
    choice: Choice,
) -> (
    Result<codeforge::core::TurnOutcome, codeforge::core::CoreError>,
    Vec<Event>,
) {
    turn(session, prompt, choice, &CancellationToken::new()).await
}

/// The partial answer a cut or failed turn kept.
fn partial_answer(events: &[Event]) -> Option<codeforge::core::TurnOutcome> {
    events.iter().find_map(|e| match e {
        Event::Failed {
            outcome: Some(o), ..
        } => Some(o.clone()),
        _ => None,
    })
}

/// The `max_tokens` the turn's request was sent with.
fn sent_max_tokens(events: &[Event]) -> Option<u64> {
    events.iter().find_map(|e| match e {
        Event::Reserved { max_tokens, .. } => Some(*max_tokens),
        _ => None,
    })
}

/// (requested model, routed_by, status, cost in nano-dollars, cost source) per request.
type Row = (String, String, String, Option<i64>, Option<String>);

fn ledger_rows(session: &Session) -> Vec<Row> {
    let conn = rusqlite::Connection::open(session.config.paths.ledger_file()).unwrap();
    let mut stmt = conn
        .prepare("SELECT requested_model, routed_by, status, cost_nanos, cost_source FROM requests ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

#[tokio::test]
async fn a_503_before_the_first_token_falls_back_and_says_so() {
    let mut r = rig(|_| {}).await;
    r.sim.fail(
        FIRST,
        Fault::Status {
            code: 503,
            retry_after: None,
        },
    );
    let cancel = CancellationToken::new();
    let (out, events) = turn(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
        &cancel,
    )
    .await;
    let out = out.unwrap();
    assert_ne!(out.requested_model, FIRST);
    assert!(out.content.contains("```rust"));
    let fallback = events
        .iter()
        .find_map(|e| match e {
            Event::Fallback {
                from, error, to, ..
            } => Some((from.clone(), error.clone(), to.clone())),
            _ => None,
        })
        .expect("no fallback event");
    assert_eq!(fallback.0, "kimi-k2");
    assert!(fallback.1.contains("(503)"));
    let rows = ledger_rows(&r.session);
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str(), rows[0].2.as_str()),
        (FIRST, "auto", "error")
    );
    assert_eq!(rows[0].3, Some(0));
    assert_eq!((rows[1].1.as_str(), rows[1].2.as_str()), ("fallback", "ok"));
    assert_eq!(rows[1].4.as_deref(), Some("provider"));
}

#[tokio::test]
async fn a_pinned_model_does_not_fall_back() {
    let mut r = rig(|_| {}).await;
    r.sim.fail(
        FIRST,
        Fault::Status {
            code: 502,
            retry_after: None,
        },
    );
    let (out, events) = ask(
        &mut r.session,
        "write code",
        Choice::Pinned("kimi-k2".into()),
    )
    .await;
    assert!(out.is_err());
    assert!(events.iter().any(|e| matches!(e, Event::Failed { .. })));
    assert!(!events.iter().any(|e| matches!(e, Event::Fallback { .. })));
    assert_eq!(ledger_rows(&r.session)[0].1, "pinned");
}

#[tokio::test]
async fn the_first_token_deadline_moves_to_the_next_model() {
    let mut r = rig(|c| c.timeouts.first_token = Duration::from_millis(300)).await;
    r.sim.set_behaviour(
        Some(FIRST),
        Behaviour {
            ttft: Duration::from_secs(5),
            tokens_per_sec: 0.0,
            max_answer_tokens: None,
        },
    );
    let (out, events) = ask(&mut r.session, "write a python function", Choice::Auto).await;
    assert!(out.is_ok());
    let err = events
        .iter()
        .find_map(|e| match e {
            Event::Fallback { error, .. } => Some(error.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(err, "timed out after 300 ms waiting for the first token");
    // Keep-alives arrived while waiting, and were surfaced.
    assert!(events.iter().any(|e| matches!(e, Event::Waiting { .. })));
}

#[tokio::test]
async fn cancelling_settles_an_estimate_that_reconciles_later() {
    let mut r = rig(|_| {}).await;
    r.sim.set_behaviour(
        Some(FIRST),
        Behaviour {
            ttft: Duration::ZERO,
            tokens_per_sec: 40.0,
            max_answer_tokens: None,
        },
    );
    let cancel = CancellationToken::new();
    let c2 = cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(250)).await;
        c2.cancel();
    });
    let (out, events) = turn(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
        &cancel,
    )
    .await;
    let out = out.unwrap();
    assert_eq!(out.status, codeforge::core::protocol::TurnStatus::Cancelled);
    assert!(!out.content.is_empty());
    assert!(
        !out.content.contains("Edge cases"),
        "the answer should not be complete"
    );
    assert_eq!(out.cost_source, codeforge::ledger::CostSource::Estimate);
    assert!(events.iter().any(|e| matches!(e, Event::Finished { .. })));
    let rows = ledger_rows(&r.session);
    assert_eq!(rows[0].2, "cancelled");
    // Counted at its worst case (the answer shows the estimate) until the bill comes.
    assert_eq!(rows[0].4.as_deref(), Some("worst_case"));
    // The conversation keeps the partial answer.
    assert_eq!(r.session.conversation.messages.len(), 2);

    // Moments later, in the background, GET /generation replaces the estimate with what
    // was billed (before the process ends: `ask` waits for it).
    let gen_id = out.generation_id.clone().unwrap();
    r.session.finish_background(Duration::from_secs(10)).await;
    let billed = r.sim.generation(&gen_id).unwrap().total_cost;
    let rows = ledger_rows(&r.session);
    assert_eq!(rows[0].4.as_deref(), Some("generation"));
    assert_eq!(
        Usd::from_nanos(rows[0].3.unwrap()),
        Usd::from_dollars(billed)
    );
    let (_, today, _) = r.session.spend().await.unwrap();
    assert_eq!(today.committed, Usd::from_dollars(billed));
}

#[tokio::test]
async fn an_estimate_an_earlier_process_left_is_corrected_at_the_next_start() {
    let mut r = rig(|_| {}).await;
    // A generation the provider billed, whose process settled it at an estimate and ended
    // before the bill was there.
    let (out, _) = ask(&mut r.session, "hi", Choice::Override("kimi-k2".into())).await;
    let out = out.unwrap();
    let gen_id = out.generation_id.clone().unwrap();
    let billed = r.sim.generation(&gen_id).unwrap().total_cost;
    let day = r.session.today();
    let id = r
        .session
        .ledger
        .call(move |l| {
            let req = codeforge::ledger::NewRequest {
                conversation_id: None,
                requested_model: "moonshotai/kimi-k2",
                routed_by: "auto",
                intent: None,
                complexity: None,
                decision_json: None,
                prices: codeforge::budget::Prices {
                    prompt: 0.57,
                    completion: 2.3,
                },
                prompt_tokens: 10,
                wanted_max_tokens: 100,
                fair_max_tokens: None,
            };
            let limits = codeforge::budget::Limits {
                daily: Usd::from_dollars(3.33),
                monthly: Usd::from_dollars(100.0),
            };
            let res = l.reserve(&req, limits, 0, &day)?;
            let s = codeforge::ledger::Settlement {
                status: codeforge::ledger::Status::Cut,
                served_model: None,
                prompt_tokens: 10,
                completion_tokens: 5,
                reasoning_tokens: 0,
                cached_tokens: 0,
                cost: Usd::from_nanos(1),
                cost_source: codeforge::ledger::CostSource::Estimate,
                ttft_ms: None,
                latency_ms: None,
                error_kind: None,
                generation_id: Some(gen_id),
                baseline_cost: Usd::ZERO,
            };
            l.settle(res.id, &s, 0)?;
            Ok(res.id)
        })
        .await
        .unwrap();
    let rec = r.session.recover().await.unwrap();
    assert_eq!(rec.estimates_fixed, 1);
    let rows = ledger_rows(&r.session);
    let row = &rows[(id - 1) as usize];
    assert_eq!(row.4.as_deref(), Some("generation"));
    assert_eq!(Usd::from_nanos(row.3.unwrap()), Usd::from_dollars(billed));
}

#[tokio::test]
async fn a_cut_stream_keeps_the_partial_answer_marked_cut() {
    let mut r = rig(|_| {}).await;
    r.sim.fail(FIRST, Fault::Disconnect { after_tokens: 5 });
    let (out, events) = ask(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
    )
    .await;
    assert!(out.is_err());
    let partial = partial_answer(&events).unwrap();
    assert_eq!(partial.status, codeforge::core::protocol::TurnStatus::Cut);
    assert!(partial.content.starts_with("Here is a small,"));
    // No fallback after the answer started: a second generation would be billed too.
    assert!(!events.iter().any(|e| matches!(e, Event::Fallback { .. })));
    assert_eq!(ledger_rows(&r.session)[0].2, "cut");
    assert_eq!(r.session.conversation.messages[1].content, partial.content);
    // A cut is an availability failure: it counts in the success rate, never against the
    // answer's quality, and the same after a restart (the state rebuilt from the ledger).
    use codeforge::task::Intent;
    let live = r.session.signals.quality(FIRST, Intent::Code);
    assert_eq!(live.ratings(), 0.0, "{live:?}");
    let perf = r.session.signals.perf(FIRST, Intent::Code).unwrap();
    assert_eq!(perf.failing, 1);
    let ledger = Ledger::open(&r.session.config.paths.ledger_file()).unwrap();
    let (_, rebuilt) = codeforge::core::learned_state(&ledger, &[FIRST.to_string()]).unwrap();
    assert_eq!(rebuilt.quality(FIRST, Intent::Code), live);
    assert_eq!(rebuilt.perf(FIRST, Intent::Code).unwrap().failing, 1);
}

/// What `max_tokens` a claude-sonnet-4 request (catalog `max_output` 64,000) is sent with,
/// after one turn with this config.
async fn claude_max_tokens(tune: impl FnOnce(&mut codeforge::config::Config)) -> u64 {
    let mut r = rig(tune).await;
    let (out, events) = ask(
        &mut r.session,
        "write a long rust module",
        Choice::Override("claude-sonnet-4".into()),
    )
    .await;
    out.unwrap();
    let sent = sent_max_tokens(&events).unwrap();
    let body = r.sim.requests().pop().unwrap().body.unwrap();
    assert_eq!(body["max_tokens"].as_u64(), Some(sent));
    sent
}

#[tokio::test]
async fn the_output_cap_is_the_models_own_lowered_by_config_and_by_the_budget() {
    // A large budget: the model's own limit (less the client's slack), not a fixed 8,192.
    let roomy = claude_max_tokens(|c| c.budget.daily_usd = 100.0).await;
    assert_eq!(roomy, (64_000 - 16) * 8 / 9);
    // The config lowers it.
    let configured = claude_max_tokens(|c| {
        c.budget.daily_usd = 100.0;
        c.budget.max_output_tokens = Some(1_000);
    })
    .await;
    assert_eq!(configured, (1_000 - 16) * 8 / 9);
    // The default $3.33 day: one request holds at most an eighth of what is left, which is
    // still far more than a fixed 8,192 and less than the model's limit.
    let default_day = claude_max_tokens(|_| {}).await;
    assert!(default_day > 8_192 && default_day < roomy, "{default_day}");
    // A smaller day: lower again, smoothly (an eighth of $0.80 is ~6,600 tokens).
    let small_day = claude_max_tokens(|c| c.budget.daily_usd = 0.80).await;
    assert!(small_day < default_day && small_day > 4_000, "{small_day}");
}

#[tokio::test]
async fn a_small_budget_caps_max_tokens_and_is_never_exceeded() {
    let mut r = rig(|c| c.budget.daily_usd = 0.004).await;
    let (out, events) = ask(
        &mut r.session,
        "design a distributed queue",
        Choice::Override("claude-sonnet-4".into()),
    )
    .await;
    let out = out.unwrap();
    let max_tokens = sent_max_tokens(&events).unwrap();
    assert!(max_tokens < 8192, "{max_tokens}");
    let body = r.sim.requests().pop().unwrap().body.unwrap();
    assert_eq!(body["max_tokens"].as_u64(), Some(max_tokens));
    let (_, today, _) = r.session.spend().await.unwrap();
    assert!(today.total() <= Usd::from_dollars(0.004));
    assert_eq!(today.committed, out.cost);
    // Keep asking until refused: the total never passes the limit.
    for _ in 0..20 {
        let (res, _) = ask(&mut r.session, "write a python function", Choice::Auto).await;
        let (_, today, _) = r.session.spend().await.unwrap();
        assert!(today.total() <= Usd::from_dollars(0.004), "{today:?}");
        if let Err(e) = res {
            assert!(e.to_string().contains("codeforge budget --daily"), "{e}");
            return;
        }
    }
    panic!("never refused");
}

#[tokio::test]
async fn follow_ups_send_the_history_and_the_budget_event_moves() {
    let mut r = rig(|_| {}).await;
    let cancel = CancellationToken::new();
    let (a, events) = turn(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
        &cancel,
    )
    .await;
    a.unwrap();
    let budgets: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Budget(b) => Some(b.clone()),
            _ => None,
        })
        .collect();
    // One snapshot while the reservation is held, one after settling.
    assert!(budgets.len() >= 2);
    assert!(budgets[0].today.reserved > Usd::ZERO);
    let last = budgets.last().unwrap();
    assert_eq!(last.today.reserved, Usd::ZERO);
    assert!(last.today.committed > Usd::ZERO);
    assert_eq!(last.per_model[0].model, FIRST);
    assert_eq!(last.history.len(), 14);

    turn(&mut r.session, "now make it generic", Choice::Auto, &cancel)
        .await
        .0
        .unwrap();
    let body = r.sim.requests().pop().unwrap().body.unwrap();
    let msgs = body["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4, "system, user, assistant, user");
    assert_eq!(msgs[3]["content"], "now make it generic");
    let l = Ledger::open(&r.session.config.paths.ledger_file()).unwrap();
    let conv = l.last_conversation().unwrap().unwrap();
    assert_eq!(l.messages(conv).unwrap().len(), 4);
}

#[tokio::test]
async fn three_failures_open_the_breaker_and_no_request_goes_to_that_model() {
    let mut r = rig(|_| {}).await;
    r.sim.fail(
        FIRST,
        Fault::Status {
            code: 503,
            retry_after: None,
        },
    );
    let cancel = CancellationToken::new();
    // An automatic turn falls back, and the time to reroute is measured.
    let (out, _) = turn(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
        &cancel,
    )
    .await;
    let out = out.unwrap();
    assert!(out.overhead.reroute_us > 0, "{:?}", out.overhead);
    // Two more failures (pinned, so no fallback) open kimi's breaker.
    for _ in 0..2 {
        let (out, _) = turn(
            &mut r.session,
            "write code",
            Choice::Pinned("kimi-k2".into()),
            &cancel,
        )
        .await;
        assert!(out.is_err());
    }
    let to_claude = |sim: &Simulator| {
        sim.requests()
            .iter()
            .filter(|q| q.body.as_ref().is_some_and(|b| b["model"] == FIRST))
            .count()
    };
    assert_eq!(to_claude(&r.sim), 3);
    let (out, events) = turn(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
        &cancel,
    )
    .await;
    out.unwrap();
    assert_eq!(to_claude(&r.sim), 3, "the open breaker kept requests away");
    let decision = events
        .iter()
        .find_map(|e| match e {
            Event::Routed { card, .. } => Some(card.clone()),
            _ => None,
        })
        .unwrap();
    let claude = decision.candidate(FIRST).unwrap();
    assert!(
        claude
            .excluded
            .as_deref()
            .unwrap()
            .starts_with("circuit open after 3 failures"),
        "{:?}",
        claude.excluded
    );
}

/// Finished or Failed events among a turn's events.
fn terminal(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Finished { .. } | Event::Failed { .. }))
        .count()
}

#[tokio::test]
async fn every_turn_ends_with_one_finished_or_failed_event_even_when_the_router_refuses() {
    // So small that no model can be afforded: the router itself refuses (before any
    // reservation), which once left the TUI at "routing…" for good.
    let mut r = rig(|c| c.budget.daily_usd = 0.000_01).await;
    let (res, events) = ask(&mut r.session, "hi", Choice::Auto).await;
    let err = res.unwrap_err();
    assert_eq!(terminal(&events), 1, "{events:?}");
    let message = events
        .iter()
        .find_map(|e| match e {
            Event::Failed { message, .. } => Some(message.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(message, err.to_string());
    assert!(message.contains("left today"), "{message}");
    assert!(r.sim.completions().is_empty());
    // A budget refusal at reservation, a provider error and a success also end once.
    let mut r = rig(|_| {}).await;
    let (res, events) = ask(&mut r.session, "hi", Choice::Auto).await;
    assert!(res.is_ok());
    assert_eq!(terminal(&events), 1, "{events:?}");
    r.sim.fail(
        FIRST,
        Fault::Status {
            code: 400,
            retry_after: None,
        },
    );
    let pick = Choice::Override("kimi-k2".into());
    let (res, events) = ask(&mut r.session, "hi", pick).await;
    assert!(res.is_err());
    assert_eq!(terminal(&events), 1, "{events:?}");
}

#[tokio::test]
async fn the_router_and_the_reservation_agree_on_what_can_be_afforded() {
    use codeforge::budget::{MIN_OUTPUT_TOKENS, worst_case};
    use codeforge::tokens::estimate_tokens;
    // The least any model needs for "hi": its worst case at the smallest answer, on the
    // tokens the request will really count.
    let tokens = codeforge::core::tokens_besides_prompt(codeforge::core::SYSTEM_PROMPT, &[])
        + estimate_tokens("hi");
    let least = Catalog::builtin()
        .unwrap()
        .models()
        .iter()
        .map(|m| {
            // At the prices a reservation holds for a model not billed yet.
            let p = codeforge::router::reserved_prices(m, &codeforge::router::Signals::new());
            worst_case(p, tokens, MIN_OUTPUT_TOKENS)
        })
        .min()
        .unwrap();
    // One nano-dollar short: the router refuses; it must not choose a model that the
    // reservation then refuses.
    let short = Usd::from_nanos(least.nanos() - 1).dollars();
    let mut r = rig(|c| c.budget.daily_usd = short).await;
    let (res, events) = ask(&mut r.session, "hi", Choice::Auto).await;
    assert!(res.is_err());
    assert!(
        !events.iter().any(|e| matches!(e, Event::Routed { .. })),
        "{events:?}"
    );
    assert!(r.sim.completions().is_empty());
    // Exactly enough: chosen, admitted and answered.
    let mut r = rig(|c| c.budget.daily_usd = least.dollars()).await;
    let (res, _) = ask(&mut r.session, "hi", Choice::Auto).await;
    assert!(res.is_ok(), "{res:?}");
}

#[tokio::test]
async fn an_orphan_the_provider_cannot_report_is_held_then_closed_at_its_reservation() {
    use codeforge::budget::{Limits, Prices};
    use codeforge::ledger::NewRequest;
    let r = rig(|_| {}).await;
    let path = r.session.config.paths.ledger_file();
    // Two reservations made by a process that is gone, with generation ids the provider
    // does not know: one from just now, one from two days ago.
    let dead_pid = {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    let mut other = Ledger::open(&path).unwrap();
    let day = r.session.today();
    let mut reserve = |gen_id: &str, age_ms: i64| {
        let res = other
            .reserve(
                &NewRequest {
                    conversation_id: None,
                    requested_model: FIRST,
                    routed_by: "auto",
                    intent: Some("code"),
                    complexity: Some("simple"),
                    decision_json: None,
                    prices: Prices {
                        prompt: 3.0,
                        completion: 15.0,
                    },
                    prompt_tokens: 100,
                    wanted_max_tokens: 1000,
                    fair_max_tokens: None,
                },
                Limits {
                    daily: Usd::from_dollars(3.33),
                    monthly: Usd::from_dollars(100.0),
                },
                codeforge::calendar::now_ms(),
                &day,
            )
            .unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute(
            "UPDATE requests SET generation_id = ?1, owner_pid = ?2, created_ms = created_ms - ?3 WHERE id = ?4",
            rusqlite::params![gen_id, dead_pid, age_ms, res.id],
        )
        .unwrap();
        res
    };
    let fresh = reserve("gen-unknown-fresh", 0);
    let old = reserve("gen-unknown-old", 2 * 24 * 3600 * 1000);
    drop(other);
    let rec = r.session.recover().await.unwrap();
    assert_eq!(
        (rec.still_held, rec.closed_at_reservation),
        (1, 1),
        "{rec:?}"
    );
    let notice = codeforge::core::recovery_notice(&rec).unwrap();
    // One line, with the amounts and the bound on how long anything stays held.
    assert!(!notice.contains('\n'), "{notice}");
    assert!(notice.starts_with("recovery: "), "{notice}");
    assert!(notice.contains(&format!(
        "closed 1 interrupted request(s) at their reserved worst case ({};",
        old.reserved
    )));
    assert!(
        notice.contains(&format!(
            "1 interrupted request(s) stay held ({} of today's budget) until the provider reports their cost, at most 24 h",
            fresh.reserved
        )),
        "{notice}"
    );
    // The old one is settled at its reservation (never under-counted); the fresh one waits.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let row = |id: i64| -> (String, Option<String>, Option<i64>) {
        conn.query_row(
            "SELECT status, cost_source, cost_nanos FROM requests WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    };
    assert_eq!(
        row(old.id),
        (
            "cut".to_string(),
            Some("reservation".to_string()),
            Some(old.reserved.nanos())
        )
    );
    assert_eq!(row(fresh.id).0, "orphaned");
    let (_, today, _) = r.session.spend().await.unwrap();
    assert_eq!(today.committed, old.reserved);
    assert_eq!(today.reserved, fresh.reserved);
}

#[tokio::test]
async fn a_model_the_provider_no_longer_serves_falls_back_to_the_next() {
    // The catalog was not refreshed, so the router still picks kimi; OpenRouter answers
    // 404 "No endpoints found".
    let mut r = rig(|_| {}).await;
    r.sim.unlist(FIRST);
    let (out, events) = ask(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
    )
    .await;
    let out = out.unwrap();
    assert_ne!(out.requested_model, FIRST);
    let fallback = events
        .iter()
        .find_map(|e| match e {
            Event::Fallback { error, .. } => Some(error.clone()),
            _ => None,
        })
        .unwrap();
    assert!(fallback.contains("404"), "{fallback}");
}

#[tokio::test]
async fn an_account_error_is_not_held_against_the_model() {
    use codeforge::task::Intent;
    let mut r = rig(|_| {}).await;
    r.sim.fail(
        FIRST,
        Fault::Status {
            code: 401,
            retry_after: None,
        },
    );
    let pick = Choice::Override("kimi-k2".into());
    let (res, _) = ask(&mut r.session, "write a function", pick).await;
    assert!(res.is_err());
    // No performance sample: a rejected key would fail on every model.
    assert_eq!(r.session.signals.perf(FIRST, Intent::Code), None);
    let ledger = Ledger::open(&r.session.config.paths.ledger_file()).unwrap();
    let (_, rebuilt) = codeforge::core::learned_state(&ledger, &[FIRST.to_string()]).unwrap();
    assert_eq!(rebuilt.perf(FIRST, Intent::Code), None);
    // Nothing was billed, so nothing was "saved" against the baseline model either.
    let snapshot = r.session.budget_snapshot().await.unwrap();
    assert_eq!(snapshot.saved_today, Usd::ZERO);
    let day = r.session.today().day;
    let stats = ledger.stats(&[day], (3.0, 15.0)).unwrap();
    assert_eq!(stats.baseline_cost, Usd::ZERO);
}

#[tokio::test]
async fn billed_output_tokens_teach_the_cost_estimate_and_survive_a_restart() {
    use codeforge::task::Intent;
    let mut r = rig(|_| {}).await;
    let (out, _) = ask(
        &mut r.session,
        "prove that the sum of the first n odd numbers is n squared",
        Choice::Override("o3".into()),
    )
    .await;
    let out = out.unwrap();
    assert!(out.completion_tokens > 0);
    let intent = Intent::Math;
    let live = r.session.signals.output_factor("openai/o3", intent, 1.6);
    assert_ne!(live, 1.6, "one answer moves the factor");
    // The estimate for the next such prompt uses it.
    let ledger = Ledger::open(&r.session.config.paths.ledger_file()).unwrap();
    let (_, rebuilt) = codeforge::core::learned_state(&ledger, &["openai/o3".to_string()]).unwrap();
    assert_eq!(rebuilt.output_factor("openai/o3", intent, 1.6), live);
}

#[tokio::test]
async fn an_unreachable_network_is_one_offline_state_not_a_fallback_through_every_model() {
    // A port nobody listens on: every model behind the shared endpoint is unreachable.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1", closed.local_addr().unwrap());
    drop(closed);
    let mut r = rig(|c| c.base_url = url).await;
    let (out, events) = ask(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
    )
    .await;
    let err = out.unwrap_err();
    assert!(
        matches!(err, codeforge::core::CoreError::Offline(_)),
        "{err}"
    );
    assert!(err.to_string().starts_with("offline: "), "{err}");
    // One other model is tried (a route to one model may drop a connection), then the
    // turn ends: no chain through all five, and no model is blamed for it.
    let fallbacks = events
        .iter()
        .filter(|e| matches!(e, Event::Fallback { .. }))
        .count();
    assert_eq!(fallbacks, 1, "{events:?}");
    assert_eq!(ledger_rows(&r.session).len(), 2);
    use codeforge::task::Intent;
    assert_eq!(r.session.signals.perf(FIRST, Intent::Code), None);
    assert_eq!(
        r.session.breakers.availability(FIRST, 0),
        codeforge::router::Availability::Closed
    );
    // Nor after a restart: the state rebuilt from the ledger leaves it out too.
    let ledger = Ledger::open(&r.session.config.paths.ledger_file()).unwrap();
    let (_, rebuilt) = codeforge::core::learned_state(&ledger, &[FIRST.to_string()]).unwrap();
    assert_eq!(rebuilt.perf(FIRST, Intent::Code), None);
}

#[tokio::test]
async fn a_server_streaming_past_max_tokens_is_cut_off_and_the_limit_holds() {
    let mut r = rig(|c| c.budget.daily_usd = 0.002).await;
    r.sim.fail(FIRST, Fault::Flood { tokens: 20_000 });
    let (out, events) = ask(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Override("kimi-k2".into()),
    )
    .await;
    let max_tokens = sent_max_tokens(&events).unwrap();
    assert!(max_tokens > 0 && max_tokens < 20_000, "{max_tokens}");
    let err = out.unwrap_err();
    assert!(err.to_string().contains("past max_tokens"), "{err}");
    let partial = partial_answer(&events).expect("the partial answer is kept");
    assert_eq!(partial.status, codeforge::core::protocol::TurnStatus::Cut);
    // Stopped near the limit, not at the 20,000 tokens the server would send.
    assert!(
        partial.completion_tokens <= max_tokens + max_tokens / 8 + 16 + 2,
        "{} of {max_tokens}",
        partial.completion_tokens
    );
    // What was recorded is what was streamed (the provider's own figure corrects it later
    // from /generation): the overrun is bounded by the client's cut, an eighth of the
    // answer at most, where the server alone would have spent ten times the limit.
    let ledger = Ledger::open(&r.session.config.paths.ledger_file()).unwrap();
    let day = codeforge::calendar::local_day(codeforge::calendar::now_ms(), &r.session.tz);
    let today = ledger.day_spend(&day.day).unwrap();
    assert!(
        today.total() <= Usd::from_dollars(0.002 * 1.15),
        "{today:?}"
    );
}

#[tokio::test]
async fn a_stream_that_breaks_before_its_first_token_is_not_recorded_as_free() {
    let mut r = rig(|_| {}).await;
    r.sim.fail(FIRST, Fault::MalformedJson { after_tokens: 0 });
    let (_, _) = ask(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Override("kimi-k2".into()),
    )
    .await;
    let rows = ledger_rows(&r.session);
    // The provider began a generation: it may bill, so the row holds its worst case
    // (marked so, replaced from /generation moments later), not $0 "as billed".
    assert_eq!(rows[0].2, "error");
    assert!(rows[0].3.unwrap_or(0) > 0, "{rows:?}");
    assert_eq!(rows[0].4.as_deref(), Some("worst_case"), "{rows:?}");
    // A request refused before any stream began is not billed, and is recorded so.
    let mut r = rig(|_| {}).await;
    r.sim.fail(
        FIRST,
        Fault::Status {
            code: 400,
            retry_after: None,
        },
    );
    let _ = ask(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Override("kimi-k2".into()),
    )
    .await;
    let rows = ledger_rows(&r.session);
    assert_eq!(
        (rows[0].3, rows[0].4.as_deref()),
        (Some(0), Some("provider"))
    );
}

#[tokio::test]
async fn requests_cap_the_providers_price_at_the_reserved_prices() {
    let mut r = rig(|_| {}).await;
    let (out, _) = ask(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
    )
    .await;
    let out = out.unwrap();
    let model = Catalog::builtin()
        .unwrap()
        .get(&out.requested_model)
        .unwrap()
        .clone();
    let body = r.sim.requests().pop().unwrap().body.unwrap();
    // OpenRouter routes one model to providers at different prices: none dearer than the
    // prices the reservation was made with (the listed ones with the margin for a model
    // not yet billed) may serve it.
    let reserved = codeforge::router::reserved_prices(&model, &codeforge::router::Signals::new());
    assert!((reserved.prompt / model.prompt_price - 1.2).abs() < 1e-9);
    assert_eq!(
        body["provider"]["max_price"],
        serde_json::json!({"prompt": reserved.prompt, "completion": reserved.completion})
    );
}

#[tokio::test]
async fn a_hang_on_every_model_ends_at_the_turns_deadline() {
    let mut r = rig(|c| c.timeouts.turn = Duration::from_millis(1500)).await;
    for m in Catalog::builtin().unwrap().models() {
        r.sim.fail(&m.id, Fault::Stall);
    }
    let started = std::time::Instant::now();
    let (out, events) = ask(
        &mut r.session,
        "write a rust function that adds two numbers",
        Choice::Auto,
    )
    .await;
    let e = out.unwrap_err();
    let took = started.elapsed();
    assert!(e.to_string().contains("the turn's deadline"), "{e}");
    // Ended by the turn's deadline, not by each model's own (5 s to the first byte here).
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(terminal(&events), 1, "{events:?}");
    assert_eq!(r.sim.billed(), 0.0);
    let rows = ledger_rows(&r.session);
    assert!(rows.iter().all(|row| row.2 != "open"), "{rows:?}");
}

#[tokio::test]
async fn an_answer_the_history_cannot_keep_still_stands_and_says_what_was_lost() {
    let mut r = rig(|_| {}).await;
    let (out, _) = ask(&mut r.session, "hi", Choice::Override("kimi-k2".into())).await;
    out.unwrap();
    // From now on the ledger refuses messages, as a full disk would (requests still fit).
    let conn = rusqlite::Connection::open(r.session.config.paths.ledger_file()).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER full BEFORE INSERT ON messages
         BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END;",
    )
    .unwrap();
    let (out, events) = ask(
        &mut r.session,
        "and again",
        Choice::Override("kimi-k2".into()),
    )
    .await;
    let out = out.expect("the answer stands");
    let said = common::notice(&events).expect("the user is told");
    assert!(
        said.contains(&format!("request {}", out.request_id))
            && said.contains("could not be saved in the conversation history")
            && said.contains("disk is full"),
        "{said}"
    );
    assert!(events.iter().any(|e| matches!(e, Event::Finished { .. })));
    // Billed and counted; the conversation goes on in memory.
    let rows = ledger_rows(&r.session);
    assert_eq!(rows.last().unwrap().2, "ok");
    assert_eq!(Usd::from_nanos(rows.last().unwrap().3.unwrap()), out.cost);
    assert_eq!(r.session.conversation.messages.len(), 4);
    let kept: i64 = conn
        .query_row("SELECT COUNT(*) FROM messages", [], |row| row.get(0))
        .unwrap();
    assert_eq!(kept, 2, "no prompt kept without its answer");
}

#[tokio::test]
async fn a_usage_chunk_far_under_what_was_streamed_is_not_believed() {
    // A server that streams ~1,000 tokens and reports 3 (and a near-zero cost).
    let words = "word ".repeat(800);
    let stream = format!(
        "data: {{\"id\":\"gen-liar\",\"model\":\"moonshotai/kimi-k2\",\"choices\":[{{\"delta\":{{\"content\":\"{words}\"}}}}]}}\n\n\
         data: {{\"choices\":[{{\"delta\":{{\"content\":\"\"}},\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":5,\"completion_tokens\":3,\"cost\":0.0000001}}}}\n\ndata: [DONE]\n\n"
    );
    let url = common::replay(vec![(200, "text/event-stream", stream, vec![])], 512).await;
    let mut r = rig(|c| c.base_url = url.clone()).await;
    let (out, _) = ask(&mut r.session, "hi", Choice::Override("kimi-k2".into())).await;
    let out = out.unwrap();
    assert_eq!(out.cost_source, codeforge::ledger::CostSource::Estimate);
    assert!(out.completion_tokens >= 1_000, "{}", out.completion_tokens);
    let kimi = Catalog::builtin().unwrap().get(FIRST).unwrap().clone();
    assert!(out.cost >= kimi.cost(0, 1_000), "{}", out.cost);
}

#[tokio::test]
async fn a_worst_case_with_no_bill_to_be_had_falls_back_to_its_estimate() {
    // A server without /generation: the cut answer counts at its worst case, then, the
    // retries spent, at the estimate of what was streamed (not the worst case for good).
    let words = "word ".repeat(100);
    let stream = format!(
        "data: {{\"id\":\"gen-cut\",\"model\":\"moonshotai/kimi-k2\",\"choices\":[{{\"delta\":{{\"content\":\"{words}\"}}}}]}}\n\n"
    );
    let url = common::replay(vec![(200, "text/event-stream", stream, vec![])], 512).await;
    let mut r = rig(|c| c.base_url = url.clone()).await;
    let (out, _) = ask(&mut r.session, "hi", Choice::Override("kimi-k2".into())).await;
    assert!(out.is_err(), "cut");
    let rows = ledger_rows(&r.session);
    assert_eq!(rows[0].4.as_deref(), Some("worst_case"), "{rows:?}");
    let worst = rows[0].3.unwrap();
    // The next start's recovery asks /generation once more, then takes the estimate.
    let rec = r.session.recover().await.unwrap();
    assert_eq!(rec.estimates_fixed, 0);
    let rows = ledger_rows(&r.session);
    assert_eq!(rows[0].4.as_deref(), Some("estimate"), "{rows:?}");
    let estimate = rows[0].3.unwrap();
    assert!(estimate > 0 && estimate < worst, "{estimate} vs {worst}");
    let (_, today, _) = r.session.spend().await.unwrap();
    assert_eq!(today.committed, Usd::from_nanos(estimate));
}
