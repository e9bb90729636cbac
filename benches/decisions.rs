//! A loop of routing decisions, for counting instructions with callgrind
//! (`scripts/decision_instructions.sh`): unlike wall-clock time, the count does not move with
//! the load of a shared machine. `ITERS` rounds (default 2,000) of: a 2,000-token ASCII
//! prompt; with `PROMPT=ru` a Russian prose prompt of the same size (the slowest realistic
//! prompts are prose outside ASCII); with `PROMPT=realistic` every prompt of
//! `assets/eval/realistic` once per round; with `PROMPT=realistic-other` those not in ASCII.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codeforge::catalog::Catalog;
use codeforge::router::{Breakers, RouteRequest, Signals, decide};

#[path = "common/realistic.rs"]
mod realistic;

fn main() {
    let sized = |unit: &str| unit.repeat(8_000 / unit.len() + 1);
    let prompts = match std::env::var("PROMPT").as_deref() {
        Ok("ru") => vec![sized(
            "Объясните, пожалуйста, почему эта функция возвращает неправильный результат, когда список пуст, и как её переписать. ",
        )],
        Ok("realistic") => realistic::prompts(),
        Ok("realistic-other") => realistic::prompts()
            .into_iter()
            .filter(|p| !p.is_ascii())
            .collect(),
        _ => vec![sized(
            "Please refactor this function and explain the borrow error: fn main() { let v = vec![1, 2, 3]; for x in &v { println!(\"{x}\"); } }\n",
        )],
    };
    let iters: u32 = std::env::var("ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    let catalog = Catalog::builtin().unwrap();
    let (signals, breakers) = (Signals::new(), Breakers::new());
    let started = std::time::Instant::now();
    let mut tokens = 0;
    for _ in 0..iters {
        for prompt in &prompts {
            let d = decide(&catalog, &RouteRequest::simple(prompt, &signals, &breakers)).unwrap();
            tokens += d.context_tokens;
        }
    }
    let n = u64::from(iters.max(1)) * prompts.len() as u64;
    println!(
        "{n} decisions of prompts of {} tokens on average: {:?} each",
        tokens / n.max(1),
        started.elapsed() / u32::try_from(n.max(1)).unwrap_or(u32::MAX)
    );
}
