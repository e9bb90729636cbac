//! A loop of routing decisions on a 2,000-token prompt, for counting instructions with
//! callgrind (`scripts/decision_instructions.sh`): unlike wall-clock time, the count does not
//! move with the load of a shared machine. `ITERS` decisions (default 2,000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codeforge::catalog::Catalog;
use codeforge::router::{Breakers, RouteRequest, Signals, decide};

fn main() {
    let unit = "Please refactor this function and explain the borrow error: fn main() { let v = vec![1, 2, 3]; for x in &v { println!(\"{x}\"); } }\n";
    let mut prompt = String::new();
    while prompt.len() < 8_000 {
        prompt.push_str(unit);
    }
    let iters: u32 = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let catalog = Catalog::builtin().unwrap();
    let (signals, breakers) = (Signals::new(), Breakers::new());
    let started = std::time::Instant::now();
    let mut tokens = 0;
    for _ in 0..iters {
        let d = decide(
            &catalog,
            &RouteRequest::simple(&prompt, &signals, &breakers),
        )
        .unwrap();
        tokens += d.context_tokens;
    }
    println!(
        "{iters} decisions of a {}-token prompt: {:?} each",
        tokens / u64::from(iters.max(1)),
        started.elapsed() / iters.max(1)
    );
}
