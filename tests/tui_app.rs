//! The TUI driven with real key events and core events: insta snapshots of the rendered
//! screen on ratatui's TestBackend, and the ops each key sends to the core.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codeforge::budget::{Limits, Spend};
use codeforge::catalog::Catalog;
use codeforge::core::protocol::{ModelPerf, ModelSpend, RouteCard, TurnId};
use codeforge::core::{BudgetSnapshot, Choice, Event, LoadedMessage, Op, TurnOutcome};
use codeforge::money::Usd;
use codeforge::router::{self, Breakers, RouteRequest, Signals};
use codeforge::tui::app::{App, Command, Mode};
use codeforge::tui::keymap::Keymap;
use codeforge::tui::theme::Theme;
use codeforge::tui::ui;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn app(demo: bool) -> App {
    let models = Catalog::builtin()
        .unwrap()
        .models()
        .iter()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();
    App::new(Theme::dark(false), Keymap::default(), demo, models)
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn type_text(app: &mut App, text: &str) {
    for ch in text.chars() {
        app.on_key(key(KeyCode::Char(ch)));
    }
}

/// Type `text`, press Enter, and return the turn it was sent as.
fn send(app: &mut App, text: &str) -> TurnId {
    type_text(app, text);
    let cmds = app.on_key(key(KeyCode::Enter));
    match cmds.last() {
        Some(Command::Core(Op::Submit { turn, .. })) => *turn,
        _ => panic!("{text:?} was not sent: {cmds:?}"),
    }
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| ui::render(f, app)).unwrap();
    t.backend().to_string()
}

macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({filters => vec![
            (r"waiting for first token \d+\.\ds", "waiting for first token [t]s"),
            (r"streaming \d+ tok/s", "streaming [n] tok/s"),
            // Numbers of varying width above shift the padding at the end of a row.
            (r#" +"\n"#, "\"\n"),
        ]}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

fn decision(prompt: &str) -> codeforge::router::Decision {
    router::decide(
        &Catalog::builtin().unwrap(),
        &RouteRequest::simple(prompt, &Signals::new(), &Breakers::new()),
    )
    .unwrap()
}

/// The route card the core sends for `prompt`.
fn card(prompt: &str) -> RouteCard {
    RouteCard::of(&decision(prompt))
}

/// The model after kimi-k2 (the usual pick for everyday code, and the model of the
/// `outcome` fixture) in the ranking for `prompt`: what Ctrl-R offers first after it answered.
fn next_after_kimi(prompt: &str) -> String {
    decision(prompt)
        .candidates
        .into_iter()
        .find(|c| c.excluded.is_none() && c.model != "moonshotai/kimi-k2")
        .unwrap()
        .model
}

fn budget(fraction: f64) -> BudgetSnapshot {
    let limit = Usd::from_dollars(3.33);
    let spent = Usd::from_nanos((limit.nanos() as f64 * fraction) as i64);
    BudgetSnapshot {
        day: "2026-11-26".into(),
        limits: Limits {
            daily: limit,
            monthly: Usd::from_dollars(100.0),
        },
        today: Spend {
            committed: spent,
            reserved: Usd::ZERO,
        },
        month: Spend {
            committed: spent.saturating_add(Usd::from_dollars(12.0)),
            reserved: Usd::ZERO,
        },
        per_model: vec![ModelSpend {
            model: "anthropic/claude-sonnet-4".into(),
            spend: Spend {
                committed: spent,
                reserved: Usd::ZERO,
            },
            requests: 7,
        }],
        history: (0..14)
            .map(|i| {
                (
                    format!("2026-11-{:02}", 13 + i),
                    Usd::from_dollars(0.2 * (i % 5) as f64),
                )
            })
            .collect(),
        saved_today: Usd::from_dollars(0.42),
        baseline_model: "anthropic/claude-sonnet-4".into(),
        model_stats: vec![ModelPerf {
            model: "anthropic/claude-sonnet-4".into(),
            requests: 7,
            success_rate: 1.0,
            latency_ms: Some(1840),
            ttft_ms: Some(420),
        }],
        shares: vec![
            ("x-ai/grok-4".into(), 0.4),
            ("anthropic/claude-sonnet-4".into(), 0.3),
            ("moonshotai/kimi-k2".into(), 0.2),
            ("google/gemini-2.5-flash".into(), 0.05),
            ("openai/o3".into(), 0.05),
        ],
        breakers: vec![(
            "x-ai/grok-4".into(),
            codeforge::core::protocol::BreakerState::Open { for_secs: 25 },
        )],
        key: None,
    }
}

fn outcome(request_id: i64, content: &str) -> TurnOutcome {
    TurnOutcome {
        request_id,
        generation_id: Some("gen-1".into()),
        requested_model: "moonshotai/kimi-k2".into(),
        served_model: "moonshotai/kimi-k2".into(),
        content: content.into(),
        reasoning: String::new(),
        finish_reason: Some("stop".into()),
        prompt_tokens: 120,
        completion_tokens: 80,
        reasoning_tokens: 0,
        cached_tokens: 0,
        cost: Usd::from_dollars(0.00156),
        cost_source: codeforge::core::protocol::CostSource::Provider,
        ttft_ms: Some(412),
        latency_ms: 1830,
        status: codeforge::core::protocol::TurnStatus::Ok,
        overhead: Default::default(),
    }
}

const ANSWER: &str = "Here you go:\n\n```rust\npub fn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n```\n\n- **pure**, no side effects\n";

/// Send a prompt and stream `chunks` of the answer; returns the turn id.
fn ask(app: &mut App, prompt: &str, chunks: &[&str]) -> TurnId {
    type_text(app, prompt);
    let cmds = app.on_key(key(KeyCode::Enter));
    let turn = match &cmds[..] {
        [Command::Core(Op::Submit { turn, .. })] => *turn,
        other => panic!("{other:?}"),
    };
    app.on_core(Event::Routed {
        turn,
        card: card(prompt),
    });
    for c in chunks {
        app.on_core(Event::Content {
            turn,
            text: c.to_string(),
        });
    }
    turn
}

#[test]
fn snapshot_empty_state() {
    let mut a = app(false);
    snap!("empty", screen(&mut a, 100, 24));
}

#[test]
fn snapshot_demo_banner() {
    let mut a = app(true);
    a.on_core(Event::Budget(budget(0.0)));
    snap!("demo_banner", screen(&mut a, 100, 24));
}

#[test]
fn snapshot_mid_stream_with_a_code_block() {
    let mut a = app(false);
    a.on_core(Event::Budget(budget(0.1)));
    // Cut inside the code block: the open line shows, the block is not closed yet.
    ask(
        &mut a,
        "write a rust function that adds two numbers",
        &[
            "Here you go:\n\n```rust\npub fn add(a: i64, b: i64) -> i64 {\n    a + b\n",
            "}",
        ],
    );
    let s = screen(&mut a, 110, 30);
    assert!(s.contains("│ pub fn add(a: i64, b: i64) -> i64 {"));
    snap!("mid_stream_code", s);
}

#[test]
fn snapshot_expanded_route_card_after_the_answer() {
    let mut a = app(false);
    a.on_core(Event::Budget(budget(0.1)));
    let turn = ask(
        &mut a,
        "write a rust function that adds two numbers",
        &[ANSWER],
    );
    a.on_core(Event::Finished {
        turn,
        outcome: outcome(1, ANSWER),
    });
    a.on_key(ctrl('e'));
    let s = screen(&mut a, 110, 34);
    assert!(s.contains("est $0.0016 → $0.0016"), "{s}");
    assert!(s.contains("▶moonshotai/kimi-k2"), "{s}");
    snap!("expanded_route_card", s);
}

#[test]
fn snapshot_sidebar_at_30_85_and_100_percent() {
    for (pct, name) in [
        (0.30, "sidebar_30"),
        (0.85, "sidebar_85"),
        (1.0, "sidebar_100"),
    ] {
        let mut a = app(false);
        a.sidebar = Some(true);
        a.on_core(Event::Budget(budget(pct)));
        snap!(name, screen(&mut a, 100, 30));
    }
}

#[test]
fn the_gauge_colour_follows_the_threshold() {
    let theme = Theme::dark(false);
    for (pct, want) in [
        (0.30, theme.ok.fg),
        (0.60, theme.warn.fg),
        (0.85, theme.danger.fg),
    ] {
        let mut a = app(false);
        a.sidebar = Some(true);
        a.on_core(Event::Budget(budget(pct)));
        let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
        t.draw(|f| ui::render(f, &mut a)).unwrap();
        // The gauge row of the sidebar: its filled part carries the pressure colour.
        let buf = t.backend().buffer();
        let x = 100 - 33;
        assert_eq!(buf[(x, 1)].fg, want.unwrap(), "at {pct}");
    }
}

#[test]
fn snapshot_picker_open_and_pinned_mode() {
    let mut a = app(false);
    a.on_key(ctrl('o'));
    snap!("picker_open", screen(&mut a, 100, 24));
    a.on_key(key(KeyCode::Down));
    a.on_key(key(KeyCode::Down));
    a.on_key(key(KeyCode::Char('p')));
    assert_eq!(a.mode, Mode::Pinned("anthropic/claude-sonnet-4".into()));
    snap!("pinned_mode", screen(&mut a, 100, 24));
}

#[test]
fn snapshot_fallback_notice() {
    let mut a = app(false);
    let turn = ask(&mut a, "write a rust function", &[]);
    a.on_core(Event::Fallback {
        turn,
        from: "kimi-k2".into(),
        error: "no provider is available for this model (503): No available provider".into(),
        to: "o3".into(),
    });
    a.on_core(Event::Content {
        turn,
        text: "Sure.".into(),
    });
    let s = screen(&mut a, 100, 20);
    assert!(s.contains("↪ kimi-k2: no provider is available for this model"));
    assert!(s.contains("(503) → o3"), "{s}");
    // The card names the model that answers and why, not the first model's reason.
    assert!(
        s.contains("◆ o3 · code / ") && s.contains(" · fallback: kimi-k2 failed"),
        "{s}"
    );
    assert!(!s.contains("cheaper and faster"), "{s}");
    snap!("fallback_notice", s);
    // An error whose text holds a URL is not cut at the URL's colon.
    a.on_core(Event::Fallback {
        turn,
        from: "o3".into(),
        error: "cannot reach http://127.0.0.1:9/api/v1/chat/completions: connection refused".into(),
        to: "kimi-k2".into(),
    });
    let s = screen(&mut a, 140, 24);
    assert!(
        s.contains("o3: cannot reach http://127.0.0.1:9/api/v1/chat/completions → kimi-k2"),
        "{s}"
    );
}

#[test]
fn snapshot_help_overlay() {
    let mut a = app(false);
    a.on_key(KeyEvent::new(KeyCode::F(1), KeyModifiers::NONE));
    snap!("help_overlay", screen(&mut a, 100, 30));
    // Narrower than the help: lines wrap instead of being cut off.
    let narrow = screen(&mut a, 70, 40);
    let text: String = narrow
        .lines()
        .map(|l| l.trim_matches('"').replace('│', " "))
        .collect::<Vec<_>>()
        .join(" ");
    let words = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("(p in the list pins it)"), "{narrow}");
    // Shorter than the help: it scrolls with the arrows, to its last line; any other key
    // closes it.
    let short = screen(&mut a, 80, 16);
    assert!(short.contains("Keys (1–"), "{short}");
    assert!(!short.contains("any other key closes"), "{short}");
    for _ in 0..40 {
        a.on_key(key(KeyCode::Down));
    }
    let end = screen(&mut a, 80, 16);
    assert!(end.contains("any other key closes this help"), "{end}");
    a.on_key(key(KeyCode::Char('x')));
    assert!(!screen(&mut a, 80, 16).contains("Keys"));
}

#[test]
fn snapshot_sixty_columns() {
    let mut a = app(false);
    a.on_core(Event::Budget(budget(0.5)));
    let turn = ask(
        &mut a,
        "write a rust function that adds two numbers",
        &[ANSWER],
    );
    a.on_core(Event::Finished {
        turn,
        outcome: outcome(1, ANSWER),
    });
    // Too narrow for the sidebar: it hides itself; everything wraps.
    snap!("sixty_columns", screen(&mut a, 60, 30));
}

#[test]
fn escape_sequences_from_the_model_never_reach_the_screen() {
    let mut a = app(false);
    ask(
        &mut a,
        "hi",
        &["safe\x1b]0;pwned\x07 te", "xt\x1b[2J\x1b[31m red\x1b[0m\n"],
    );
    let s = screen(&mut a, 80, 20);
    assert!(s.contains("safe text red"));
    assert!(!s.contains("[2J") && !s.contains("pwned") && !s.contains("[31m"));
}

#[test]
fn escape_sequences_in_a_pasted_prompt_are_sent_but_never_drawn() {
    let mut a = app(false);
    a.on_paste("clear\x1b[2J the \x1b]0;title\x07screen");
    let cmds = a.on_key(key(KeyCode::Enter));
    // The prompt goes to the model as typed; the transcript shows it neutralised.
    match &cmds[..] {
        [Command::Core(Op::Submit { text, .. })] => assert!(text.contains("\x1b[2J")),
        other => panic!("{other:?}"),
    }
    let s = screen(&mut a, 80, 20);
    assert!(s.contains("clear the screen"), "{s}");
    assert!(!s.contains("[2J") && !s.contains("title"));
}

#[test]
fn enter_sends_with_the_routing_mode_and_next_resets_to_auto() {
    let mut a = app(false);
    type_text(&mut a, "hello");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Core(Op::Submit {
            turn: TurnId(1),
            text: "hello".into(),
            choice: Choice::Auto
        })]
    );
    a.on_core(Event::Finished {
        turn: TurnId(1),
        outcome: outcome(1, "x"),
    });
    a.on_key(ctrl('o'));
    a.on_key(key(KeyCode::Down)); // grok-4
    a.on_key(key(KeyCode::Enter));
    assert_eq!(a.mode, Mode::Next("x-ai/grok-4".into()));
    type_text(&mut a, "design");
    let cmds = a.on_key(key(KeyCode::Enter));
    assert!(
        matches!(&cmds[..], [Command::Core(Op::Submit { choice: Choice::Override(m), .. })] if m == "x-ai/grok-4")
    );
    assert_eq!(a.mode, Mode::Auto);
}

#[test]
fn newline_keys_and_pastes_never_send() {
    let mut a = app(false);
    type_text(&mut a, "line one");
    for k in [
        KeyEvent::new(KeyCode::Enter, KeyModifiers::SHIFT),
        KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT),
        ctrl('j'),
    ] {
        assert!(a.on_key(k).is_empty());
    }
    assert!(a.on_paste("pasted\nblock\r\nwith lines").is_empty());
    assert_eq!(a.composer.input.lines().len(), 6);
    let cmds = a.on_key(key(KeyCode::Enter));
    match &cmds[..] {
        [Command::Core(Op::Submit { text, .. })] => {
            assert_eq!(text, "line one\n\n\npasted\nblock\nwith lines")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn esc_cancels_and_ctrl_c_asks_before_quitting_a_stream() {
    let mut a = app(false);
    ask(&mut a, "hello", &["partial"]);
    assert_eq!(a.on_key(key(KeyCode::Esc)), vec![Command::Core(Op::Cancel)]);
    assert!(a.on_key(ctrl('c')).is_empty());
    assert!(screen(&mut a, 80, 20).contains("An answer is streaming. Quit?"));
    assert_eq!(
        a.on_key(key(KeyCode::Char('y'))),
        vec![Command::Core(Op::Quit), Command::Quit]
    );
    // Ctrl-C twice quits; the question goes away when the answer ends; during a stream
    // Ctrl-N and Ctrl-L say why they wait.
    let mut c = app(false);
    ask(&mut c, "hello", &["partial"]);
    assert!(c.on_key(ctrl('n')).is_empty());
    assert!(c.on_key(ctrl('l')).is_empty());
    let shown = screen(&mut c, 100, 20);
    assert!(
        shown.contains("an answer is still streaming: Esc cancels it"),
        "{shown}"
    );
    assert!(c.on_key(ctrl('c')).is_empty());
    assert_eq!(
        c.on_key(ctrl('c')),
        vec![Command::Core(Op::Quit), Command::Quit]
    );
    let mut d = app(false);
    let turn_d = ask(&mut d, "hello", &["partial"]);
    d.on_key(ctrl('c'));
    d.on_core(Event::Finished {
        turn: turn_d,
        outcome: outcome(1, "partial"),
    });
    assert!(!screen(&mut d, 80, 20).contains("Quit?"));
    // Idle: Ctrl-C quits at once.
    let mut b = app(false);
    assert_eq!(
        b.on_key(ctrl('c')),
        vec![Command::Core(Op::Quit), Command::Quit]
    );
}

#[test]
fn pin_rate_copy_and_rerun_after_an_answer() {
    let mut a = app(false);
    let turn = ask(
        &mut a,
        "write a rust function that adds two numbers",
        &[ANSWER],
    );
    a.on_core(Event::Finished {
        turn,
        outcome: outcome(41, ANSWER),
    });
    a.on_key(ctrl('p'));
    assert_eq!(a.mode, Mode::Pinned("moonshotai/kimi-k2".into()));
    a.on_key(ctrl('p'));
    assert_eq!(a.mode, Mode::Auto);
    assert_eq!(
        a.on_key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT)),
        vec![Command::Core(Op::Feedback {
            request_id: 41,
            up: true
        })]
    );
    assert_eq!(
        a.on_key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)),
        vec![Command::Core(Op::Feedback {
            request_id: 41,
            up: false
        })]
    );
    assert!(app(false).on_key(ctrl('y')).is_empty());
    // Nothing to rate or run again yet: said, not silently ignored.
    let mut fresh = app(false);
    assert!(
        fresh
            .on_key(KeyEvent::new(KeyCode::Up, KeyModifiers::ALT))
            .is_empty()
    );
    assert!(screen(&mut fresh, 80, 20).contains("no finished answer to rate yet"));
    assert!(fresh.on_key(ctrl('r')).is_empty());
    assert!(screen(&mut fresh, 80, 20).contains("no answer to run again yet"));
    let mut nothing = app(false);
    nothing.on_key(ctrl('y'));
    assert!(screen(&mut nothing, 80, 20).contains("no code block in the last answer to copy"));
    assert_eq!(
        a.on_key(ctrl('y')),
        vec![Command::Copy(
            "pub fn add(a: i64, b: i64) -> i64 {\n    a + b\n}\n".into()
        )]
    );
    // Ctrl-R offers the next model in that answer's ranking first, and never the model
    // that answered.
    let prompt = "write a rust function that adds two numbers";
    let next = next_after_kimi(prompt);
    a.on_key(ctrl('r'));
    let shown = screen(&mut a, 100, 30);
    assert!(shown.contains("Next in the ranking: "), "{shown}");
    assert!(!shown.contains("moonshotai/kimi-k2"), "{shown}");
    let rerun_on = |cmds: Vec<Command>| match &cmds[..] {
        [
            Command::Core(Op::Rerun {
                text,
                model,
                previous_request,
                ..
            }),
        ] => {
            assert_eq!(text, prompt);
            (model.clone(), previous_request.unwrap())
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(rerun_on(a.on_key(key(KeyCode::Enter))), (next, 41));
    a.on_core(Event::Finished {
        turn: turn.next(),
        outcome: outcome(42, ANSWER),
    });
    // Down goes to the first model listed: grok-4 (claude-sonnet-4 answered last time
    // too, by the test's outcome, so it is still left out).
    a.on_key(ctrl('r'));
    a.on_key(key(KeyCode::Down));
    assert_eq!(
        rerun_on(a.on_key(key(KeyCode::Enter))),
        ("x-ai/grok-4".to_string(), 42)
    );
}

#[test]
fn slash_commands() {
    let mut a = app(false);
    type_text(&mut a, "/budget 5");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Core(Op::SetDailyLimit(5.0))]
    );
    type_text(&mut a, "/pin o3");
    a.on_key(key(KeyCode::Enter));
    assert_eq!(a.mode, Mode::Pinned("openai/o3".into()));
    type_text(&mut a, "/auto");
    a.on_key(key(KeyCode::Enter));
    assert_eq!(a.mode, Mode::Auto);
    type_text(&mut a, "/new");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Core(Op::NewConversation)]
    );
    type_text(&mut a, "/bogus");
    a.on_key(key(KeyCode::Enter));
    assert!(screen(&mut a, 80, 20).contains("unknown command /bogus"));
}

#[test]
fn a_resumed_conversation_is_shown_and_a_resize_keeps_the_layout() {
    let mut a = app(false);
    a.on_core(Event::ConversationLoaded {
        id: Some(3),
        messages: vec![
            LoadedMessage::plain(codeforge::core::protocol::Role::User, "first question"),
            LoadedMessage::plain(codeforge::core::protocol::Role::Assistant, "first answer"),
        ],
    });
    let wide = screen(&mut a, 100, 20);
    assert!(wide.contains("first question") && wide.contains("first answer"));
    // Nothing recorded beside the text: the card says so rather than "routing…".
    assert!(wide.contains("◆ earlier answer"), "{wide}");
    let narrow = screen(&mut a, 40, 20);
    assert!(narrow.contains("first answer"));
}

#[test]
fn slash_explore_toggles_exploration_and_the_status_bar_says_so() {
    let mut a = app(false);
    assert!(!screen(&mut a, 120, 30).contains("explore"));
    type_text(&mut a, "/explore on");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Core(Op::SetExplore(true))]
    );
    assert!(screen(&mut a, 120, 30).contains("AUTO pref 5 explore"));
    type_text(&mut a, "/explore maybe");
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    assert!(screen(&mut a, 120, 30).contains("/explore on|off"));
    type_text(&mut a, "/explore off");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Core(Op::SetExplore(false))]
    );
    assert!(!screen(&mut a, 120, 30).contains("pref 5 explore"));
}

#[test]
fn a_one_message_override_returns_to_the_pin() {
    let mut a = app(false);
    type_text(&mut a, "/pin grok-4");
    a.on_key(key(KeyCode::Enter));
    assert_eq!(a.mode, Mode::Pinned("x-ai/grok-4".into()));
    type_text(&mut a, "/model o3");
    a.on_key(key(KeyCode::Enter));
    assert!(screen(&mut a, 120, 30).contains("NEXT o3 then PINNED grok-4"));
    let cmds = {
        type_text(&mut a, "prove it");
        a.on_key(key(KeyCode::Enter))
    };
    assert!(
        matches!(&cmds[..], [Command::Core(Op::Submit { choice: Choice::Override(m), .. })] if m == "openai/o3"),
        "{cmds:?}"
    );
    assert_eq!(a.mode, Mode::Pinned("x-ai/grok-4".into()));
    let turn = match &cmds[..] {
        [Command::Core(Op::Submit { turn, .. })] => *turn,
        _ => unreachable!(),
    };
    a.on_core(Event::Finished {
        turn,
        outcome: outcome(1, "done"),
    });
    // /auto forgets the pin, even in the middle of an override.
    type_text(&mut a, "/model o3");
    a.on_key(key(KeyCode::Enter));
    type_text(&mut a, "/auto");
    a.on_key(key(KeyCode::Enter));
    assert_eq!(a.mode, Mode::Auto);
    assert_eq!(a.pin_after_next, None);
}

#[test]
fn f2_on_a_narrow_terminal_says_why_there_is_no_sidebar() {
    let mut a = app(false);
    screen(&mut a, 60, 20);
    a.on_key(key(KeyCode::F(2)));
    assert_eq!(a.sidebar, None, "nothing to toggle at 60 columns");
    let shown = screen(&mut a, 60, 20);
    assert!(
        shown.contains("the sidebar needs 80 columns; this terminal has 60"),
        "{shown}"
    );
    // Wide enough: F2 toggles it.
    screen(&mut a, 140, 30);
    assert!(a.sidebar_shown(140));
    a.on_key(key(KeyCode::F(2)));
    assert!(!a.sidebar_shown(140));
}

#[test]
fn the_sidebar_is_hidden_by_default_below_120_columns_and_f2_shows_it() {
    let mut a = app(false);
    a.on_core(Event::Budget(budget(0.3)));
    // 80 columns: the answer keeps the width; the status bar still carries the budget.
    let narrow = screen(&mut a, 80, 24);
    assert!(!narrow.contains("Month"), "{narrow}");
    a.on_key(key(KeyCode::F(2)));
    let shown = screen(&mut a, 80, 24);
    assert!(shown.contains("Month"), "{shown}");
    // 140 columns: shown by default.
    let mut b = app(false);
    b.on_core(Event::Budget(budget(0.3)));
    assert!(screen(&mut b, 140, 30).contains("Month"));
}

#[test]
fn ctrl_r_on_a_cut_answer_runs_it_on_the_next_candidate_at_once() {
    let mut a = app(false);
    let prompt = "write a rust function that adds two numbers";
    let turn = ask(&mut a, prompt, &["Here is"]);
    a.on_core(Event::Failed {
        turn,
        message: "the stream was cut".into(),
        outcome: Some(TurnOutcome {
            status: codeforge::core::protocol::TurnStatus::Cut,
            ..outcome(7, "Here is")
        }),
    });
    assert!(screen(&mut a, 180, 24).contains("^R runs it again on the next model"));
    let next = next_after_kimi(prompt);
    // One key, no picker.
    match &a.on_key(ctrl('r'))[..] {
        [
            Command::Core(Op::Rerun {
                model,
                previous_request,
                ..
            }),
        ] => {
            assert_eq!(model, &next);
            // A re-run after a cut is about availability: the cut answer is not rated down.
            assert_eq!(*previous_request, None);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_paste_of_seventy_thousand_lines_is_folded_in_the_input_and_sent_whole() {
    let mut a = app(false);
    type_text(&mut a, "why does this fail? ");
    let log: String = (0..70_000).map(|i| format!("line {i}: ok\n")).collect();
    assert!(a.on_paste(&log).is_empty());
    // One line in the input box, saying what it holds; the box still draws right.
    assert_eq!(a.composer.input.lines().len(), 1);
    assert!(
        a.composer.input.lines()[0].starts_with("why does this fail? [paste #1 · 70,000 lines · "),
        "{:?}",
        a.composer.input.lines()
    );
    let shown = screen(&mut a, 100, 24);
    assert!(shown.contains("[paste #1 · 70,000 lines"), "{shown}");
    type_text(&mut a, " thanks");
    match &a.on_key(key(KeyCode::Enter))[..] {
        [Command::Core(Op::Submit { text, .. })] => {
            assert_eq!(*text, format!("why does this fail? {log} thanks"));
        }
        other => panic!("{other:?}"),
    }
    // Sent: the next prompt starts empty, with no paste left over.
    assert!(a.composer.input.lines().iter().all(|l| l.is_empty()));
}

#[test]
fn esc_stops_the_answer_growing_at_once_whatever_is_still_queued() {
    let mut a = app(false);
    let turn = ask(&mut a, "hello", &["first part "]);
    assert_eq!(a.on_key(key(KeyCode::Esc)), vec![Command::Core(Op::Cancel)]);
    // A flood already on its way after Esc is not drawn.
    for _ in 0..10_000 {
        a.on_core(Event::Content {
            turn,
            text: "flood ".into(),
        });
    }
    let shown = screen(&mut a, 100, 30);
    assert!(shown.contains("first part"), "{shown}");
    assert!(!shown.contains("flood"), "{shown}");
    assert!(shown.contains("[cancelling…]"), "{shown}");
}

#[test]
fn budget_alone_says_where_the_budget_stands() {
    let mut a = app(false);
    a.on_core(Event::Budget(budget(0.5)));
    type_text(&mut a, "/budget");
    assert!(a.on_key(key(KeyCode::Enter)).is_empty());
    let shown = screen(&mut a, 160, 30);
    assert!(
        shown.contains("today $1.67 spent, $0 held, of $3.33 a day · month $13.66 of $100.00"),
        "{shown}"
    );
    // With an amount it sets today's limit.
    type_text(&mut a, "/budget 5");
    assert_eq!(
        a.on_key(key(KeyCode::Enter)),
        vec![Command::Core(Op::SetDailyLimit(5.0))]
    );
}

#[test]
fn an_at_path_attaches_the_file_and_its_edits_are_reviewed_applied_and_undone() {
    let proj = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    std::fs::create_dir(proj.path().join("src")).unwrap();
    let lib = proj.path().join("src/lib.rs");
    let text = "pub fn total(xs: &[i64]) -> i64 {\n    xs.iter().sum()\n}\n";
    std::fs::write(&lib, text).unwrap();
    let mut a = app(false);
    a.root = proj.path().to_path_buf();
    a.undo = Some(codeforge::edits::UndoLog::new(
        state.path().join("undo.json"),
    ));
    type_text(&mut a, "rename total to sum_all in @src/lib.rs");
    let cmds = a.on_key(key(KeyCode::Enter));
    // The edit format goes to the system prompt first, then the prompt with the file.
    let turn = match &cmds[..] {
        [
            Command::Core(Op::SetSystem(system)),
            Command::Core(Op::Submit {
                turn, text: sent, ..
            }),
        ] => {
            assert!(system.contains("<<<<<<< SEARCH"), "{system}");
            assert!(
                sent.ends_with(&format!("src/lib.rs:\n```rust\n{}\n```", text.trim_end())),
                "{sent}"
            );
            *turn
        }
        other => panic!("{other:?}"),
    };
    let answer = codeforge::simulator::compose_answer(
        &match &cmds[1] {
            Command::Core(Op::Submit { text, .. }) => text.clone(),
            _ => unreachable!(),
        },
        "m",
    );
    // While it streams, the edits ended so far are counted beside the speed.
    a.on_core(Event::Routed {
        turn,
        card: card("rename total to sum_all"),
    });
    let cut = answer.find(">>>>>>> REPLACE").unwrap() + 3;
    a.on_core(Event::Content {
        turn,
        text: answer[..cut].to_string(),
    });
    assert!(!screen(&mut a, 100, 24).contains("so far"));
    a.on_core(Event::Content {
        turn,
        text: answer[cut..].to_string(),
    });
    assert!(screen(&mut a, 100, 24).contains("✎ 1 edit so far"));
    a.on_core(Event::Finished {
        turn,
        outcome: outcome(1, &answer),
    });
    // Reviewed before anything is written.
    let s = screen(&mut a, 100, 24);
    assert!(s.contains("Edit 1/1 · src/lib.rs (+1 −1)"), "{s}");
    assert!(s.contains("+pub fn sum_all(xs: &[i64]) -> i64 {"), "{s}");
    snap!("edit_review_popup", s);
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), text);
    a.on_key(key(KeyCode::Char('y')));
    assert_eq!(
        std::fs::read_to_string(&lib).unwrap(),
        text.replace("total", "sum_all")
    );
    assert!(screen(&mut a, 100, 24).contains("applied src/lib.rs (+1 −1)"));
    type_text(&mut a, "/undo");
    a.on_key(key(KeyCode::Enter));
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), text);
    assert!(screen(&mut a, 100, 24).contains("undid the edit to src/lib.rs"));
    // The next prompt without files takes the edit format out of the system prompt.
    type_text(&mut a, "thanks");
    let cmds = a.on_key(key(KeyCode::Enter));
    assert!(
        matches!(&cmds[..], [Command::Core(Op::SetSystem(s)), Command::Core(Op::Submit { .. })] if !s.contains("SEARCH")),
        "{cmds:?}"
    );
}

#[test]
fn an_edit_to_a_file_changed_since_it_was_attached_is_refused_and_nothing_written() {
    let proj = tempfile::tempdir().unwrap();
    std::fs::write(proj.path().join("a.py"), "x = 1\n").unwrap();
    let mut a = app(false);
    a.root = proj.path().to_path_buf();
    type_text(&mut a, "rename x to y @a.py");
    let cmds = a.on_key(key(KeyCode::Enter));
    let Some(Command::Core(Op::Submit { turn, text, .. })) = cmds.last() else {
        panic!("{cmds:?}")
    };
    let answer = codeforge::simulator::compose_answer(text, "m");
    std::fs::write(proj.path().join("a.py"), "x = 1  # mine\n").unwrap();
    a.on_core(Event::Finished {
        turn: *turn,
        outcome: outcome(1, &answer),
    });
    let s = screen(&mut a, 100, 24);
    assert!(!s.contains("Edit 1/1"), "{s}");
    assert!(s.contains("changed since it was attached"), "{s}");
    assert_eq!(
        std::fs::read_to_string(proj.path().join("a.py")).unwrap(),
        "x = 1  # mine\n"
    );
}

#[tokio::test]
async fn a_bang_command_runs_and_its_output_is_attached_to_the_next_prompt() {
    let proj = tempfile::tempdir().unwrap();
    std::fs::write(proj.path().join("notes.txt"), "x").unwrap();
    let mut a = app(false);
    a.root = proj.path().to_path_buf();
    type_text(&mut a, "!ls; exit 2");
    let cmds = a.on_key(key(KeyCode::Enter));
    let [Command::Shell(cmd)] = &cmds[..] else {
        panic!("{cmds:?}")
    };
    // The event loop runs it; here the test does, for real.
    let out = codeforge::shell::run(cmd, &a.root, codeforge::shell::TIMEOUT).await;
    a.on_shell(out);
    let s = screen(&mut a, 100, 20);
    assert!(
        s.contains("$ ls; exit 2 → exit 2 · 1 lines, attached to your next prompt"),
        "{s}"
    );
    assert!(s.contains("  notes.txt"), "{s}");
    type_text(&mut a, "why does it fail?");
    let cmds = a.on_key(key(KeyCode::Enter));
    let Some(Command::Core(Op::Submit { text, turn, .. })) = cmds.last() else {
        panic!("{cmds:?}")
    };
    assert_eq!(
        text,
        "why does it fail?\n\nOutput of `ls; exit 2` (exit 2):\n\nstdout:\n```\nnotes.txt\n```"
    );
    a.on_core(Event::Finished {
        turn: *turn,
        outcome: outcome(1, "It exits 2 on purpose."),
    });
    // Attached once: the prompt after that goes without it.
    type_text(&mut a, "and now?");
    let cmds = a.on_key(key(KeyCode::Enter));
    assert!(
        matches!(cmds.last(), Some(Command::Core(Op::Submit { text, .. })) if text == "and now?"),
        "{cmds:?}"
    );
}

#[test]
fn up_and_down_recall_earlier_prompts_from_the_first_and_last_line() {
    let state = tempfile::tempdir().unwrap();
    let mut a = app(false);
    a.composer.history = codeforge::tui::history::History::load(state.path().join("history.jsonl"));
    let turn = send(&mut a, "first prompt");
    a.on_core(Event::Finished {
        turn,
        outcome: outcome(1, "ok"),
    });
    type_text(&mut a, "a draft");
    a.on_key(key(KeyCode::Up));
    assert_eq!(a.composer.input.lines().join("\n"), "first prompt");
    a.on_key(key(KeyCode::Down));
    assert_eq!(a.composer.input.lines().join("\n"), "a draft");
    // In a two-line input Up first moves to the first line, then recalls.
    a.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT));
    type_text(&mut a, "second line");
    a.on_key(key(KeyCode::Up));
    assert_eq!(a.composer.input.lines().join("\n"), "a draft\nsecond line");
    a.on_key(key(KeyCode::Up));
    assert_eq!(a.composer.input.lines().join("\n"), "first prompt");
    // A new session reads the same history.
    let mut b = app(false);
    b.composer.history = codeforge::tui::history::History::load(state.path().join("history.jsonl"));
    b.on_key(key(KeyCode::Up));
    assert_eq!(b.composer.input.lines().join("\n"), "first prompt");
}

#[test]
fn a_role_sets_the_system_prompt_preference_and_pinned_model_until_it_is_turned_off() {
    let mut a = app(false);
    a.roles.insert(
        "reviewer".into(),
        codeforge::config::Role {
            system_prompt: Some("Review strictly.".into()),
            preference: Some(8),
            model: Some("openai/o3".into()),
        },
    );
    type_text(&mut a, "/role reviewer");
    let cmds = a.on_key(key(KeyCode::Enter));
    match &cmds[..] {
        [
            Command::Core(Op::SetSystem(system)),
            Command::Core(Op::SetPreference(8)),
        ] => assert!(system.ends_with("\n\nReview strictly."), "{system}"),
        other => panic!("{other:?}"),
    }
    type_text(&mut a, "look at this function");
    let cmds = a.on_key(key(KeyCode::Enter));
    assert!(
        matches!(&cmds[..], [Command::Core(Op::Submit { choice: Choice::Pinned(m), turn, .. })] if m == "openai/o3" && turn.0 > 0),
        "{cmds:?}"
    );
    let Some(Command::Core(Op::Submit { turn, .. })) = cmds.last() else {
        unreachable!()
    };
    a.on_core(Event::Finished {
        turn: *turn,
        outcome: outcome(1, "ok"),
    });
    type_text(&mut a, "/role off");
    let cmds = a.on_key(key(KeyCode::Enter));
    assert!(
        matches!(&cmds[..], [Command::Core(Op::SetSystem(s))] if !s.contains("Review")),
        "{cmds:?}"
    );
    type_text(&mut a, "/role nope");
    a.on_key(key(KeyCode::Enter));
    assert!(screen(&mut a, 100, 30).contains("no role `nope`; roles: reviewer"));
    type_text(&mut a, "next one");
    let cmds = a.on_key(key(KeyCode::Enter));
    assert!(
        matches!(
            &cmds[..],
            [Command::Core(Op::Submit {
                choice: Choice::Auto,
                ..
            })]
        ),
        "{cmds:?}"
    );
}

#[test]
fn typing_an_at_word_lists_matching_files_and_tab_puts_the_path_in() {
    let mut a = app(false);
    let index = codeforge::project_files::SharedIndex::default();
    index.set(codeforge::project_files::FileIndex::from_paths(
        [
            "README.md",
            "src/router/payload.rs",
            "src/router/features.rs",
            "src/tui/app.rs",
        ]
        .map(String::from)
        .to_vec(),
    ));
    a.files = Some(index);
    type_text(&mut a, "explain @rout");
    let s = screen(&mut a, 80, 16);
    assert!(s.contains("files · Tab puts it in"), "{s}");
    snap!("at_completion_popup", s);
    // Down chooses the second, Tab puts it in with a space after.
    a.on_key(key(KeyCode::Down));
    let second = a.composer.completion.as_ref().unwrap().items[1].clone();
    a.on_key(key(KeyCode::Tab));
    assert_eq!(
        a.composer.input.lines().join("\n"),
        format!("explain @{second} ")
    );
    assert!(a.composer.completion.is_none());
    // Esc closes the list for that word; typing on opens it again for the new word.
    type_text(&mut a, "@app");
    assert!(a.composer.completion.is_some());
    a.on_key(key(KeyCode::Esc));
    assert!(a.composer.completion.is_none());
    type_text(&mut a, "x");
    assert!(a.composer.completion.is_none(), "no file matches @appx");
    // Plain words list nothing.
    type_text(&mut a, " and more");
    assert!(a.composer.completion.is_none());
}

#[test]
fn an_earlier_answer_is_held_once_and_alt_y_still_copies_the_last_one_whole() {
    let mut a = app(false);
    let mut turns = Vec::new();
    let texts = [
        "first answer, with words\n```sh\necho one\n```\n",
        "second answer\n```sh\necho two\n```\n",
    ];
    for (n, text) in texts.iter().enumerate() {
        let turn = send(&mut a, &format!("question {n}"));
        a.on_core(Event::Content {
            turn,
            text: (*text).into(),
        });
        a.on_core(Event::Finished {
            turn,
            outcome: outcome(n as i64 + 1, text),
        });
        turns.push(turn);
    }
    assert_eq!(
        a.on_key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::ALT)),
        vec![Command::Copy(texts[1].into())]
    );
    assert_eq!(
        a.on_key(ctrl('y')),
        vec![Command::Copy("echo two\n".into())]
    );
    // The first answer's raw text went with the second answer's start; the screen still
    // shows it (from the text the transcript keeps).
    let first = a.transcript.answer(turns[0]).unwrap();
    assert_eq!(&*first.outcome.as_ref().unwrap().content, "");
    assert_eq!(first.outcome.as_ref().unwrap().request_id, 1);
    let last = a.transcript.answer(turns[1]).unwrap();
    assert_eq!(&*last.outcome.as_ref().unwrap().content, texts[1]);
    let s = screen(&mut a, 100, 30);
    assert!(s.contains("first answer, with words"), "{s}");
    assert!(s.contains("echo one"), "{s}");
}

#[test]
fn alt_y_copies_the_whole_answer_and_ctrl_g_hands_the_message_to_the_editor() {
    let mut a = app(false);
    let turn = send(&mut a, "hello");
    a.on_core(Event::Finished {
        turn,
        outcome: outcome(1, "Hi!\n\n```rust\nfn x() {}\n```\n"),
    });
    assert_eq!(
        a.on_key(KeyEvent::new(KeyCode::Char('y'), KeyModifiers::ALT)),
        vec![Command::Copy("Hi!\n\n```rust\nfn x() {}\n```\n".into())]
    );
    type_text(&mut a, "a draft");
    assert_eq!(a.on_key(ctrl('g')), vec![Command::Editor("a draft".into())]);
    // What the editor saves comes back as the message.
    #[cfg(unix)]
    {
        let edited =
            codeforge::tui::edit_with("sed -i s/draft/finished\\ message/", "a draft").unwrap();
        assert_eq!(edited, "a finished message");
        a.set_input(edited.trim_end());
        assert_eq!(a.composer.input.lines().join("\n"), "a finished message");
        assert!(codeforge::tui::edit_with("false", "x").is_err());
    }
}

#[test]
fn a_big_attachment_waits_for_whole_excerpt_or_not_at_all() {
    let proj = tempfile::tempdir().unwrap();
    let body: String = (0..200).map(|i| format!("line {i}\n")).collect();
    std::fs::write(proj.path().join("big.txt"), &body).unwrap();
    let mut a = app(false);
    a.root = proj.path().to_path_buf();
    a.attach_confirm_tokens = 100;
    type_text(&mut a, "summarise @big.txt");
    assert!(a.on_key(key(KeyCode::Enter)).is_empty(), "nothing sent yet");
    let s = screen(&mut a, 100, 20);
    assert!(
        s.contains("Big attachment") && s.contains("w: send whole"),
        "{s}"
    );
    // Esc: not sent, the message is back.
    a.on_key(key(KeyCode::Esc));
    assert_eq!(a.composer.input.lines().join("\n"), "summarise @big.txt");
    // t: an excerpt within the limit, marked.
    let cmds = a.on_key(key(KeyCode::Enter));
    assert!(cmds.is_empty());
    let cmds = a.on_key(key(KeyCode::Char('t')));
    let Some(Command::Core(Op::Submit { text, .. })) = cmds.last() else {
        panic!("{cmds:?}")
    };
    assert!(
        text.contains("line 0\n") && text.contains("more lines left out]"),
        "{text}"
    );
    assert!(text.len() < 100 * 4 + 200, "{}", text.len());
}

#[test]
fn a_malformed_edit_is_named_with_its_reason_and_changes_nothing() {
    let proj = tempfile::tempdir().unwrap();
    std::fs::write(proj.path().join("a.py"), "x = 1\n").unwrap();
    let mut a = app(false);
    a.root = proj.path().to_path_buf();
    let turn = send(&mut a, "change x in @a.py");
    // The divider is missing, and a second block does not match the file.
    let answer = "a.py\n```python\n<<<<<<< SEARCH\nx = 1\n>>>>>>> REPLACE\n```\n\na.py\n```python\n<<<<<<< SEARCH\nx = 3\n=======\nx = 4\n>>>>>>> REPLACE\n```\n";
    a.on_core(Event::Finished {
        turn,
        outcome: outcome(1, answer),
    });
    let s = screen(&mut a, 110, 24);
    assert!(
        s.contains("malformed edit to a.py: a SEARCH part without its ======= divider"),
        "{s}"
    );
    assert!(
        s.contains("edit not usable: a.py: the SEARCH text is not in the file"),
        "{s}"
    );
    assert!(!s.contains("Edit 1/"), "{s}");
    assert_eq!(
        std::fs::read_to_string(proj.path().join("a.py")).unwrap(),
        "x = 1\n"
    );
}

#[test]
fn the_input_takes_readline_keys() {
    let alt = |c: char| KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT);
    let text = |a: &App| a.composer.input.lines().join("\n");
    let mut a = app(false);
    type_text(&mut a, "fix the parser now");
    // Ctrl-A to the start, Alt-F to the next word, Ctrl-K kills to the end.
    a.on_key(ctrl('a'));
    a.on_key(alt('f'));
    a.on_key(ctrl('k'));
    assert_eq!(text(&a), "fix ");
    // Ctrl-E to the end (text in the input), Ctrl-W kills the word before the cursor.
    type_text(&mut a, "the lexer");
    a.on_key(ctrl('a'));
    a.on_key(ctrl('e'));
    a.on_key(ctrl('w'));
    assert_eq!(text(&a), "fix the ");
    // Alt-B back a word, then Ctrl-U kills to the line's start; Ctrl-Z undoes it.
    a.on_key(alt('b'));
    a.on_key(ctrl('u'));
    assert_eq!(text(&a), "the ");
    a.on_key(ctrl('z'));
    assert_eq!(text(&a), "fix the ");
    // With the input empty, Ctrl-E is still the route card's key (no answer yet: nothing).
    a.set_input("");
    assert!(a.on_key(ctrl('e')).is_empty());
}

#[test]
fn tab_completes_slash_commands() {
    let mut a = app(false);
    type_text(&mut a, "/ro");
    a.on_key(key(KeyCode::Tab));
    assert_eq!(a.composer.input.lines().join("\n"), "/role ");
    a.set_input("/p");
    a.on_key(key(KeyCode::Tab));
    assert_eq!(
        a.composer.input.lines().join("\n"),
        "/p",
        "two fit: listed, not guessed"
    );
    assert!(screen(&mut a, 100, 20).contains("/pin  /pref"));
    // Every listed command is one the app knows (none answers "unknown").
    for c in [
        "auto", "budget", "explore", "export", "help", "model", "new", "pin", "pref", "role",
        "stats", "undo",
    ] {
        a.popup = codeforge::tui::app::Popup::None;
        a.set_input(&format!("/{c}"));
        a.on_key(key(KeyCode::Enter));
        assert!(
            !screen(&mut a, 100, 20).contains(&format!("unknown command /{c}")),
            "/{c}"
        );
    }
}

#[test]
fn scrolled_up_the_text_stays_put_while_the_answer_grows_and_end_follows_again() {
    let mut a = app(false);
    let turn = send(&mut a, "write a long answer");
    a.on_core(Event::Routed {
        turn,
        card: card("write a long answer"),
    });
    let para = |i: usize| format!("Paragraph {i} of the answer.\n\n");
    for i in 0..40 {
        a.on_core(Event::Content {
            turn,
            text: para(i),
        });
    }
    screen(&mut a, 80, 20);
    a.on_key(key(KeyCode::PageUp));
    let before = screen(&mut a, 80, 20);
    let top = |s: &str| s.lines().take(12).collect::<Vec<_>>().join("\n");
    for i in 40..50 {
        a.on_core(Event::Content {
            turn,
            text: para(i),
        });
        let now = screen(&mut a, 80, 20);
        assert_eq!(top(&now), top(&before), "the text being read moved");
    }
    let now = screen(&mut a, 80, 20);
    assert!(now.contains("new lines · End follows"), "{now}");
    // End: the bottom, following again.
    a.on_key(key(KeyCode::End));
    let bottom = screen(&mut a, 80, 20);
    assert!(bottom.contains("Paragraph 49"), "{bottom}");
    assert!(!bottom.contains("End follows"), "{bottom}");
    a.on_core(Event::Content {
        turn,
        text: para(50),
    });
    assert!(screen(&mut a, 80, 20).contains("Paragraph 50"));
}

#[test]
fn a_held_worst_case_is_shown_lighter_and_does_not_turn_the_gauge_red() {
    let theme = Theme::dark(false);
    let mut a = app(false);
    a.sidebar = Some(true);
    // 10 % spent, and a reservation of half the limit held for a running answer.
    let mut b = budget(0.10);
    b.today.reserved = Usd::from_dollars(3.33 / 2.0);
    a.on_core(Event::Budget(b));
    let mut t = Terminal::new(TestBackend::new(100, 30)).unwrap();
    t.draw(|f| ui::render(f, &mut a)).unwrap();
    let buf = t.backend().buffer();
    let row: String = (67..100)
        .map(|x| buf[(x, 1)].symbol().to_string())
        .collect();
    assert!(row.contains("$0.3330 · $1.67 held / $3.33"), "{row}");
    let x0 = 100 - 33;
    // Spent: solid in the calm colour; held: the lighter (muted) style; the rest plain.
    let reversed = |x: u16| {
        buf[(x, 1)]
            .modifier
            .contains(ratatui::style::Modifier::REVERSED)
    };
    assert!(reversed(x0) && buf[(x0, 1)].fg == theme.ok.fg.unwrap());
    assert!(reversed(x0 + 10) && buf[(x0 + 10, 1)].fg == theme.muted.fg.unwrap());
    assert!(!reversed(x0 + 30));
    let status = (0..100)
        .map(|x| buf[(x, 26)].symbol().to_string())
        .collect::<String>();
    assert!(status.contains("$0.3330 / $3.33"), "{status}");
}

#[test]
fn hints_name_the_keys_as_they_are_bound() {
    let overrides: std::collections::BTreeMap<String, String> = [
        ("expand".to_string(), "ctrl-x".to_string()),
        ("help".to_string(), "f5".to_string()),
    ]
    .into();
    let keymap = Keymap::with_overrides(&overrides).unwrap();
    let models = Catalog::builtin()
        .unwrap()
        .models()
        .iter()
        .map(|m| (m.id.clone(), m.name.clone()))
        .collect();
    let mut a = App::new(Theme::dark(false), keymap, false, models);
    assert!(screen(&mut a, 100, 20).contains("Enter sends · Alt-Enter new line · F5 help"));
    let turn = send(&mut a, "write a rust function that adds two numbers");
    a.on_core(Event::Routed {
        turn,
        card: card("write a rust function that adds two numbers"),
    });
    let s = screen(&mut a, 100, 20);
    assert!(s.contains("[Ctrl-X details]"), "{s}");
}

#[test]
fn slash_stats_gives_the_first_token_apart_from_the_whole_answer() {
    let mut a = app(false);
    a.on_core(Event::Budget(budget(0.3)));
    type_text(&mut a, "/stats");
    a.on_key(key(KeyCode::Enter));
    let s = screen(&mut a, 160, 30);
    assert!(
        s.contains("first token ~420 ms, whole answer ~1840 ms"),
        "{s}"
    );
}

#[test]
fn the_route_card_says_the_estimate_once() {
    let mut a = app(false);
    let turn = send(&mut a, "write a rust function that adds two numbers");
    let d = decision("write a rust function that adds two numbers");
    assert!(
        d.reason.contains("est $"),
        "the router's reason has it: {}",
        d.reason
    );
    a.on_core(Event::Routed {
        turn,
        card: RouteCard::of(&d),
    });
    let s = screen(&mut a, 80, 24);
    assert_eq!(s.matches("est $").count(), 1, "{s}");
    assert!(
        !s.contains("pref 5/10\n") && s.matches("pref 5").count() == 2,
        "{s}"
    );
}

/// An answer with a table, a code line too long for narrow panes, and a list item.
const RICH: &str = "Compared:\n\n| language | typing | speed |\n|:--|:--:|--:|\n| Rust | static, checked at compile time | fast |\n| Python | dynamic | slower |\n\n```rust\nlet total: u64 = orders.iter().filter(|o| o.paid).map(|o| o.amount_cents).sum();\n```\n\n- a list item long enough to wrap onto a second line at sixty columns\n";

#[test]
fn snapshot_table_code_and_card_at_60x15_80x24_and_140x45() {
    for (w, h) in [(60u16, 15u16), (80, 24), (140, 45)] {
        let mut a = app(false);
        a.on_core(Event::Budget(budget(0.3)));
        let turn = ask(&mut a, "compare rust and python", &[RICH]);
        a.on_core(Event::Finished {
            turn,
            outcome: outcome(1, RICH),
        });
        let s = screen(&mut a, w, h);
        // Columns line up: every row of the table has its separators at the same columns.
        let rows: Vec<&str> = s
            .lines()
            .filter(|l| {
                ["language", "Rust ", "Python"]
                    .iter()
                    .any(|w| l.contains(w))
            })
            .collect();
        assert!(rows.len() >= 2, "{s}");
        let cols = |l: &str| -> Vec<usize> {
            l.char_indices()
                .filter(|(_, c)| *c == '│')
                .map(|(i, _)| l[..i].chars().count())
                .collect()
        };
        if let Some(first) = rows.first() {
            for r in &rows {
                assert_eq!(cols(r)[..2], cols(first)[..2], "{s}");
            }
        }
        // Code keeps its gutter when it wraps.
        for l in s
            .lines()
            .filter(|l| l.contains("amount_cents") || l.contains(".sum()"))
        {
            assert!(l.trim_start_matches('"').starts_with("│ "), "{s}");
        }
        // Narrow: the route card is one line until Ctrl-E.
        if w < 80 {
            let tall = screen(&mut a, w, 40);
            assert!(
                tall.contains("◆ kimi-k2 · code/medium · est $0.0016 → $0.0016 [Ctrl-E]"),
                "{tall}"
            );
        }
        snap!(format!("rich_answer_{w}x{h}"), s);
    }
}

#[test]
fn snapshot_gauge_at_each_threshold_and_the_scroll_marker() {
    for (pct, name) in [
        (0.3, "calm"),
        (0.6, "past_50"),
        (0.85, "past_80"),
        (0.97, "past_95"),
    ] {
        let mut a = app(false);
        a.on_core(Event::Budget(budget(pct)));
        snap!(format!("gauge_{name}_140x45"), screen(&mut a, 140, 45));
    }
    let mut a = app(false);
    let turn = send(&mut a, "write a long answer");
    a.on_core(Event::Routed {
        turn,
        card: card("write a long answer"),
    });
    for i in 0..40 {
        a.on_core(Event::Content {
            turn,
            text: format!("Paragraph {i} of the answer.\n\n"),
        });
    }
    screen(&mut a, 80, 24);
    a.on_key(key(KeyCode::PageUp));
    a.on_core(Event::Content {
        turn,
        text: "More.\n\nAnd more.\n".into(),
    });
    let s = screen(&mut a, 80, 24);
    assert!(s.contains("new lines · End follows"), "{s}");
    snap!("scroll_marker_80x24", s);
}

#[test]
fn a_flag_is_deleted_whole_and_never_left_half_on_screen() {
    let mut a = app(false);
    type_text(&mut a, "Grüße aus 🇩🇪");
    a.on_key(key(KeyCode::Backspace));
    assert_eq!(a.composer.input.lines(), ["Grüße aus "]);
    // In the transcript a run of flags wraps between flags, never inside one.
    let flags = "🇩🇪".repeat(40);
    let turn = ask(&mut a, "flags", &[&flags]);
    a.on_core(Event::Finished {
        turn,
        outcome: outcome(1, &flags),
    });
    let s = screen(&mut a, 61, 20);
    for l in s.lines().filter(|l| l.contains('🇩')) {
        // The row between its quotes (the backend notes the cells wide glyphs hide after).
        let inner = l.split('"').nth(1).unwrap_or("").trim_end();
        assert_eq!(inner.chars().count() % 2, 0, "a half flag in {inner:?}");
    }
}
