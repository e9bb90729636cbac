//! Router benchmarks: one routing decision for 200-, 2,000- and 20,000-token prompts with
//! the 5 catalog candidates, on 1 and 2 threads sharing the catalog.
//! Run: `cargo bench --bench router`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codeforge::catalog::Catalog;
use codeforge::router::{self, Breakers, RouteRequest, Signals};

fn main() {
    divan::main();
}

/// A code-review style prompt of about `tokens` tokens (4 bytes per token).
fn prompt(tokens: usize) -> String {
    let unit = "Please refactor this function and explain the borrow error: fn main() { let v = vec![1, 2, 3]; for x in &v { println!(\"{x}\"); } }\n";
    let mut s = String::with_capacity(tokens * 4 + unit.len());
    while s.len() < tokens * 4 {
        s.push_str(unit);
    }
    s
}

#[divan::bench(args = [200, 2_000, 20_000], threads = [1, 2])]
fn decide(b: divan::Bencher, tokens: usize) {
    let catalog = Catalog::builtin().unwrap();
    let p = prompt(tokens);
    let (signals, breakers) = (Signals::new(), Breakers::new());
    b.bench(|| {
        router::decide(
            divan::black_box(&catalog),
            &RouteRequest::simple(divan::black_box(&p), &signals, &breakers),
        )
        .unwrap()
    });
}

/// The parts of a decision: prompt features alone, and the whole analysis (features +
/// model + complexity), for the 2,000-token prompt.
#[divan::bench]
fn features_2000(b: divan::Bencher) {
    let p = prompt(2_000);
    b.bench(|| codeforge::router::features::features(divan::black_box(&p)));
}

#[divan::bench]
fn analyze_2000(b: divan::Bencher) {
    let p = prompt(2_000);
    b.bench(|| codeforge::router::analyze(divan::black_box(&p), 0, None));
}

#[divan::bench]
fn features_200(b: divan::Bencher) {
    let p = prompt(200);
    b.bench(|| codeforge::router::features::features(divan::black_box(&p)));
}

#[divan::bench]
fn split_2000(b: divan::Bencher) {
    let p = prompt(2_000);
    b.bench(|| codeforge::router::payload::split(divan::black_box(&p)));
}

#[divan::bench]
fn complexity_input_2000(b: divan::Bencher) {
    let p = prompt(2_000);
    b.bench(|| codeforge::router::complexity_input(divan::black_box(&p)));
}
