//! What a long session holds: the core's driver and the TUI's app together (real key
//! events, the real driver against the loopback simulator, screens drawn on TestBackend),
//! with every heap allocation of the process counted. An answer's text is held once,
//! shared by the history the next request sends and the transcript that shows it; its
//! rendered lines are dropped once it is far from the view. So each answer adds about its
//! text and little more, however long the session.
//!
//! One test in its own binary: the allocation count is the whole process's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use codeforge::core::{Event, Op};
use codeforge::simulator::parse_fault;
use codeforge::tui::app::{App, Command};
use codeforge::tui::{keymap::Keymap, model_names, theme::Theme};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::sync::mpsc;

/// The system allocator, counting the bytes live: in the process, and by the thread that
/// allocates or frees them (the app's part is measured on the test's thread alone, not with
/// what the blocking pool's ledger calls do meanwhile).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

thread_local! {
    static MINE: Cell<isize> = const { Cell::new(0) };
}

fn count(bytes: isize) {
    LIVE.fetch_add(bytes, Ordering::Relaxed);
    // A thread being torn down has no counter left: only the process's total counts then.
    let _ = MINE.try_with(|m| m.set(m.get() + bytes));
}

// SAFETY: every call is passed to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size() as isize);
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(-(layout.size() as isize));
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size as isize - layout.size() as isize);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Bytes live that this thread allocated, less what it freed.
fn mine() -> isize {
    MINE.with(Cell::get)
}

fn screen(app: &mut App) {
    let mut t = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, 30)).unwrap();
    t.draw(|f| codeforge::tui::ui::render(f, app)).unwrap();
}

/// Type `text`, press Enter: the app's ops.
fn enter(app: &mut App, text: &str) -> Vec<Op> {
    for ch in text.chars() {
        app.on_key(KeyEvent::new(KeyCode::Char(ch), KeyModifiers::NONE));
    }
    app.on_key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))
        .into_iter()
        .filter_map(|c| match c {
            Command::Core(op) => Some(op),
            _ => None,
        })
        .collect()
}

type Ops = mpsc::UnboundedSender<Op>;
type Events = mpsc::UnboundedReceiver<Event>;

async fn next(events: &mut Events) -> Event {
    tokio::time::timeout(Duration::from_secs(30), events.recv())
        .await
        .expect("no event from the driver")
        .unwrap()
}

/// Ask `prompt` through the app and the driver: the answer's text (weakly: the test holds
/// no part of it), and the bytes the app kept while it took the answer's events.
async fn ask(
    app: &mut App,
    ops: &Ops,
    events: &mut Events,
    prompt: &str,
) -> (std::sync::Weak<str>, isize) {
    for op in enter(app, prompt) {
        ops.send(op).unwrap();
    }
    let mut kept = 0;
    loop {
        let ev = next(events).await;
        let done = match &ev {
            Event::Finished { outcome, .. } => Some(std::sync::Arc::downgrade(&outcome.content)),
            Event::Failed { message, .. } => panic!("{prompt:?} failed: {message}"),
            _ => None,
        };
        // A delta's text was allocated by the driver and is freed by the app once shown:
        // counted back, so that `kept` is what the app itself holds on to.
        let handed_over = match &ev {
            Event::Content { text, .. } | Event::Reasoning { text, .. } => text.capacity() as isize,
            _ => 0,
        };
        let before = mine();
        app.on_core(ev);
        kept += mine() - before + handed_over;
        if let Some(text) = done {
            return (text, kept);
        }
    }
}

/// Ctrl-N, and the driver's answer to it taken in and drawn.
async fn new_conversation(app: &mut App, ops: &Ops, events: &mut Events) {
    let ctrl_n = KeyEvent::new(KeyCode::Char('n'), KeyModifiers::CONTROL);
    for c in app.on_key(ctrl_n) {
        if let Command::Core(op) = c {
            ops.send(op).unwrap();
        }
    }
    loop {
        let ev = next(events).await;
        let loaded = matches!(ev, Event::ConversationLoaded { id: None, .. });
        app.on_core(ev);
        if loaded {
            break;
        }
    }
    screen(app);
}

#[tokio::test]
async fn each_answer_of_a_long_session_adds_about_its_text_once() {
    const ANSWERS: usize = 8;
    let r = common::rig(|c| c.budget.daily_usd = 200.0).await;
    // Every model answers with 6,000 tokens of markdown: prose, Rust, Python and shell
    // blocks, tables.
    for m in r.session.backend.catalog.models() {
        r.sim.set_fault(&m.id, parse_fault("code:6000").unwrap());
    }
    // As in the demo, the in-process simulator keeps no log of what it was sent (each
    // request carries the whole history: a log of them grows with the square).
    r.sim.keep_no_requests();
    let models = model_names(&r.session.backend.catalog);
    let (ops, op_rx) = mpsc::unbounded_channel();
    let (ev_tx, mut events) = mpsc::unbounded_channel();
    let core = tokio::spawn(codeforge::core::drive(r.session, None, op_rx, ev_tx));
    let mut app = App::new(Theme::dark(false), Keymap::default(), false, models);

    // A warm-up conversation of one answer: grammars compiled, caches filled, buffers
    // grown. Then a new conversation: the level a session comes back to.
    ask(&mut app, &ops, &mut events, "warm up").await;
    screen(&mut app);
    new_conversation(&mut app, &ops, &mut events).await;
    let warm = live();

    // After each answer: the live heap, and the answer's length; and what the app itself
    // kept of each answer.
    let mut after = Vec::new();
    let mut app_kept = Vec::new();
    let mut answers = Vec::new();
    for n in 0..ANSWERS {
        let prompt = format!("write part {n} of the parser, with tests");
        let (text, mut kept) = ask(&mut app, &ops, &mut events, &prompt).await;
        let text_len = text.upgrade().map_or(0, |t| t.len());
        answers.push(text);
        // Drawn, as the terminal would be: answers far above the view drop their lines.
        let before = mine();
        screen(&mut app);
        kept += mine() - before;
        app_kept.push(kept);
        after.push((live(), text_len));
    }

    let shown: Vec<_> = after.iter().map(|(l, _)| l / 1024).collect();
    let texts: isize = after.iter().map(|(_, t)| *t as isize).sum();
    let text = texts / ANSWERS as isize;
    eprintln!(
        "live KiB after each answer {shown:?}; answers of {text} bytes; kept by the app {app_kept:?}"
    );
    assert!(text > 20_000, "the answers are long ones: {text} bytes");
    // The app keeps less of each answer than the answer's text: the text itself is shared
    // with the history, not copied (a copy alone would be as large), and an answer far
    // from the view keeps no rendered lines nor where each block starts. (The first answer
    // after the warm-up is still on screen when measured.)
    for &k in &app_kept[1..] {
        assert!(
            k < text,
            "the app kept {k} bytes of an answer of {text}: {app_kept:?}"
        );
    }
    // Each answer stays in the history the next request sends: held at least once.
    let per_answer = (after[ANSWERS - 1].0 - after[0].0) / (ANSWERS as isize - 1);
    assert!(
        per_answer > text * 9 / 10,
        "{per_answer} bytes per answer of {text}"
    );

    // A new conversation lets every answer go: the history and the transcript held them.
    new_conversation(&mut app, &ops, &mut events).await;
    let alive = answers.iter().filter(|a| a.upgrade().is_some()).count();
    assert_eq!(
        alive, 0,
        "answers' texts still held after a new conversation"
    );
    // (What stays above the warm-up's level is buffers grown to the longest request,
    // the in-process simulator's read buffer among them: printed, not asserted.)
    eprintln!(
        "after a new conversation, {} KiB more than after the warm-up",
        (live() - warm) / 1024
    );

    ops.send(Op::Quit).unwrap();
    core.await.unwrap();
}
