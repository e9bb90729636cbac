//! Edits from the command line, through the real binary against the simulator: `ask -f`
//! shows the answer's edits as diffs and writes nothing; `apply` writes them (refusing a
//! file changed in between); `undo` takes them back; `ask --apply` does it at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use codeforge::catalog::Catalog;
use codeforge::simulator::{Behaviour, Simulator};

const LIB: &str = "pub fn total(xs: &[i64]) -> i64 {\n    xs.iter().sum()\n}\n\npub fn twice(xs: &[i64]) -> i64 {\n    2 * total(xs)\n}\n";

struct Ran {
    code: Option<i32>,
    stderr: String,
}

async fn run(home: &Path, project: &Path, url: &str, args: &[&str]) -> Ran {
    let mut c = common::codeforge(home);
    c.env("OPENROUTER_BASE_URL", url)
        .env("OPENROUTER_API_KEY", "k")
        .current_dir(project)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = tokio::time::timeout(Duration::from_secs(60), c.output())
        .await
        .expect("codeforge hung")
        .unwrap();
    Ran {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The simulator, a home for CodeForge's state, and a project with `src/lib.rs`.
async fn start() -> (Simulator, tempfile::TempDir, tempfile::TempDir) {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    (sim, tempfile::tempdir().unwrap(), project())
}

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/lib.rs"), LIB).unwrap();
    dir
}

#[tokio::test]
async fn an_edit_is_previewed_applied_and_undone_and_never_written_unasked() {
    let (sim, home, proj) = start().await;
    let lib = proj.path().join("src/lib.rs");
    let ask = ["ask", "-f", "src/lib.rs", "rename total to sum_all"];
    let r = run(home.path(), proj.path(), &sim.url(), &ask).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    // The model was told the edit format, in the system prompt.
    let body = sim.completions().pop().unwrap().body.unwrap();
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("<<<<<<< SEARCH")
    );
    // Both lines holding the name are proposed, as diffs; nothing is written yet.
    assert!(
        r.stderr.contains("proposed edit to src/lib.rs (+2 −2)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("+pub fn sum_all(xs: &[i64]) -> i64 {"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("+    2 * sum_all(xs)"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), LIB);
    let r = run(home.path(), proj.path(), &sim.url(), &["apply", "--show"]).await;
    assert!(r.stderr.contains("-pub fn total"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), LIB);
    // Applied, then undone.
    let r = run(home.path(), proj.path(), &sim.url(), &["apply"]).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let renamed = LIB.replace("total", "sum_all");
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), renamed);
    // A second change on top (`ask --apply`): undo takes the newest back first.
    let ask = [
        "ask",
        "--apply",
        "-f",
        "src/lib.rs",
        "rename twice to double",
    ];
    let r = run(home.path(), proj.path(), &sim.url(), &ask).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&lib).unwrap(),
        renamed.replace("twice", "double")
    );
    let r = run(home.path(), proj.path(), &sim.url(), &["undo"]).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("1 more to undo"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), renamed);
    run(home.path(), proj.path(), &sim.url(), &["undo"]).await;
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), LIB);
    let r = run(home.path(), proj.path(), &sim.url(), &["undo"]).await;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("nothing to undo"), "{}", r.stderr);
    // Nothing waits any more.
    let r = run(home.path(), proj.path(), &sim.url(), &["apply"]).await;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("no edits are waiting"), "{}", r.stderr);
}

#[tokio::test]
async fn a_file_changed_since_the_answer_is_not_overwritten() {
    let (sim, home, proj) = start().await;
    let lib = proj.path().join("src/lib.rs");
    let ask = ["ask", "-f", "src/lib.rs", "rename twice to double"];
    let r = run(home.path(), proj.path(), &sim.url(), &ask).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let hand = format!("{LIB}// edited by hand meanwhile\n");
    std::fs::write(&lib, &hand).unwrap();
    let r = run(home.path(), proj.path(), &sim.url(), &["apply"]).await;
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("changed since the edit was proposed"),
        "{}",
        r.stderr
    );
    assert_eq!(std::fs::read_to_string(&lib).unwrap(), hand);
    // `ask --apply` writes at once, from the file as it is now.
    let ask = [
        "ask",
        "--apply",
        "-f",
        "src/lib.rs",
        "rename twice to double",
    ];
    let r = run(home.path(), proj.path(), &sim.url(), &ask).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("applied src/lib.rs"), "{}", r.stderr);
    assert_eq!(
        std::fs::read_to_string(&lib).unwrap(),
        hand.replace("twice", "double")
    );
}

#[tokio::test]
async fn the_repositorys_agents_md_and_the_configs_system_prompt_are_the_system_prompt() {
    let (sim, home, proj) = start().await;
    std::fs::create_dir(proj.path().join(".git")).unwrap();
    std::fs::write(
        proj.path().join("AGENTS.md"),
        "Always answer in British English.\n",
    )
    .unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "system_prompt = \"Prefer the standard library.\"\n",
    )
    .unwrap();
    // From a directory below the repository's root.
    let r = run(
        home.path(),
        &proj.path().join("src"),
        &sim.url(),
        &["ask", "hi there"],
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(
        r.stderr.contains("project instructions from")
            && r.stderr.contains("AGENTS.md (~9 tokens)"),
        "{}",
        r.stderr
    );
    let body = sim.completions().pop().unwrap().body.unwrap();
    let system = body["messages"][0]["content"].as_str().unwrap();
    assert!(
        system.starts_with(codeforge::core::SYSTEM_PROMPT),
        "{system}"
    );
    assert!(
        system.ends_with("Prefer the standard library.\n\nThe project's instructions (AGENTS.md), to follow:\nAlways answer in British English."),
        "{system}"
    );
    assert_eq!(body["messages"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn export_writes_the_conversation_as_markdown_with_a_card_line_per_answer() {
    let (sim, home, proj) = start().await;
    let r = run(home.path(), proj.path(), &sim.url(), &["export"]).await;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("no conversation yet"), "{}", r.stderr);
    let r = run(
        home.path(),
        proj.path(),
        &sim.url(),
        &["ask", "what is 12 * 7?"],
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run(
        home.path(),
        proj.path(),
        &sim.url(),
        &["ask", "-c", "and 12 * 8?"],
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let r = run(
        home.path(),
        proj.path(),
        &sim.url(),
        &["export", "-o", "talk.md"],
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let md = std::fs::read_to_string(proj.path().join("talk.md")).unwrap();
    assert!(
        md.starts_with(
            "# what is 12 * 7?\n\n*CodeForge conversation 1*\n\n## You\n\nwhat is 12 * 7?\n\n### "
        ),
        "{md}"
    );
    assert_eq!(md.matches("## You").count(), 2, "{md}");
    assert!(
        md.contains("12 × 7 = 84") && md.contains("\n\nand 12 * 8?\n"),
        "{md}"
    );
    // Each answer's card: the model, intent · complexity, cost, latency.
    let cards: Vec<&str> = md.lines().filter(|l| l.starts_with("### ")).collect();
    assert_eq!(cards.len(), 2, "{md}");
    assert!(
        cards
            .iter()
            .all(|c| c.split(" · ").count() == 5 && c.contains(" · $") && c.ends_with(" ms")),
        "{cards:?}"
    );
    let r = run(home.path(), proj.path(), &sim.url(), &["export", "9"]).await;
    assert_eq!(r.code, Some(2));
    assert!(r.stderr.contains("no conversation 9"), "{}", r.stderr);
}

#[tokio::test]
async fn ask_role_uses_the_roles_prompt_and_model_and_an_unknown_role_is_named() {
    let (sim, home, proj) = start().await;
    std::fs::write(
        home.path().join("config.toml"),
        "[roles.reviewer]\nsystem_prompt = \"Review strictly.\"\nmodel = \"openai/o3\"\n",
    )
    .unwrap();
    let r = run(
        home.path(),
        proj.path(),
        &sim.url(),
        &["ask", "--role", "reviewer", "hi"],
    )
    .await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let body = sim.completions().pop().unwrap().body.unwrap();
    assert_eq!(body["model"], "openai/o3");
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .ends_with("\n\nReview strictly.")
    );
    let r = run(
        home.path(),
        proj.path(),
        &sim.url(),
        &["ask", "--role", "poet", "hi"],
    )
    .await;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr
            .contains("no role `poet` in the config; roles: reviewer"),
        "{}",
        r.stderr
    );
    // A role's preference out of range is the config's error, with file and line.
    std::fs::write(
        home.path().join("config.toml"),
        "[roles.x]\npreference = 11\n",
    )
    .unwrap();
    let r = run(home.path(), proj.path(), &sim.url(), &["ask", "hi"]).await;
    assert_eq!(r.code, Some(2));
    assert!(
        r.stderr.contains("roles.x.preference") && r.stderr.contains("11 is out of range"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn in_a_git_repository_applying_says_which_files_git_now_shows_modified() {
    let (sim, home, proj) = start().await;
    let git = |args: &[&str]| {
        let ok = std::process::Command::new("git")
            .arg("-C")
            .arg(proj.path())
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .output()
            .expect("git is needed for this test")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "start"]);
    let ask = [
        "ask",
        "--apply",
        "-f",
        "src/lib.rs",
        "rename twice to double",
    ];
    let r = run(home.path(), proj.path(), &sim.url(), &ask).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(r.stderr.contains("git: M src/lib.rs"), "{}", r.stderr);
}

#[tokio::test]
async fn big_attachments_are_sent_only_when_the_user_says_whole_or_trimmed() {
    let (sim, home, proj) = start().await;
    std::fs::write(
        home.path().join("config.toml"),
        "attach_confirm_tokens = 20\n",
    )
    .unwrap();
    let ask = |extra: &'static str| {
        let mut a = vec!["ask", "-f", "src/lib.rs"];
        if !extra.is_empty() {
            a.push(extra);
        }
        a.push("review this");
        a
    };
    let r = run(home.path(), proj.path(), &sim.url(), &ask("")).await;
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("over attach_confirm_tokens (20)"),
        "{}",
        r.stderr
    );
    assert!(sim.completions().is_empty(), "nothing was sent");
    let sent = || {
        let body = sim.completions().pop().unwrap().body.unwrap();
        body["messages"].as_array().unwrap().last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let r = run(home.path(), proj.path(), &sim.url(), &ask("--trim")).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let trimmed = sent();
    assert!(trimmed.contains("more lines left out]"), "{trimmed}");
    assert!(!trimmed.contains("2 * total(xs)"), "{trimmed}");
    let r = run(home.path(), proj.path(), &sim.url(), &ask("--whole")).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(sent().contains(LIB.trim_end()));
}

#[tokio::test]
async fn stats_give_time_to_first_token_beside_the_whole_answers_latency() {
    let (sim, home, proj) = start().await;
    let r = run(home.path(), proj.path(), &sim.url(), &["ask", "hi there"]).await;
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let mut c = common::codeforge(home.path());
    c.arg("stats");
    let out = c.output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let header = text.lines().find(|l| l.starts_with("model ")).unwrap();
    assert!(
        header.contains("1st tok p50") && header.contains("p50 ms"),
        "{text}"
    );
    // The answering model's row has a number under each.
    let row = text
        .lines()
        .find(|l| l.contains("kimi-k2") || l.contains("flash"))
        .unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert!(
        cols[4].parse::<u64>().is_ok() && cols[5].parse::<u64>().is_ok(),
        "{row}"
    );
}
