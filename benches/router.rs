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
