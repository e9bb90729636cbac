//! The warm path of a turn inside one session (as in the TUI): what CodeForge adds before
//! the request is sent, and the reroute time after a 503, over many turns against the
//! in-process simulator. Prints min / p50 / p99 / max. Run: `cargo bench --bench turn`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use codeforge::catalog::Catalog;
use codeforge::config::{ApiKey, Config, Timeouts};
use codeforge::core::{Choice, Session};
use codeforge::simulator::{Behaviour, Fault, Simulator};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[path = "common/realistic.rs"]
mod realistic;

fn summary(name: &str, mut us: Vec<u64>) {
    us.sort_unstable();
    let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
    println!(
        "{name}: n {} · min {:.3} ms · p50 {:.3} ms · p99 {:.3} ms · max {:.3} ms",
        us.len(),
        at(0.0),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

async fn session(sim: &Simulator, dir: &std::path::Path) -> Session {
    let mut config = Config::defaults_under(dir);
    config.api_key = Some(ApiKey::new("k"));
    config.base_url = sim.url();
    config.budget.daily_usd = 1_000.0;
    config.budget.monthly_usd = 10_000.0;
    config.timeouts = Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(5),
        idle: Duration::from_secs(5),
        first_token: Duration::from_secs(5),
        turn: Duration::from_secs(60),
    };
    Session::open(config, false).await.unwrap()
}

/// A code-review style prompt of about `tokens` tokens (4 bytes per token).
fn prompt(tokens: usize) -> String {
    let unit = "Please refactor this function and explain the borrow error: fn main() { let v = vec![1, 2, 3]; for x in &v { println!(\"{x}\"); } }\n";
    let mut s = String::new();
    while s.len() < tokens * 4 {
        s.push_str(unit);
    }
    s
}

/// Routing decisions over the project's realistic prompts (`assets/eval/realistic`: what
/// people type, in many languages), each timed once, and each as its best of 5 (the
/// prompt's own cost, without the machine's noise); the slowest prompts are named.
fn realistic_percentiles() {
    use codeforge::router::{self, Breakers, RouteRequest, Signals};
    let prompts = realistic::prompts();
    let catalog = Catalog::builtin().unwrap();
    let (signals, breakers) = (Signals::new(), Breakers::new());
    let time = |p: &str| {
        let t = std::time::Instant::now();
        std::hint::black_box(
            router::decide(&catalog, &RouteRequest::simple(p, &signals, &breakers)).unwrap(),
        );
        t.elapsed().as_nanos() as u64
    };
    for p in &prompts {
        time(p); // warm
    }
    let once: Vec<u64> = prompts.iter().map(|p| time(p)).collect();
    let best: Vec<(u64, usize)> = prompts
        .iter()
        .enumerate()
        .map(|(i, p)| ((0..5).map(|_| time(p)).min().unwrap_or(0), i))
        .collect();
    let at = |v: &[u64], q: f64| {
        let mut v = v.to_vec();
        v.sort_unstable();
        v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
    };
    let best_ns: Vec<u64> = best.iter().map(|b| b.0).collect();
    println!(
        "routing decision, {} realistic prompts: once p50 {:.1} µs · p99 {:.1} µs; best of 5 p50 {:.1} µs · p99 {:.1} µs",
        prompts.len(),
        at(&once, 0.5),
        at(&once, 0.99),
        at(&best_ns, 0.5),
        at(&best_ns, 0.99)
    );
    let mut slowest = best;
    slowest.sort_unstable_by_key(|b| std::cmp::Reverse(b.0));
    for (ns, i) in slowest.iter().take(3) {
        let p = &prompts[*i];
        println!(
            "  slowest: {:.1} µs · {} bytes · {} · {:?}",
            *ns as f64 / 1000.0,
            p.len(),
            if p.is_ascii() { "ASCII" } else { "not ASCII" },
            p.chars().take(40).collect::<String>()
        );
    }
}

/// Decisions timed per prompt size.
const SAMPLES: usize = 20_000;

/// Routing decision latency percentiles over many samples (divan reports medians only).
fn decision_percentiles() {
    use codeforge::router::{self, Breakers, RouteRequest, Signals};
    let catalog = Catalog::builtin().unwrap();
    let (signals, breakers) = (Signals::new(), Breakers::new());
    // The slowest realistic prompts are prose outside ASCII: a Russian one of the same size.
    let unit = "Объясните, пожалуйста, почему эта функция возвращает неправильный результат, когда список пуст, и как её переписать. ";
    let russian = unit.repeat(8_000 / unit.len() + 1);
    let cases = [200usize, 2_000, 20_000]
        .map(|t| (format!("{t}-token prompt"), prompt(t)))
        .into_iter()
        .chain([("2,000-token Russian prompt".to_string(), russian)]);
    for (name, p) in cases {
        // 20,000 samples: a p99 read from 2,000 is the 20th-slowest, and one burst of load
        // on a shared machine moves it.
        let mut us = Vec::with_capacity(SAMPLES);
        for i in 0..SAMPLES + 1_000 {
            let t = std::time::Instant::now();
            let d =
                router::decide(&catalog, &RouteRequest::simple(&p, &signals, &breakers)).unwrap();
            let ns = t.elapsed().as_nanos() as u64;
            std::hint::black_box(d);
            if i >= 1_000 {
                us.push(ns); // the first 1,000 warm the caches
            }
        }
        us.sort_unstable();
        let at = |q: f64| us[((us.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0;
        println!(
            "routing decision, {name}: n {} · min {:.1} µs · p50 {:.1} µs · p99 {:.1} µs · max {:.1} µs",
            us.len(),
            at(0.0),
            at(0.5),
            at(0.99),
            at(1.0)
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    decision_percentiles();
    realistic_percentiles();
    let turns: usize = std::env::var("TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut s = session(&sim, dir.path()).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let cancel = CancellationToken::new();
    let mut pre = Vec::new();
    let mut route = Vec::new();
    for i in 0..turns {
        // A new conversation every 10 turns keeps the history (and the prompt) small.
        if i % 10 == 0 {
            s.conversation = Default::default();
        }
        let o = s
            .run_turn(
                codeforge::core::TurnId(i as u64),
                "write a rust function that adds two numbers",
                &Choice::Auto,
                &cancel,
                &tx,
            )
            .await
            .unwrap();
        pre.push(o.overhead.pre_send_us);
        route.push(o.overhead.route_us);
    }
    summary(
        "added before sending (budget read + route + reserve), warm session",
        pre,
    );
    summary("routing decision inside the turn", route);

    // Reroute: the routed model (kimi-k2 for this everyday code prompt) fails with 503 every
    // time; a fresh session per turn so the breaker and the learned success rate do not
    // move traffic away first.
    sim.fail(
        "moonshotai/kimi-k2",
        Fault::Status {
            code: 503,
            retry_after: None,
        },
    );
    let reroute = fresh_reroutes(&sim, turns.min(100), None).await;
    summary(
        "reroute after a 503 (failure observed → fallback request sent)",
        reroute,
    );

    // Reroute after the first-token deadline: the routed model sends keep-alives only.
    sim.clear_faults();
    sim.set_behaviour(
        Some("moonshotai/kimi-k2"),
        Behaviour {
            ttft: Duration::from_secs(5),
            tokens_per_sec: 0.0,
            max_answer_tokens: None,
        },
    );
    let deadline = fresh_reroutes(&sim, turns.min(30), Some(Duration::from_millis(50))).await;
    summary(
        "reroute after the first-token deadline (deadline fired → fallback request sent)",
        deadline,
    );
    println!("peak RSS of this benchmark process: {} KiB", peak_rss_kib());
}

/// One code turn in each of `n` fresh sessions (so the breaker and the learned success
/// rate cannot move traffic away first); returns each turn's reroute time.
async fn fresh_reroutes(sim: &Simulator, n: usize, first_token: Option<Duration>) -> Vec<u64> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move { while rx.recv().await.is_some() {} });
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let d = tempfile::tempdir().unwrap();
        let mut s = session(sim, d.path()).await;
        if let Some(t) = first_token {
            s.config.timeouts.first_token = t;
        }
        let o = s
            .run_turn(
                codeforge::core::TurnId(i as u64),
                "write a rust function that adds two numbers",
                &Choice::Auto,
                &CancellationToken::new(),
                &tx,
            )
            .await
            .unwrap();
        out.push(o.overhead.reroute_us);
    }
    out
}

/// VmHWM from /proc (Linux); 0 elsewhere.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
