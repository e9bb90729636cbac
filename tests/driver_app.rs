//! The core's driver and the TUI's app together: real key events into the app, its ops to
//! the real driver (simulator, ledger file), the driver's events back into the app, and
//! the screen drawn on ratatui's TestBackend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use codeforge::core::protocol::RouteCard;
use codeforge::core::{Choice, Event, Op, Session};
use codeforge::task::Intent;
use codeforge::tui::app::{App, Command};
use codeforge::tui::{keymap::Keymap, model_names, theme::Theme};
use common::rig;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;

/// The driver on its own task: ops in, events out.
struct Driven {
    ops: mpsc::UnboundedSender<Op>,
    events: mpsc::UnboundedReceiver<Event>,
    core: tokio::task::JoinHandle<()>,
    models: Vec<(String, String)>,
}

impl Driven {
    fn start(session: Session) -> Self {
        let models = model_names(&session.backend.catalog);
        let (ops, op_rx) = mpsc::unbounded_channel();
        let (ev_tx, events) = mpsc::unbounded_channel();
        let core = tokio::spawn(codeforge::core::drive(session, None, op_rx, ev_tx));
        Self {
            ops,
            events,
            core,
            models,
        }
    }

    fn app(&self) -> App {
        App::new(
            Theme::dark(false),
            Keymap::default(),
            false,
            self.models.clone(),
        )
    }

    fn send(&self, op: Op) {
        self.ops.send(op).unwrap();
    }

    /// The app's commands for the core, sent on.
    fn forward(&self, cmds: Vec<Command>) {
        for c in cmds {
            if let Command::Core(op) = c {
                self.send(op);
            }
        }
    }

    async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(10), self.events.recv())
            .await
            .expect("no event from the driver")
            .unwrap()
    }

    /// Events until `pick` takes one.
    async fn until<T>(&mut self, mut pick: impl FnMut(Event) -> Option<T>) -> T {
        loop {
            if let Some(t) = pick(self.next().await) {
                return t;
            }
        }
    }

    fn submit(&self, turn: u64, text: &str) {
        self.send(Op::Submit {
            turn: codeforge::core::TurnId(turn),
            text: text.into(),
            choice: Choice::Auto,
        });
    }

    /// Ask `text` as turn `turn` and wait for its answer.
    async fn answer(&mut self, turn: u64, text: &str) -> codeforge::core::TurnOutcome {
        self.submit(turn, text);
        self.until(|e| match e {
            Event::Finished { outcome, .. } => Some(outcome),
            _ => None,
        })
        .await
    }

    /// Ask `text` as turn `turn` and return the router's decision for it.
    async fn decision(&mut self, turn: u64, text: &str) -> RouteCard {
        self.submit(turn, text);
        self.until(|e| match e {
            Event::Routed { turn: t, card } if t.0 == turn => Some(card),
            _ => None,
        })
        .await
    }

    /// The id of the most recent conversation in the ledger.
    async fn last_conversation(&mut self) -> i64 {
        self.send(Op::ListConversations);
        self.until(|e| match e {
            Event::Conversations(list) => Some(list[0].id),
            _ => None,
        })
        .await
    }

    async fn quit(self) {
        self.send(Op::Quit);
        self.core.await.unwrap();
    }
}

fn press(app: &mut App, code: KeyCode, modifiers: KeyModifiers) -> Vec<Command> {
    app.on_key(KeyEvent::new(code, modifiers))
}

/// Type `text` and press Enter.
fn enter(app: &mut App, text: &str) -> Vec<Command> {
    for ch in text.chars() {
        press(app, KeyCode::Char(ch), KeyModifiers::NONE);
    }
    press(app, KeyCode::Enter, KeyModifiers::NONE)
}

fn screen(app: &mut App, w: u16, h: u16) -> String {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(w, h)).unwrap();
    t.draw(|f| codeforge::tui::ui::render(f, app)).unwrap();
    t.backend().to_string()
}

#[tokio::test]
async fn the_tui_shows_a_router_refusal_and_takes_the_next_prompt() {
    // So small that no model can be afforded: the router itself refuses.
    let r = rig(|c| c.budget.daily_usd = 0.000_01).await;
    let mut d = Driven::start(r.session);
    let mut app = d.app();
    d.forward(enter(&mut app, "hi"));
    loop {
        let ev = d.next().await;
        let failed = matches!(ev, Event::Failed { .. });
        app.on_core(ev);
        if failed {
            break;
        }
    }
    let shown = screen(&mut app, 100, 30);
    assert!(shown.contains("left today"), "{shown}");
    assert!(!shown.contains("routing…"), "{shown}");
    // The next prompt is sent, not refused as "still streaming".
    let cmds = enter(&mut app, "again");
    assert!(
        matches!(&cmds[..], [Command::Core(Op::Submit { .. })]),
        "{cmds:?}"
    );
    d.quit().await;
}

/// Ask `prompt`, send `after(request id)`, then ask `next`: its decision.
async fn decision_after(
    session: Session,
    prompt: &str,
    after: impl Fn(i64) -> Vec<Op>,
    next: &str,
) -> RouteCard {
    let mut d = Driven::start(session);
    let request = d.answer(1, prompt).await.request_id;
    for op in after(request) {
        d.send(op);
    }
    let decision = d.decision(2, next).await;
    d.quit().await;
    decision
}

#[tokio::test]
async fn rating_one_answer_again_replaces_its_rating_instead_of_adding_one() {
    const PROMPT: &str = "explain how a hash map handles collisions";
    const NEXT: &str = "explain what a mutex is";
    let ratings = |ups: &'static [bool]| {
        move |request_id| {
            ups.iter()
                .map(|&up| Op::Feedback { request_id, up })
                .collect::<Vec<_>>()
        }
    };
    let fit = |d: &RouteCard, model: &str| {
        let c = d.candidate(model).unwrap();
        (c.fit, c.ratings)
    };
    // Once, five times, and up then down: each leaves one 👎 on the answer.
    let once = rig(|_| {}).await;
    let d = decision_after(once.session, PROMPT, ratings(&[false]), NEXT).await;
    let model = once.sim.completions()[0].body.as_ref().unwrap()["model"]
        .as_str()
        .unwrap()
        .to_string();
    let expected = fit(&d, &model);
    assert_eq!(expected.1, 1.0, "one rating behind the estimate");
    for ups in [&[false; 5][..], &[true, false][..]] {
        let r = rig(|_| {}).await;
        let d = decision_after(r.session, PROMPT, ratings(ups), NEXT).await;
        assert_eq!(fit(&d, &model), expected, "{ups:?}");
    }
}

#[tokio::test]
async fn a_resumed_answer_keeps_its_route_card_and_can_be_rated() {
    let r = rig(|_| {}).await;
    let mut d = Driven::start(r.session);
    d.submit(1, "write a rust function that adds two numbers");
    let mut decision = None;
    let outcome = d
        .until(|e| match e {
            Event::Routed { card, .. } => {
                decision = Some(card);
                None
            }
            Event::Finished { outcome, .. } => Some(outcome),
            _ => None,
        })
        .await;
    let id = d.last_conversation().await;
    d.send(Op::Resume(id));
    let messages = d
        .until(|e| match e {
            Event::ConversationLoaded { messages, .. } => Some(messages),
            _ => None,
        })
        .await;
    let mut app = d.app();
    d.quit().await;
    // The ledger gives back the decision and the outcome the turn had.
    let answer = &messages[1];
    assert_eq!(answer.card, decision);
    let resumed = answer.outcome.as_ref().unwrap();
    assert_eq!(resumed.request_id, outcome.request_id);
    assert_eq!(resumed.served_model, outcome.served_model);
    assert_eq!(resumed.cost, outcome.cost);
    assert_eq!(resumed.completion_tokens, outcome.completion_tokens);
    // In the app: the route card as before, and Alt-Up rates that request.
    app.on_core(Event::ConversationLoaded {
        id: Some(id),
        messages,
    });
    let shown = screen(&mut app, 120, 60);
    assert!(
        shown.contains("◆ kimi-k2 · code / ") && shown.contains("cheaper and faster than grok-4"),
        "{shown}"
    );
    assert_eq!(
        press(&mut app, KeyCode::Up, KeyModifiers::ALT),
        vec![Command::Core(Op::Feedback {
            request_id: outcome.request_id,
            up: true
        })]
    );
}

#[tokio::test]
async fn a_repeated_rating_says_it_was_already_recorded() {
    let r = rig(|_| {}).await;
    let mut d = Driven::start(r.session);
    let request_id = d.answer(1, "what is a mutex?").await.request_id;
    let mut notices = Vec::new();
    for up in [false, false, true] {
        d.send(Op::Feedback { request_id, up });
        notices.push(
            d.until(|e| match e {
                Event::Notice(t) => Some(t),
                _ => None,
            })
            .await,
        );
    }
    d.quit().await;
    assert_eq!(
        notices,
        [
            "👎 recorded for the last answer",
            "👎 was already recorded",
            "👍 recorded for the last answer (replaces 👎)"
        ]
    );
}

#[tokio::test]
async fn another_process_s_limit_and_ratings_reach_the_running_session() {
    use codeforge::core::DAILY_LIMIT_KEY;
    use codeforge::ledger::Ledger;
    use codeforge::money::Usd;
    let r = rig(|_| {}).await;
    let path = r.session.config.paths.ledger_file();
    let mut d = Driven::start(r.session);
    let first = d
        .answer(1, "explain how a hash map handles collisions")
        .await;
    let (request_id, model) = (first.request_id, first.requested_model);
    // `codeforge budget --daily 0.5` and `codeforge feedback <id> down`, from elsewhere.
    let mut other = Ledger::open(&path).unwrap();
    other.set_setting(DAILY_LIMIT_KEY, "0.5").unwrap();
    other
        .set_feedback(request_id, false, codeforge::calendar::now_ms())
        .unwrap();
    drop(other);
    // The idle session notices within a couple of seconds: the gauge shows the new limit.
    let limit = tokio::time::timeout(codeforge::core::SYNC_EVERY * 3, async {
        d.until(|e| match e {
            Event::Budget(b) if b.limits.daily == Usd::from_dollars(0.5) => Some(b.limits.daily),
            _ => None,
        })
        .await
    })
    .await
    .expect("the new limit never reached the session");
    assert_eq!(limit, Usd::from_dollars(0.5));
    // And the next decision counts the rating.
    let decision = d.decision(2, "explain what a mutex is").await;
    d.quit().await;
    let c = decision.candidate(&model).unwrap();
    assert_eq!(c.ratings, 1.0);
}

#[tokio::test]
async fn an_open_circuit_is_shown_counting_down_while_idle() {
    use codeforge::simulator::Fault;
    let r = rig(|_| {}).await;
    r.sim.fail(
        "anthropic/claude-sonnet-4",
        Fault::Status {
            code: 503,
            retry_after: None,
        },
    );
    let mut d = Driven::start(r.session);
    for turn in 1..=3 {
        d.send(Op::Submit {
            turn: codeforge::core::TurnId(turn),
            text: "write a function".into(),
            choice: Choice::Override("claude-sonnet-4".into()),
        });
        d.until(|e| matches!(e, Event::Failed { .. }).then_some(()))
            .await;
    }
    // Nothing else happens; the sidebar's breaker line still comes, from the idle timer.
    let state = tokio::time::timeout(codeforge::core::SYNC_EVERY * 3, async {
        d.until(|e| match e {
            Event::Budget(b) => b
                .breakers
                .into_iter()
                .find(|(m, _)| m == "anthropic/claude-sonnet-4")
                .map(|(_, s)| s),
            _ => None,
        })
        .await
    })
    .await
    .expect("no budget update while idle");
    assert!(
        matches!(state, codeforge::core::protocol::BreakerState::Open { for_secs } if for_secs <= 30),
        "{state}"
    );
    d.quit().await;
    drop(r.sim);
}

#[tokio::test]
async fn a_history_larger_than_every_window_is_trimmed_and_the_card_says_so() {
    use codeforge::provider::Message;
    let mut r = rig(|_| {}).await;
    // Two old turns of ~700k tokens each: more than any model's window together.
    let big = "lorem ipsum ".repeat(233_000);
    r.session.conversation.messages = vec![
        Message::user(big.clone()),
        Message::assistant(big.clone()),
        Message::user(big.clone()),
        Message::assistant(big),
    ];
    let mut d = Driven::start(r.session);
    let mut app = d.app();
    d.forward(enter(&mut app, "now summarise what we discussed"));
    let mut trimmed = None;
    loop {
        let ev = d.next().await;
        if let Event::Reserved {
            history_trimmed, ..
        } = &ev
        {
            trimmed = Some(*history_trimmed);
        }
        let done = matches!(ev, Event::Finished { .. } | Event::Failed { .. });
        app.on_core(ev);
        if done {
            break;
        }
    }
    d.quit().await;
    let trimmed = trimmed.expect("the request was refused instead of trimmed");
    assert!(trimmed >= 2, "{trimmed}");
    let shown = screen(&mut app, 140, 40);
    assert!(
        shown.contains(&format!("{trimmed} oldest messages left out to fit")),
        "{shown}"
    );
}

#[tokio::test]
async fn a_new_conversation_drops_the_thread_and_a_resumed_one_restores_it() {
    let r = rig(|_| {}).await;
    let mut d = Driven::start(r.session);
    d.answer(1, "write a rust function that adds two numbers")
        .await;
    // In the thread, a short continuation keeps the code intent.
    let follow = d.decision(2, "now make it faster").await;
    assert_eq!(follow.intent, Intent::Code, "{}", follow.reason);
    assert!(follow.reason.contains("follow-up"), "{}", follow.reason);
    d.until(|e| matches!(e, Event::Finished { .. }).then_some(()))
        .await;
    let id = d.last_conversation().await;
    // Ctrl-N: the same words stand alone.
    d.send(Op::NewConversation);
    d.until(|e| matches!(e, Event::ConversationLoaded { .. }).then_some(()))
        .await;
    let alone = d.decision(3, "now make it faster").await;
    assert!(!alone.reason.contains("follow-up"), "{}", alone.reason);
    assert_ne!(alone.intent, Intent::Code, "{}", alone.reason);
    d.until(|e| matches!(e, Event::Finished { .. }).then_some(()))
        .await;
    // Resuming the first conversation restores its thread.
    d.send(Op::Resume(id));
    d.until(|e| matches!(e, Event::ConversationLoaded { .. }).then_some(()))
        .await;
    let resumed = d.decision(4, "now make it faster").await;
    assert_eq!(resumed.intent, Intent::Code, "{}", resumed.reason);
    d.quit().await;
}

#[tokio::test]
async fn slash_export_writes_the_running_conversation_as_markdown() {
    let r = rig(|_| {}).await;
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("talk.md");
    let mut d = Driven::start(r.session);
    let mut app = d.app();
    // Before anything was asked there is nothing to export.
    d.forward(enter(&mut app, &format!("/export {}", file.display())));
    let said = d
        .until(|e| match e {
            Event::Error(m) => Some(m),
            _ => None,
        })
        .await;
    assert!(said.contains("nothing to export yet"), "{said}");
    d.answer(1, "write a rust function that adds two numbers")
        .await;
    d.forward(enter(&mut app, &format!("/export {}", file.display())));
    let said = d
        .until(|e| match e {
            Event::Notice(m) if m.starts_with("wrote") => Some(m),
            _ => None,
        })
        .await;
    d.quit().await;
    assert!(said.ends_with(&format!("to {}", file.display())), "{said}");
    let md = std::fs::read_to_string(&file).unwrap();
    assert!(
        md.contains("## You\n\nwrite a rust function that adds two numbers\n"),
        "{md}"
    );
    assert!(md.contains("### moonshotai/kimi-k2 · code · "), "{md}");
    assert!(md.contains("pub fn add(a: i64, b: i64) -> i64"), "{md}");
}

#[tokio::test]
async fn an_at_file_reaches_the_server_byte_for_byte_with_the_edit_format_and_its_edit_applies() {
    let r = rig(|_| {}).await;
    let proj = tempfile::tempdir().unwrap();
    let text = "def total(xs):\n    return sum(xs)  \t# trailing whitespace kept\n";
    std::fs::write(proj.path().join("calc.py"), text).unwrap();
    let sim = r.sim;
    let mut d = Driven::start(r.session);
    let mut app = d.app();
    app.root = proj.path().to_path_buf();
    d.forward(enter(&mut app, "rename total to grand_total in @calc.py"));
    let outcome = d
        .until(|e| match e {
            Event::Finished { outcome, .. } => Some(outcome),
            _ => None,
        })
        .await;
    let body = sim.completions().pop().unwrap().body.unwrap();
    let msgs = body["messages"].as_array().unwrap();
    assert!(
        msgs[0]["content"]
            .as_str()
            .unwrap()
            .contains("<<<<<<< SEARCH")
    );
    let sent = msgs.last().unwrap()["content"].as_str().unwrap();
    assert!(
        sent.ends_with(&format!(
            "calc.py:\n```python\n{}\n```",
            text.trim_end_matches('\n')
        )),
        "{sent}"
    );
    // The simulator's answer holds the edit; reviewed in the app, applied with y.
    app.on_core(Event::Finished {
        turn: codeforge::core::TurnId(1),
        outcome,
    });
    d.quit().await;
    assert!(screen(&mut app, 100, 24).contains("Edit 1/1 · calc.py (+1 −1)"));
    press(&mut app, KeyCode::Char('y'), KeyModifiers::NONE);
    assert_eq!(
        std::fs::read_to_string(proj.path().join("calc.py")).unwrap(),
        text.replace("def total", "def grand_total")
    );
}

#[tokio::test]
async fn the_core_refuses_a_daily_limit_out_of_range_and_keeps_the_one_set() {
    use codeforge::money::Usd;
    let r = rig(|_| {}).await;
    let mut d = Driven::start(r.session);
    // `/budget -1` or `/budget 1e12` from the TUI reaches the core as it was typed.
    d.send(Op::SetDailyLimit(-1.0));
    let said = d
        .until(|e| match e {
            Event::Error(m) => Some(m),
            _ => None,
        })
        .await;
    assert!(said.contains("from $0 up to"), "{said}");
    d.send(Op::SetDailyLimit(f64::NAN));
    d.until(|e| matches!(e, Event::Error(_)).then_some(()))
        .await;
    // A valid one is taken, and the gauge shows it.
    d.send(Op::SetDailyLimit(2.5));
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        d.until(|e| match e {
            Event::Budget(b) if b.limits.daily == Usd::from_dollars(2.5) => Some(()),
            _ => None,
        })
        .await
    })
    .await
    .expect("the valid limit never reached the gauge");
    d.quit().await;
}
