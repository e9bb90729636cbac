//! End to end: the real binary in tmux against the built-in simulator. Types a prompt,
//! waits for the answer, pins the model with Ctrl-P, sends another prompt, quits, and
//! checks the screen and the ledger.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

impl Tmux {
    fn send(&self, keys: &[&str]) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.session])
            .args(keys)
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn type_text(&self, text: &str) {
        let status = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", text])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Wait until the screen contains `needle`; a generous bound, only to avoid hanging.
    fn wait_for(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(needle) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {needle:?}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn tmux_available() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn requests(home: &Path) -> Vec<(String, String, String)> {
    let conn = rusqlite::Connection::open(home.join("ledger.db")).unwrap();
    let mut stmt = conn
        .prepare("SELECT requested_model, routed_by, status FROM requests ORDER BY id")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn tui_answers_pins_and_records_in_the_ledger() {
    if !tmux_available() {
        // CI installs tmux (.ci/run); there its absence is a failure, not a skip.
        assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
        eprintln!("tmux not installed: skipping the end-to-end test");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_codeforge");
    let t = start_tmux(
        "tui",
        &format!(
            "env -u OPENROUTER_API_KEY CODEFORGE_HOME={} {bin} --demo; sleep 30",
            home.path().display()
        ),
    );

    t.wait_for("DEMO");
    t.type_text("write a rust function that adds two numbers");
    t.send(&["Enter"]);
    // The route card shows the actual cost once the answer is settled.
    let s = t.wait_for("→ $");
    assert!(s.contains("Edge cases"), "{s}");
    assert!(
        s.contains("◆ kimi-k2 · code / ") && s.contains("cheaper and faster than grok-4"),
        "{s}"
    );
    assert!(s.contains("│ pub fn add(a: i64, b: i64) -> i64 {"), "{s}");
    assert!(!s.contains("held)"), "the reservation is released: {s}");

    t.send(&["C-p"]);
    t.wait_for("PINNED kimi-k2");
    t.type_text("design a url shortener that handles 100k writes per second across three regions");
    t.send(&["Enter"]);
    let s = t.wait_for("Trade-offs");
    assert!(s.contains("pinned by you (router would pick o3)"), "{s}");
    assert!(s.contains("PINNED kimi-k2"), "the pin holds: {s}");
    // Wait until the second answer is settled (the status bar is idle again) before quitting.
    let start = Instant::now();
    while !t.screen().contains("F1 help ·") {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "second answer never settled"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    t.send(&["C-c"]);
    // The process exits and the shell sleeps: the app's screen is gone.
    let start = Instant::now();
    while t.screen().contains("PINNED") {
        assert!(start.elapsed() < Duration::from_secs(20), "did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }

    let rows = requests(home.path());
    assert_eq!(
        rows,
        vec![
            (
                "moonshotai/kimi-k2".to_string(),
                "auto".to_string(),
                "ok".to_string()
            ),
            (
                "moonshotai/kimi-k2".to_string(),
                "pinned".to_string(),
                "ok".to_string()
            ),
        ]
    );
}

#[test]
fn continue_resumes_the_last_conversation() {
    if !tmux_available() {
        assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_codeforge");
    // One answered question through the headless path stores a conversation.
    let out = Command::new(bin)
        .env("CODEFORGE_HOME", home.path())
        .env_remove("OPENROUTER_API_KEY")
        .args(["ask", "--demo", "explain what a mutex is"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // ask records its exchange too; --continue shows it.
    let t = start_tmux(
        "cont",
        &format!(
            "env -u OPENROUTER_API_KEY CODEFORGE_HOME={} {bin} --demo --continue; sleep 30",
            home.path().display()
        ),
    );
    let s = t.wait_for("explain what a mutex is");
    assert!(s.contains("in short"), "the stored answer is shown: {s}");
    t.send(&["C-c"]);
}

fn start_tmux(name: &str, cmd: &str) -> Tmux {
    let session = format!("cf-e2e-{name}-{}", std::process::id());
    let status = Command::new("tmux")
        .args([
            "new-session",
            "-d",
            "-s",
            &session,
            "-x",
            "120",
            "-y",
            "40",
            cmd,
        ])
        .status()
        .unwrap();
    assert!(status.success());
    Tmux { session }
}

/// The highest "Line N" on the screen.
fn last_line_number(screen: &str) -> usize {
    screen
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("Line ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .max()
        .unwrap_or(0)
}

#[test]
fn scrolled_up_during_a_stream_the_top_line_stays_and_end_follows_again() {
    if !tmux_available() {
        assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_codeforge");
    // A simulator that answers every model with 2,000 numbered lines, 25 a second.
    let mut sim = Command::new(bin);
    sim.env("CODEFORGE_HOME", home.path()).args([
        "simulate",
        "--port",
        "0",
        "--ttft-ms",
        "0",
        "--tps",
        "25",
    ]);
    for m in [
        "x-ai/grok-4",
        "anthropic/claude-sonnet-4",
        "moonshotai/kimi-k2",
        "google/gemini-2.5-flash",
        "openai/o3",
    ] {
        sim.args(["--fault", &format!("{m}=lines:2000")]);
    }
    let mut sim = sim.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let url = {
        use std::io::BufRead;
        let mut first = String::new();
        std::io::BufReader::new(sim.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        first
            .trim()
            .strip_prefix("simulator listening on ")
            .unwrap()
            .to_string()
    };
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
        }
    }
    let _sim = Kill(sim);
    let t = start_tmux(
        "scroll",
        &format!(
            "env OPENROUTER_API_KEY=sk-test OPENROUTER_BASE_URL={url} CODEFORGE_HOME={} {bin}; sleep 30",
            home.path().display()
        ),
    );
    t.wait_for("Ask");
    t.type_text("tell me a long story");
    t.send(&["Enter"]);
    t.wait_for("Line 60 of");
    t.send(&["PPage"]);
    let top = |s: &str| s.lines().take(5).collect::<Vec<_>>().join("\n");
    let first = t.wait_for("End follows");
    // Tokens keep arriving; what is being read does not move.
    std::thread::sleep(Duration::from_millis(1500));
    let later = t.screen();
    assert_eq!(
        top(&later),
        top(&first),
        "the text being read moved:\n{later}"
    );
    let count = |s: &str| -> usize {
        s.lines()
            .find_map(|l| l.split("↓ ").nth(1)?.split(' ').next()?.parse().ok())
            .unwrap_or(0)
    };
    assert!(
        count(&later) > count(&first),
        "new lines are counted:\n{first}\n---\n{later}"
    );
    // End: back to the bottom, following the stream again.
    let seen = last_line_number(&later);
    t.send(&["End"]);
    std::thread::sleep(Duration::from_millis(300));
    let a = t.screen();
    std::thread::sleep(Duration::from_millis(800));
    let b = t.screen();
    assert!(!b.contains("End follows"), "{b}");
    assert!(last_line_number(&a) > seen, "{a}");
    assert!(
        last_line_number(&b) > last_line_number(&a),
        "following:\n{b}"
    );
    t.send(&["Escape"]);
}

#[test]
fn ask_renders_markdown_on_a_terminal_and_stays_raw_in_a_pipe() {
    if !tmux_available() {
        assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_codeforge");
    let prompt = "write a rust function that adds two numbers";
    let t = start_tmux(
        "ask",
        &format!(
            "env -u OPENROUTER_API_KEY CODEFORGE_HOME={} {bin} ask --demo '{prompt}'; echo EXIT-$?; sleep 30",
            home.path().display()
        ),
    );
    let s = t.wait_for("EXIT-");
    assert!(s.contains("EXIT-0"), "{s}");
    assert!(s.contains("╭─ rust"), "rendered on a terminal: {s}");
    assert!(s.contains("│ pub fn add(a: i64, b: i64) -> i64 {"), "{s}");
    assert!(!s.contains("```"), "{s}");
    // Piped: the Markdown as written.
    let out = Command::new(bin)
        .env("CODEFORGE_HOME", home.path())
        .env_remove("OPENROUTER_API_KEY")
        .args(["ask", "--demo", prompt])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("```rust"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
    // No prompt and a terminal on stdin: a usage line at once, not a silent wait.
    let t = start_tmux(
        "ask-empty",
        &format!(
            "env -u OPENROUTER_API_KEY CODEFORGE_HOME={} {bin} ask --demo; echo EXIT-$?; sleep 30",
            home.path().display()
        ),
    );
    let s = t.wait_for("EXIT-");
    assert!(s.contains("EXIT-2"), "{s}");
    assert!(s.contains("pass it as an argument or on stdin"), "{s}");
}

#[test]
fn the_editor_gets_every_key_typed_into_it_and_the_tui_gets_them_back_after() {
    if !tmux_available() {
        assert!(std::env::var_os("CI").is_none(), "tmux is required in CI");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    // An "editor" that reads one line from the terminal and saves it as the message: a key
    // the TUI's own input reader took meanwhile would be missing from it.
    let editor = home.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'EDITOR OPEN> '\nIFS= read -r line\nprintf '%s' \"$line\" > \"$1\"\n",
    )
    .unwrap();
    std::process::Command::new("chmod")
        .args(["+x", editor.to_str().unwrap()])
        .status()
        .unwrap();
    let bin = env!("CARGO_BIN_EXE_codeforge");
    let t = start_tmux(
        "editor",
        &format!(
            "env -u OPENROUTER_API_KEY -u VISUAL CODEFORGE_HOME={} EDITOR={} {bin} --demo; sleep 30",
            home.path().display(),
            editor.display()
        ),
    );
    t.wait_for("DEMO");
    t.send(&["C-g"]);
    t.wait_for("EDITOR OPEN>");
    let typed = "every single key of this line reaches the editor 0123456789";
    t.type_text(typed);
    t.send(&["Enter"]);
    // Back in the TUI with the edited message in the input; keys reach the TUI again.
    // The editor's own line holds the text too: wait for the TUI's frame to replace it.
    let start = Instant::now();
    loop {
        let s = t.screen();
        if s.contains(typed) && s.contains("DEMO") && !s.contains("EDITOR OPEN>") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the TUI did not come back after the editor; screen:\n{s}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    t.type_text(" and back");
    let s = t.wait_for("and back");
    assert!(s.contains(&format!("{typed} and back")), "{s}");
    t.send(&["C-c"]);
}
