//! The budget against what the server bills when its prices differ from the catalog's by
//! up to ±20 % (and it ignores `provider.max_price`): each reservation holds the listed
//! prices times the margin learned from earlier bills (`Signals::price_margin`), the
//! client never lets an answer run past the `max_tokens` it reserved, and the provider's
//! bill is what is recorded. Spend never passes the limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codeforge::budget::Limits;
use codeforge::calendar::LocalDay;
use codeforge::catalog::Catalog;
use codeforge::ledger::{Ledger, LedgerError, NewRequest};
use codeforge::money::Usd;
use codeforge::router::{Signals, reserved_prices};
use proptest::prelude::*;

fn day() -> LocalDay {
    LocalDay {
        day: "2026-11-26".into(),
        month: "2026-11".into(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    #[test]
    fn spend_never_passes_the_limit_when_billed_prices_drift(
        drift in proptest::collection::vec(0.8f64..=1.2, 5),
        requests in proptest::collection::vec((0usize..5, 1u64..4_000, 1u64..6_000, 0.8f64..=1.25), 1..40),
        daily_millis in 1u32..40,
    ) {
        let catalog = Catalog::builtin().unwrap();
        let models = catalog.models();
        let dir = tempfile::tempdir().unwrap();
        let mut l = Ledger::open(&dir.path().join("ledger.db")).unwrap();
        let limits = Limits {
            daily: Usd::from_dollars(f64::from(daily_millis) / 1000.0),
            monthly: Usd::from_dollars(100.0),
        };
        let mut signals = Signals::new();
        for (i, (which, prompt_tokens, answer_tokens, tokenizer)) in requests.into_iter().enumerate() {
            let m = &models[which % models.len()];
            let req = NewRequest {
                conversation_id: None,
                requested_model: &m.id,
                routed_by: "auto",
                intent: None,
                complexity: None,
                decision_json: None,
                prices: reserved_prices(m, &signals),
                prompt_tokens,
                wanted_max_tokens: 8192,
                fair_max_tokens: Some(600),
            };
            let r = match l.reserve(&req, limits, i as i64, &day()) {
                Ok(r) => r,
                Err(LedgerError::Refused(_)) => continue,
                Err(e) => panic!("{e}"),
            };
            // The server counts the prompt with its own tokenizer (within the 1.25 margin
            // the reservation allows) and bills at its own prices; the client stops the
            // answer at the reserved max_tokens.
            let billed_prompt = (prompt_tokens as f64 * tokenizer).floor() as u64;
            let completion = answer_tokens.min(r.max_tokens);
            let d = drift[which % drift.len()];
            let listed = m.cost(billed_prompt, completion);
            let bill = Usd::from_nanos((listed.nanos() as f64 * d).floor() as i64);
            let s = common::billed(&m.id, billed_prompt, completion, bill);
            l.settle(r.id, &s, i as i64).unwrap();
            prop_assert!(bill <= r.reserved, "billed {bill} over the {} held", r.reserved);
            signals.observe_bill(&m.id, bill.dollars(), billed_prompt, completion);
            let spent = l.day_spend(&day().day).unwrap();
            prop_assert!(spent.total() <= limits.daily, "{spent:?} over {:?}", limits.daily);
        }
    }
}
