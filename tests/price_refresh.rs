//! Prices that cannot go stale: a bill that disagrees with the listed prices has the
//! listing read again at once and taken in at the next turn; a provider dearer than the
//! prices reserved with is refused by `max_price` (nothing billed) and the listing read
//! again; a listing over a day old is read again in the background.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::rig;

use std::time::Duration;

use codeforge::catalog::{Catalog, PriceCache};
use codeforge::core::{Choice, CoreError, Event, Session, TurnOutcome};
use tokio_util::sync::CancellationToken;

const KIMI: &str = "moonshotai/kimi-k2";

async fn ask(
    session: &mut Session,
    prompt: &str,
    choice: Choice,
) -> (Result<TurnOutcome, CoreError>, Vec<Event>) {
    common::run_turn(session, prompt, choice, &CancellationToken::new()).await
}

fn notices(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Notice(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

fn listed_kimi() -> f64 {
    Catalog::builtin()
        .unwrap()
        .get(KIMI)
        .unwrap()
        .completion_price
}

/// A session whose price listing is fresh (no read at start), against a simulator.
async fn fresh_listing_rig() -> common::Rig {
    rig(|c| {
        let cache = PriceCache {
            fetched_at: codeforge::core::prices::now_s(),
            models: Default::default(),
        };
        cache.save(&c.paths.models_cache_file()).unwrap();
    })
    .await
}

#[tokio::test]
async fn a_bill_that_disagrees_has_the_prices_read_again_and_taken_in() {
    let r = fresh_listing_rig().await;
    let mut session = r.session;
    // The server now charges 15 % more than the catalog lists (and ignores max_price).
    r.sim.set_price_scale(1.15);
    r.sim.set_honour_max_price(false);
    let pick = Choice::Override("kimi-k2".into());
    let (out, _) = ask(
        &mut session,
        "write a python function that adds two numbers",
        pick.clone(),
    )
    .await;
    out.unwrap();
    let models_reads = || {
        r.sim
            .requests()
            .iter()
            .filter(|q| q.method == "GET" && q.path.ends_with("/models"))
            .count()
    };
    // The disagreement started a read of /models; the next turn takes it in and says so.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(models_reads(), 1);
    let (out, events) = ask(&mut session, "and in rust?", pick).await;
    out.unwrap();
    let said = notices(&events).join("\n");
    assert!(said.contains("prices read again from /models"), "{said}");
    assert!(said.contains(KIMI), "{said}");
    let now = session.backend.catalog.get(KIMI).unwrap().completion_price;
    assert!((now / listed_kimi() - 1.15).abs() < 1e-6, "{now}");
    // Kept for the next run: the cache file holds the new price.
    let cache = PriceCache::load(&session.config.paths.models_cache_file())
        .unwrap()
        .unwrap();
    assert!((cache.models[KIMI].completion_price / listed_kimi() - 1.15).abs() < 1e-6);
    // A bill that agrees reads nothing again.
    let (out, _) = ask(
        &mut session,
        "thanks, and in go?",
        Choice::Override("kimi-k2".into()),
    )
    .await;
    out.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(models_reads(), 1);
}

#[tokio::test]
async fn a_provider_dearer_than_the_reservation_is_refused_then_the_prices_are_read_again() {
    let r = fresh_listing_rig().await;
    let mut session = r.session;
    // Half as dear again: beyond the margin the reservation holds, so OpenRouter's
    // max_price refuses every model before anything is billed.
    r.sim.set_price_scale(1.5);
    let (out, _) = ask(
        &mut session,
        "write a python function that adds two numbers",
        Choice::Auto,
    )
    .await;
    assert!(out.is_err());
    assert_eq!(r.sim.billed(), 0.0, "nothing billed");
    // The refusal had the listing read again; taken in, the next turn is served and
    // billed within what it reserved.
    let notice = session
        .take_prices(Some(Duration::from_secs(5)))
        .await
        .expect("new prices");
    assert!(notice.contains(KIMI), "{notice}");
    let (out, events) = ask(
        &mut session,
        "write a python function that adds two numbers",
        Choice::Auto,
    )
    .await;
    let out = out.unwrap();
    let reserved = common::reserved(&events).unwrap();
    assert!(out.cost <= reserved, "{} over {}", out.cost, reserved);
}

#[tokio::test]
async fn a_listing_over_a_day_old_is_read_again_in_the_background() {
    let r = rig(|c| {
        let cache = PriceCache {
            fetched_at: codeforge::core::prices::now_s() - 2 * 24 * 3600,
            models: Default::default(),
        };
        cache.save(&c.paths.models_cache_file()).unwrap();
    })
    .await;
    let mut session = r.session;
    session.take_prices(Some(Duration::from_secs(5))).await;
    let cache = PriceCache::load(&session.config.paths.models_cache_file())
        .unwrap()
        .unwrap();
    assert!(cache.fetched_at + 60 > codeforge::core::prices::now_s());
    assert!(cache.models.contains_key(KIMI));
    // Private to the user, like the ledger.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(session.config.paths.models_cache_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}
