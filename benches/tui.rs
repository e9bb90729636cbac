//! TUI benchmarks on ratatui's TestBackend (120×40): first frame, one frame of a
//! 10,000-line transcript while an answer streams, and 1,000 streamed tokens with a frame
//! every 10 tokens (layout and syntax highlighting included).
//! Run: `cargo bench --bench tui`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codeforge::catalog::Catalog;
use codeforge::core::{Event, Op};
use codeforge::router::{self, Breakers, RouteRequest, Signals};
use codeforge::tui::app::{App, Command};
use codeforge::tui::keymap::Keymap;
use codeforge::tui::theme::Theme;
use codeforge::tui::ui;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn main() {
    divan::main();
    // Memory of a 10,000-line conversation: the transcript of the frame bench stays alive
    // until here, so the high-water mark includes it.
    println!(
        "peak RSS after the 10,000-line transcript benches: {} KiB",
        peak_rss_kib()
    );
}

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

fn app() -> App {
    let models = Catalog::builtin()
        .unwrap()
        .models()
        .iter()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();
    App::new(Theme::dark(false), Keymap::default(), false, models)
}

/// ~100 tokens of a realistic answer: prose, a list and a Rust block.
const CHUNK: &str = "Here is the change, with **one** fix and a test:\n\n```rust\nfn parse(line: &str) -> Result<u32, Error> {\n    let n = line.trim().parse::<u32>().map_err(Error::Parse)?;\n    Ok(n * 2)\n}\n```\n\n- `parse` now returns a typed error\n- the caller decides what to do\n\n";

fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in text.chars() {
        cur.push(ch);
        if ch == ' ' || ch == '\n' || cur.len() >= 6 {
            out.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn start_turn(a: &mut App, prompt: &str) -> codeforge::core::TurnId {
    for ch in prompt.chars() {
        a.on_key(KeyEvent::new(KeyCode::Char(ch), KeyModifiers::NONE));
    }
    let turn = match a
        .on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
        .pop()
    {
        Some(Command::Core(Op::Submit { turn, .. })) => turn,
        other => panic!("{other:?}"),
    };
    let decision = router::decide(
        &Catalog::builtin().unwrap(),
        &RouteRequest::simple(prompt, &Signals::new(), &Breakers::new()),
    )
    .unwrap();
    a.on_core(Event::Routed {
        turn,
        card: codeforge::core::protocol::RouteCard::of(&decision),
    });
    turn
}

#[divan::bench]
fn first_frame(b: divan::Bencher) {
    b.bench_local(|| {
        let mut a = app();
        let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
        t.draw(|f| ui::render(f, &mut a)).unwrap();
    });
}

#[divan::bench]
fn frame_with_10k_line_transcript_while_streaming(b: divan::Bencher) {
    let mut a = app();
    let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
    // 10,000+ rendered lines of finished answers.
    let mut turn_text = String::new();
    while turn_text.lines().count() < 100 {
        turn_text.push_str(CHUNK);
    }
    for _ in 0..100 {
        let turn = start_turn(&mut a, "write a parser");
        a.on_core(Event::Content {
            turn,
            text: turn_text.clone(),
        });
        a.on_core(Event::Failed {
            turn,
            message: "done".into(),
            outcome: None,
        });
    }
    t.draw(|f| ui::render(f, &mut a)).unwrap();
    let turn = start_turn(&mut a, "write another parser");
    let toks = tokens(&CHUNK.repeat(50));
    let mut i = 0usize;
    b.bench_local(|| {
        a.on_core(Event::Content {
            turn,
            text: toks[i % toks.len()].clone(),
        });
        i += 1;
        t.draw(|f| ui::render(f, &mut a)).unwrap();
    });
}

#[divan::bench]
fn stream_1000_tokens_frame_every_10(b: divan::Bencher) {
    let toks: Vec<String> = tokens(&CHUNK.repeat(20)).into_iter().take(1000).collect();
    assert_eq!(toks.len(), 1000);
    b.bench_local(|| {
        let mut a = app();
        let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let turn = start_turn(&mut a, "write a parser");
        for (i, tok) in toks.iter().enumerate() {
            a.on_core(Event::Content {
                turn,
                text: tok.clone(),
            });
            if i % 10 == 9 {
                t.draw(|f| ui::render(f, &mut a)).unwrap();
            }
        }
    });
}

/// A server flooding one line with no newline, taken in and drawn every 10 deltas: the
/// cost per delta must not grow with the line (linear in the answer's length), so the
/// 8,000-token flood takes about four times the 2,000-token one.
#[divan::bench(args = [2_000, 8_000])]
fn flood_without_newlines_frame_every_10(b: divan::Bencher, n: usize) {
    b.bench_local(|| {
        let mut a = app();
        let mut t = Terminal::new(TestBackend::new(120, 40)).unwrap();
        let turn = start_turn(&mut a, "write a parser");
        for i in 0..n {
            a.on_core(Event::Content {
                turn,
                text: "flood ".into(),
            });
            if i % 10 == 9 {
                t.draw(|f| ui::render(f, &mut a)).unwrap();
            }
        }
    });
}
