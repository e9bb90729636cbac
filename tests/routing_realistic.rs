//! Routing on the project's realistic set (assets/eval/realistic, dev part: never trained
//! on): the acceptable-model rate and misroutes stay at their measured level, and the
//! preference knob is a dial, not a cliff. `codeforge eval routing --sweep` prints the same.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codeforge::catalog::Catalog;
use codeforge::eval::routing;

fn dev() -> Vec<routing::Row> {
    let dir = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/eval/realistic"
    ));
    routing::shipped(dir)
        .unwrap()
        .into_iter()
        .filter(|r| !r.is_train())
        .collect()
}

#[test]
fn the_dev_part_routes_as_measured() {
    let catalog = Catalog::builtin().unwrap();
    let rows = dev();
    assert!(rows.len() >= 600, "{}", rows.len());
    let r = routing::report(&catalog, &rows, &routing::route_all(&catalog, &rows, 5), 5);
    // Regression guards just under the measured values (README, "Routing quality").
    // Measured: acceptable 0.973, expensive 0.8 %, cheap 1.9 %, groups 90.0 %, balanced
    // intent accuracy 0.902.
    assert!(r.acceptable >= 0.96, "{r}");
    assert!(r.expensive_misroutes < 0.02, "{r}");
    assert!(r.cheap_misroutes < 0.025, "{r}");
    assert!(r.groups_consistent >= 0.88, "{r}");
    assert!(r.balanced_accuracy >= 0.89, "{r}");
    // Better than the trivial baseline, and cheaper than the design's table.
    let kimi = &r.baselines["always kimi-k2"];
    assert!(r.acceptable > kimi.acceptable, "{r}");
    let design = &r.baselines["design table, perfect intents"];
    assert!(r.spend_per_1000 < design.spend_per_1000, "{r}");
    assert_eq!(r.refused, 0);
}

#[test]
fn the_preference_knob_moves_spend_step_by_step() {
    let catalog = Catalog::builtin().unwrap();
    let rows = dev();
    let spend: Vec<f64> = (0..=10)
        .map(|p| {
            routing::report(&catalog, &rows, &routing::route_all(&catalog, &rows, p), p)
                .spend_per_1000
        })
        .collect();
    for (p, w) in spend.windows(2).enumerate() {
        assert!(
            w[1] >= w[0] * 0.999,
            "spend fell from {p} to {}: {spend:?}",
            p + 1
        );
        assert!(
            w[1] <= w[0] * 1.7,
            "a cliff from {p} to {}: {spend:?}",
            p + 1
        );
    }
    assert!(
        spend[10] > spend[0] * 3.0,
        "the knob does little: {spend:?}"
    );
}
