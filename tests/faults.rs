//! Rows of the reliability matrix not covered elsewhere: DNS failure, a price change between
//! reservation and settlement, and a data directory that cannot be written.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use codeforge::catalog::{Catalog, ModelPatch};
use codeforge::config::ApiKey;
use codeforge::core::Choice;
use codeforge::money::Usd;
use codeforge::provider::{ErrorKind, Message, OpenRouterClient};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[tokio::test]
async fn a_host_that_does_not_resolve_is_a_connect_error_within_the_deadline() {
    let client = OpenRouterClient::new(
        "http://codeforge-no-such-host.invalid/api/v1",
        Some(ApiKey::new("k")),
        common::short_timeouts(),
    )
    .unwrap();
    let req = codeforge::provider::ChatRequest {
        model: "m".into(),
        messages: vec![Message::user("hi")],
        max_tokens: Some(10),
        temperature: None,
        max_price: None,
    };
    let r = tokio::time::timeout(Duration::from_secs(20), client.stream(&req))
        .await
        .expect("DNS failure hung");
    let e = r.err().unwrap();
    assert!(
        matches!(e.kind(), ErrorKind::Connect | ErrorKind::Timeout),
        "{e}"
    );
    assert!(e.is_retryable());
}

#[tokio::test]
async fn a_price_change_between_reservation_and_settlement_settles_what_was_billed() {
    // The provider now charges 4x the catalog's prices for claude.
    let mut dearer = Catalog::builtin().unwrap();
    dearer
        .apply_patches(&[ModelPatch {
            id: "anthropic/claude-sonnet-4".into(),
            prompt_price: Some(12.0),
            completion_price: Some(60.0),
            ..Default::default()
        }])
        .unwrap();
    let common::Rig {
        sim,
        mut session,
        _dir,
    } = common::rig_serving(dearer, |_| {}).await;
    // A server that ignores `provider.max_price` (OpenRouter would refuse the request).
    sim.set_honour_max_price(false);
    let (tx, _rx) = mpsc::unbounded_channel();
    let out = session
        .run_turn(
            codeforge::core::TurnId(1),
            "write a rust function that adds two numbers",
            &Choice::Override("claude-sonnet-4".into()),
            &CancellationToken::new(),
            &tx,
        )
        .await
        .unwrap();
    // The ledger records what the provider reported, at its new price, and holds nothing.
    let g = sim
        .generation(out.generation_id.as_deref().unwrap())
        .unwrap();
    assert_eq!(out.cost, Usd::from_dollars(g.total_cost));
    let catalog_cost = Catalog::builtin()
        .unwrap()
        .get("anthropic/claude-sonnet-4")
        .unwrap()
        .cost(out.prompt_tokens, out.completion_tokens);
    assert!(out.cost > catalog_cost, "the new price is what is recorded");
    let (_, today, _) = session.spend().await.unwrap();
    assert_eq!(today.committed, out.cost);
    assert_eq!(today.reserved, Usd::ZERO);
}

#[tokio::test]
async fn an_unwritable_data_directory_is_a_clear_error() {
    // A regular file where the data directory should be: nothing can be created under it
    // (works as root too, unlike file permissions).
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let out = demo_ask_in(&blocker.join("home")).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    // The first file CodeForge touches under it is the config; the error names it.
    assert!(
        err.starts_with(&format!(
            "error: cannot read config file {}",
            blocker.join("home/config.toml").display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(
        std::fs::read(&blocker).unwrap(),
        b"x",
        "nothing overwritten"
    );
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_home_where_nothing_can_be_written_exits_2_naming_the_ledger() {
    // /proc takes no new directories, as a read-only home would not (works as root too).
    let home = std::path::Path::new("/proc/self/codeforge-home");
    let out = demo_ask_in(home).await;
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot open the ledger {}",
            home.join("ledger.db").display()
        )),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// `codeforge ask --demo hello` with `home` as its home.
async fn demo_ask_in(home: &std::path::Path) -> std::process::Output {
    common::codeforge(home)
        .args(["ask", "--demo", "hello"])
        .output()
        .await
        .unwrap()
}
