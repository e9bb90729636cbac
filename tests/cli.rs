//! The real `codeforge` binary: `ask` (demo, JSON, any OpenRouter-compatible server,
//! failures), `models`, `config` and `simulate`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use codeforge::catalog::Catalog;
use codeforge::money::Usd;
use codeforge::simulator::{Behaviour, Fault, Simulator};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::process::Command;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn cmd(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_codeforge"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CODEFORGE_HOME", home)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    c
}

async fn run(mut c: Command, stdin: Option<&[u8]>) -> Run {
    if stdin.is_some() {
        c.stdin(Stdio::piped());
    }
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(bytes) = stdin {
        let mut si = child.stdin.take().unwrap();
        si.write_all(bytes).await.unwrap();
        drop(si);
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("codeforge hung")
        .unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn ask_demo_streams_a_highlight_ready_answer_without_a_key() {
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.args([
        "ask",
        "--demo",
        "write a rust function that adds two numbers",
    ]);
    let r = run(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains(
        "```rust\n/// Adds two numbers.\npub fn add(a: i64, b: i64) -> i64 {\n    a + b\n}"
    ));
    assert!(r.stderr.contains("demo mode"));
    // Everyday code goes to the cheap generalist, and the card says what it traded.
    assert!(
        r.stderr.contains("→ code · ") && r.stderr.contains(" · kimi-k2: cheaper"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("✓ moonshotai/kimi-k2"), "{}", r.stderr);
    // The ledger id that `feedback` takes is printed.
    assert!(
        r.stderr
            .contains("request 1 · rate it: codeforge feedback 1 up|down"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn feedback_by_generation_id_rates_that_request_across_demo_runs() {
    let home = tempfile::tempdir().unwrap();
    let ask = || {
        let mut c = cmd(home.path());
        c.args(["ask", "--json", "write a python function"]);
        run(c, None)
    };
    let id = |r: &Run| {
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        (
            v["request_id"].as_str().unwrap().to_string(),
            v["ledger_id"].as_i64().unwrap(),
        )
    };
    let first = id(&ask().await);
    let second = id(&ask().await);
    // Each process runs its own simulator; their generation ids must still differ.
    assert_ne!(first.0, second.0);
    let mut c = cmd(home.path());
    c.args(["feedback", &first.0, "down"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(&format!("for request {}", first.1)),
        "{}",
        r.stdout
    );
    // An id that is not in the ledger is the user's to fix, ledger id or generation id.
    for wrong in ["9999", "gen-sim-nonexistent"] {
        let mut c = cmd(home.path());
        c.args(["feedback", wrong, "up"]);
        let r = run(c, None).await;
        assert_eq!(r.code, 2, "{wrong}: {}", r.stderr);
        assert!(
            r.stderr
                .contains(&format!("no request `{wrong}` in the ledger")),
            "{}",
            r.stderr
        );
    }
}

#[tokio::test]
async fn ask_json_has_the_promised_fields() {
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.args([
        "ask",
        "--json",
        "prove that the sum of two even numbers is even",
    ]);
    let r = run(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert!(v["request_id"].as_str().unwrap().starts_with("gen-sim-"));
    assert_eq!(v["model"], "openai/o3");
    assert!(
        v["content"]
            .as_str()
            .unwrap()
            .starts_with("## Worked solution")
    );
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert!(v["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(v["usage"]["cost_usd"].as_f64().unwrap() > 0.0);
    assert_eq!(v["usage"]["cost_source"], "provider");
    assert!(v["ttft_ms"].is_u64());
    assert!(v["latency_ms"].as_u64().unwrap() >= v["ttft_ms"].as_u64().unwrap());
    assert_eq!(v["decision"]["intent"], "math");
    assert_eq!(v["decision"]["routed_by"], "auto");
    assert_eq!(v["decision"]["candidates"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn ask_against_any_server_reports_the_servers_cost() {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    sim.require_key("sk-or-v1-integration-secret");
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", sim.url())
        .env("OPENROUTER_API_KEY", "sk-or-v1-integration-secret")
        .args(["ask", "--json", "--model", "kimi-k2", "hello there"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("demo mode"));
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["model"], "moonshotai/kimi-k2");
    assert_eq!(v["decision"]["routed_by"], "override");
    let g = sim.generation(v["request_id"].as_str().unwrap()).unwrap();
    assert_eq!(
        Usd::from_dollars(v["usage"]["cost_usd"].as_f64().unwrap()),
        Usd::from_dollars(g.total_cost)
    );
    assert!(!r.stdout.contains("integration-secret") && !r.stderr.contains("integration-secret"));
    // The key is in no file CodeForge wrote (ledger, WAL, caches, logs).
    let mut stack = vec![home.path().to_path_buf()];
    let mut scanned = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                scanned += 1;
                assert!(
                    !bytes
                        .windows(26)
                        .any(|w| w == b"sk-or-v1-integration-secre"),
                    "the API key leaked into {}",
                    p.display()
                );
            }
        }
    }
    assert!(scanned >= 1, "the ledger was written");
}

#[tokio::test]
async fn provider_failures_exit_1_with_one_readable_line() {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    sim.fail(
        "anthropic/claude-sonnet-4",
        Fault::Status {
            code: 402,
            retry_after: None,
        },
    );
    sim.fail("openai/o3", Fault::Disconnect { after_tokens: 3 });
    let home = tempfile::tempdir().unwrap();
    let base = |args: &[&str]| {
        let mut c = cmd(home.path());
        c.env("OPENROUTER_BASE_URL", sim.url())
            .env("OPENROUTER_API_KEY", "k")
            .args(args);
        c
    };
    let r = run(base(&["ask", "--model", "claude-sonnet-4", "hi"]), None).await;
    assert_eq!(r.code, 1);
    let last = r.stderr.lines().last().unwrap();
    assert!(
        last.starts_with(
            "error: not enough OpenRouter credits (402): This request requires more credits"
        ),
        "{last}"
    );

    let r = run(
        base(&["ask", "--model", "o3", "write a python function"]),
        None,
    )
    .await;
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout, "Here is a\n");
    assert!(r.stderr.contains("[answer cut]"));
    assert!(
        r.stderr
            .lines()
            .last()
            .unwrap()
            .starts_with("error: the stream was cut before it finished")
    );
}

#[tokio::test]
async fn stalled_server_ends_at_the_configured_deadline() {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    sim.fail("anthropic/claude-sonnet-4", Fault::Stall);
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        "[timeouts]\nfirst_byte_ms = 300\n",
    )
    .unwrap();
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", sim.url())
        .env("OPENROUTER_API_KEY", "k")
        .args(["ask", "-m", "claude-sonnet-4", "hi"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("error: timed out after 300 ms waiting for the first byte"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn escape_sequences_in_model_output_never_reach_stdout() {
    let evil = "data: {\"id\":\"gen-x\",\"model\":\"m\",\"choices\":[{\"delta\":{\"content\":\"safe\\u001b]52;c;cHduZWQ=\\u0007 text\\u001b[2J\\u001b]0;title\\u0007 \\u001b[201~end\"}}]}\n\n\
                data: {\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"cost\":0.001}}\n\ndata: [DONE]\n\n";
    let url = common::replay(
        vec![(200, "text/event-stream", evil.to_string(), vec![])],
        3,
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", url)
        .env("OPENROUTER_API_KEY", "k")
        .args(["ask", "hello"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "safe text end\n");
}

#[tokio::test]
async fn prompt_from_stdin_tolerates_invalid_utf8_and_rejects_empty() {
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.args(["ask", "--json"]);
    let r = run(c, Some(b"explain closures \xff\xfe please")).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["decision"]["intent"], "explain");

    let mut c = cmd(home.path());
    c.arg("ask");
    let r = run(c, Some(b"  \n")).await;
    assert_eq!(r.code, 2);
    // Only NUL bytes and control characters: nothing to ask, nothing sent or billed.
    let mut c = cmd(home.path());
    c.arg("ask");
    let nul = run(c, Some(b"\0\0\0\x07\n")).await;
    assert_eq!(nul.code, 2, "{}", nul.stderr);
    assert_eq!(
        r.stderr.trim(),
        "error: empty prompt: pass it as an argument or on stdin"
    );
}

#[tokio::test]
async fn huge_pastes_are_sent_whole_or_refused_cleanly() {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let ask = || {
        let mut c = cmd(home.path());
        c.env("OPENROUTER_BASE_URL", sim.url())
            .env("OPENROUTER_API_KEY", "k")
            .args(["ask", "--json"]);
        c
    };
    // 3 MB (~790k tokens) fits only the 1M-token windows: routed there, sent whole.
    let paste = "fn main() { println!(\"hi\"); }\n".repeat(3 * 1024 * 1024 / 30);
    let r = run(ask(), Some(paste.as_bytes())).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let chosen = v["model"].as_str().unwrap();
    assert!(
        ["anthropic/claude-sonnet-4", "google/gemini-2.5-flash"].contains(&chosen),
        "{chosen}"
    );
    let sent = sim.requests().pop().unwrap().body.unwrap();
    assert_eq!(
        sent["messages"][1]["content"].as_str().unwrap().len(),
        paste.len()
    );

    // 10 MB fits no model: a clear refusal, nothing sent.
    let before = sim.completions().len();
    let paste = "x".repeat(10 * 1024 * 1024);
    let r = run(ask(), Some(paste.as_bytes())).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("no model can take this prompt (~2621"),
        "{}",
        r.stderr
    );
    assert_eq!(sim.completions().len(), before);
}

#[tokio::test]
async fn malformed_config_exits_2_naming_file_and_line() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("config.toml");
    std::fs::write(&file, "[budget]\ndaily_usd = \"lots\"\n").unwrap();
    let mut c = cmd(home.path());
    c.args(["ask", "hi"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with(&format!("error: invalid config {}:2:", file.display())),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("key `budget.daily_usd`"));
    assert_eq!(r.stdout, "");
}

#[tokio::test]
async fn config_init_show_and_path() {
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.args(["config", "path"]);
    let r = run(c, None).await;
    assert_eq!(
        r.stdout.trim(),
        home.path().join("config.toml").display().to_string()
    );

    let mut c = cmd(home.path());
    c.args(["config", "init"]);
    assert_eq!(run(c, None).await.code, 0);
    let mut c = cmd(home.path());
    c.args(["config", "init"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("already exists"));

    std::fs::write(
        home.path().join("config.toml"),
        "api_key = \"sk-or-v1-topsecret\"\n",
    )
    .unwrap();
    let mut c = cmd(home.path());
    c.args(["config", "show"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .contains("api key          set (from the config file)")
    );
    assert!(!r.stdout.contains("topsecret"));
    assert!(r.stdout.contains("theme            dark"), "{}", r.stdout);
    // A limit set with `codeforge budget` is shown as the one in force.
    let mut c = cmd(home.path());
    c.args(["budget", "--daily", "5"]);
    assert_eq!(run(c, None).await.code, 0);
    let mut c = cmd(home.path());
    c.args(["config", "show"]);
    let r = run(c, None).await;
    assert!(
        r.stdout
            .contains("daily in force   $5.00 (set with `codeforge budget`"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("monthly in force"), "{}", r.stdout);

    // A theme or key binding that does not exist is found by `config show` (and stops the
    // TUI) with the file, line and key, exit 2.
    for (text, key, line) in [
        ("[ui]\ntheme = \"nope\"\n", "ui.theme", 2),
        (
            "# keys\n[keys]\nmodel_picker = \"ctrl-banana\"\n",
            "keys.model_picker",
            3,
        ),
        // Pin's only key, taken without giving pin another.
        (
            "[keys]\nmodel_picker = \"ctrl-p\"\n",
            "keys.model_picker",
            2,
        ),
    ] {
        std::fs::write(home.path().join("config.toml"), text).unwrap();
        for args in [&["config", "show"][..], &[][..]] {
            let mut c = cmd(home.path());
            c.args(args);
            let r = run(c, None).await;
            assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
            let at = format!(
                "invalid config {}:{line}: key `{key}`",
                home.path().join("config.toml").display()
            );
            assert!(r.stderr.contains(&at), "{args:?}: {}", r.stderr);
        }
    }
}

#[tokio::test]
async fn models_refresh_names_unlisted_ids_and_caches_prices() {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    sim.unlist("x-ai/grok-4");
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", sim.url())
        .env("OPENROUTER_API_KEY", "k")
        .args(["models", "--refresh"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("4 models listed"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains("no longer listed: x-ai/grok-4 (no listed alternate)")
    );
    assert!(r.stdout.contains("[not listed]"));
    assert!(home.path().join("cache/models-cache.json").exists());

    // The cache is used afterwards, offline.
    let mut c = cmd(home.path());
    c.env("OPENROUTER_API_KEY", "k").args(["models", "--json"]);
    let r = run(c, None).await;
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let grok = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "x-ai/grok-4")
        .unwrap();
    assert_eq!(grok["listed"], false);
}

#[tokio::test]
async fn simulate_serves_on_the_asked_port_with_faults() {
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.args([
        "simulate",
        "--port",
        "0",
        "--ttft-ms",
        "0",
        "--fault",
        "kimi-k2=503:4",
    ])
    .stdout(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let url = first
        .strip_prefix("simulator listening on ")
        .unwrap()
        .to_string();
    codeforge::provider::install_crypto_provider();
    let resp = reqwest::Client::new()
        .post(format!("{url}/chat/completions"))
        .bearer_auth("k")
        .json(&serde_json::json!({"model": "moonshotai/kimi-k2", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 503);
    assert_eq!(resp.headers()["retry-after"], "4");
    child.kill().await.unwrap();

    let mut c = cmd(home.path());
    c.args(["simulate", "--fault", "nope=503"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown model `nope`"));
}

#[tokio::test]
async fn an_unlisted_model_is_served_by_its_listed_alternate() {
    let mut catalog = Catalog::builtin().unwrap();
    catalog
        .apply_patches(&[codeforge::catalog::ModelPatch {
            id: "x-ai/grok-4.20".into(),
            prompt_price: Some(1.25),
            completion_price: Some(2.5),
            context_length: Some(2_000_000),
            ..Default::default()
        }])
        .unwrap();
    let sim = Simulator::start(catalog, Behaviour::default())
        .await
        .unwrap();
    sim.unlist("x-ai/grok-4");
    let home = tempfile::tempdir().unwrap();
    let with_sim = |args: &[&str]| {
        let mut c = cmd(home.path());
        c.env("OPENROUTER_BASE_URL", sim.url())
            .env("OPENROUTER_API_KEY", "k")
            .args(args);
        c
    };
    let r = run(with_sim(&["models", "--refresh"]), None).await;
    assert!(
        r.stdout
            .contains("no longer listed: x-ai/grok-4 (alternate x-ai/grok-4.20 will be used)"),
        "{}",
        r.stdout
    );
    let r = run(
        with_sim(&["ask", "--json", "-m", "grok-4", "design a queue"]),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["model"], "x-ai/grok-4.20");
    assert!(
        v["decision"]["reason"]
            .as_str()
            .unwrap()
            .contains("(via x-ai/grok-4.20: x-ai/grok-4 is no longer listed)")
    );
    assert_eq!(
        sim.requests().pop().unwrap().body.unwrap()["model"],
        "x-ai/grok-4.20"
    );
}

#[tokio::test]
async fn budget_limits_and_share_optimisation() {
    let home = tempfile::tempdir().unwrap();
    for prompt in [
        "write a rust function",
        "write a python function",
        "design a cache",
    ] {
        let mut c = cmd(home.path());
        c.args(["ask", "--demo", prompt]);
        assert_eq!(run(c, None).await.code, 0);
    }
    let mut c = cmd(home.path());
    c.args(["budget", "--daily", "4.5", "--json"]);
    let v: serde_json::Value = serde_json::from_str(run(c, None).await.stdout.trim()).unwrap();
    assert_eq!(v["daily_limit_usd"], 4.5);
    assert!(v["today_spend_usd"].as_f64().unwrap() > 0.0);
    // Limits read back as typed; one too large says where the range ends.
    let mut c = cmd(home.path());
    c.args(["budget", "--daily", "0.00125"]);
    let r = run(c, None).await;
    assert!(r.stdout.contains("daily limit   $0.00125"), "{}", r.stdout);
    let mut c = cmd(home.path());
    c.args(["budget", "--daily", "1e300"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("up to (not including) 10000000"),
        "{}",
        r.stderr
    );
    let mut c = cmd(home.path());
    c.args(["budget", "--daily", "4.5"]);
    assert_eq!(run(c, None).await.code, 0);
    // Flags that would do nothing are refused, not ignored.
    for args in [
        &["budget", "--optimize", "--apply", "--daily", "5"][..],
        &["budget", "--days", "3"][..],
        &["budget", "--optimize", "--days", "0"][..],
    ] {
        let mut c = cmd(home.path());
        c.args(args);
        assert_eq!(run(c, None).await.code, 2, "{args:?}");
    }

    let optimize = |apply: bool| {
        let mut c = cmd(home.path());
        c.args(["budget", "--optimize", "--json"]);
        if apply {
            c.arg("--apply");
        }
        c
    };
    let v: serde_json::Value =
        serde_json::from_str(run(optimize(false), None).await.stdout.trim()).unwrap();
    let shares = v["shares"].as_array().unwrap();
    let sum: f64 = shares.iter().map(|s| s["new"].as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 0.01, "{sum}");
    // One measured model (the cheap generalist answered all three): nothing to compare its
    // value with, so it keeps its default; unused models keep theirs (no quality assumed).
    let kimi = shares
        .iter()
        .find(|s| s["model"] == "moonshotai/kimi-k2")
        .unwrap();
    assert_eq!(kimi["new"], kimi["old"], "{kimi}");
    assert!(
        shares
            .iter()
            .filter(|s| s["model"] != "moonshotai/kimi-k2")
            .all(|s| s["why"].as_str().unwrap().starts_with("no requests")),
        "{v}"
    );
    assert_eq!(v["applied"], false);
    // Applying stores the proposal; proposing again gives the same (no ratchet).
    run(optimize(true), None).await;
    let v2: serde_json::Value =
        serde_json::from_str(run(optimize(false), None).await.stdout.trim()).unwrap();
    let kimi2 = v2["shares"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["model"] == "moonshotai/kimi-k2")
        .unwrap()
        .clone();
    assert_eq!(kimi2["new"], kimi["new"]);
    assert_eq!(kimi2["old"], kimi["new"]);

    let mut c = cmd(home.path());
    c.args(["stats", "--json", "--days", "3"]);
    let v: serde_json::Value = serde_json::from_str(run(c, None).await.stdout.trim()).unwrap();
    assert_eq!(v["days"].as_array().unwrap().len(), 3);
    assert_eq!(v["today"]["limit_usd"], 4.5);
    assert_eq!(v["requests"], 3);
    let spend = v["today"]["spend_usd"].as_f64().unwrap();
    let by_model: f64 = v["days"][2]["by_model"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert!((spend - by_model).abs() < 1e-9);
    assert!((v["today"]["remaining_usd"].as_f64().unwrap() - (4.5 - spend)).abs() < 1e-9);
}

#[tokio::test]
async fn a_custom_openai_compatible_endpoint_gets_its_own_url_and_key() {
    // The "local" server knows one extra model; OpenRouter (the other simulator) does not.
    let mut local_catalog = Catalog::builtin().unwrap();
    local_catalog
        .apply_patches(&[codeforge::catalog::ModelPatch {
            id: "qwen2.5-coder:7b".into(),
            prompt_price: Some(0.0),
            completion_price: Some(0.0),
            context_length: Some(32768),
            ..Default::default()
        }])
        .unwrap();
    let local = Simulator::start(local_catalog, Behaviour::default())
        .await
        .unwrap();
    local.require_key("local-secret");
    let openrouter = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "[[models]]\nid = \"qwen2.5-coder:7b\"\nname = \"qwen-local\"\nbase_url = \"{}\"\napi_key_env = \"LOCAL_KEY\"\nprompt_price = 0.0\ncompletion_price = 0.0\ncontext_length = 32768\n",
            local.url()
        ),
    )
    .unwrap();
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", openrouter.url())
        .env("OPENROUTER_API_KEY", "or-key")
        .env("LOCAL_KEY", "local-secret")
        .args([
            "ask",
            "--json",
            "-m",
            "qwen-local",
            "write a python function",
        ]);
    let r = run(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["model"], "qwen2.5-coder:7b");
    assert_eq!(local.completions().len(), 1);
    // An own endpoint gets no OpenRouter-only field.
    let body = local.completions()[0].body.clone().unwrap();
    assert!(body.get("provider").is_none(), "{body}");
    assert_eq!(
        local.completions()[0].authorization.as_deref(),
        Some("Bearer local-secret")
    );
    assert!(openrouter.completions().is_empty());
}

#[tokio::test]
async fn route_shows_the_decision_ask_would_make_after_feedback() {
    let home = tempfile::tempdir().unwrap();
    let prompt = "write a rust function that adds two numbers";
    let route = || async {
        let mut c = cmd(home.path());
        c.args(["route", "--json", prompt]);
        let r = run(c, None).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        serde_json::from_str::<serde_json::Value>(r.stdout.trim()).unwrap()
    };
    assert_eq!(route().await["model"], "moonshotai/kimi-k2");
    // Answers from the usual pick for code, each rated down, until the router moves on.
    let mut downs = 0;
    loop {
        let mut c = cmd(home.path());
        c.args(["ask", "--json", prompt]);
        let r = run(c, None).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
        if v["model"] != "moonshotai/kimi-k2" {
            break;
        }
        assert!(
            downs < 4,
            "still routed to the same model after {downs} downvotes"
        );
        let mut c = cmd(home.path());
        c.args(["feedback", v["request_id"].as_str().unwrap(), "down"]);
        let r = run(c, None).await;
        assert_eq!(r.code, 0, "{}", r.stderr);
        downs += 1;
    }
    assert!(downs >= 1);
    // `route` reads what was learned from the ledger, as the next `ask` does.
    let v = route().await;
    assert_ne!(v["model"], "moonshotai/kimi-k2", "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("your ratings: preferred over kimi-k2"),
        "{reason}"
    );
    let mut c = cmd(home.path());
    c.args(["ask", "--json", prompt]);
    let r = run(c, None).await;
    let a: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(a["model"], v["model"]);
}

#[tokio::test]
async fn eval_replay_reads_a_jsonl_file_and_a_catalog_of_the_models_taking_part() {
    let home = tempfile::tempdir().unwrap();
    let rows: String = (0..200)
        .map(|i| {
            let task = if i % 2 == 0 { "code" } else { "general" };
            let ok = |b: bool| if b { 1.0 } else { 0.0 };
            format!(
                "{}\n",
                serde_json::json!({
                    "id": format!("r{i}"),
                    "prompt": format!("prompt {i}"),
                    "intent": task,
                    "models": {
                        "dear": {"score": ok((i / 2) % 4 != 0), "cost_usd": 0.01},
                        "cheap": {"score": ok((i / 2) % 4 < 2), "cost_usd": 0.001},
                        "oracle-bait": {"score": 1.0, "cost_usd": 0.0},
                    }
                })
            )
        })
        .collect();
    let file = home.path().join("rows.jsonl");
    std::fs::write(&file, rows).unwrap();
    let catalog = home.path().join("models.toml");
    std::fs::write(
        &catalog,
        "[[models]]\nid = \"dear\"\nprior = 0.7\n\n[[models]]\nid = \"cheap\"\n",
    )
    .unwrap();
    let replay = |catalog: &Path| {
        let mut c = cmd(home.path());
        c.args(["eval", "replay", "--json", "--reference", "dear", "--file"])
            .arg(&file)
            .arg("--catalog")
            .arg(catalog);
        run(c, None)
    };
    let r = replay(&catalog).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    // Only the catalog's models take part, in the oracle too.
    let single: Vec<&str> = v["single"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_str().unwrap())
        .collect();
    assert_eq!(single, ["dear", "cheap"]);
    // (the free, always-right model outside the catalog would make the oracle cost $0).
    assert!(v["oracle"][1].as_f64().unwrap() > 0.1, "{}", v["oracle"]);
    assert_eq!(
        v["train"].as_u64().unwrap() + v["test"].as_u64().unwrap(),
        200
    );
    assert!(!v["learning"].as_array().unwrap().is_empty());
    // A catalog that does not parse names the file and the line; one naming a model
    // without results says which.
    std::fs::write(&catalog, "[[models]]\nid = \"dear\"\npriorr = 0.7\n").unwrap();
    let r = replay(&catalog).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("models.toml") && r.stderr.contains("line 3"),
        "{}",
        r.stderr
    );
    std::fs::write(&catalog, "[[models]]\nid = \"gpt-9\"\n").unwrap();
    let r = replay(&catalog).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("gpt-9 has no results"), "{}", r.stderr);
    // A reference outside the models taking part, or rows that all fall in one part, are
    // errors rather than a report of zeros.
    let mut c = cmd(home.path());
    c.args(["eval", "replay", "--reference", "gpt-9", "--file"])
        .arg(&file);
    let r = run(c, None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "--reference gpt-9 is not one of the models taking part: cheap, dear, oracle-bait"
        ),
        "{}",
        r.stderr
    );
    let one = home.path().join("one.jsonl");
    std::fs::write(
        &one,
        r#"{"id":"train:1","prompt":"p","intent":"code","models":{"dear":{"score":1,"cost_usd":0.01}}}"#,
    )
    .unwrap();
    let mut c = cmd(home.path());
    c.args(["eval", "replay", "--reference", "dear", "--file"])
        .arg(&one);
    let r = run(c, None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("the split gave 1 train and 0 test rows"),
        "{}",
        r.stderr
    );
}

#[tokio::test]
async fn ask_json_prints_a_cut_answer_with_its_error() {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    sim.fail(
        "anthropic/claude-sonnet-4",
        Fault::Disconnect { after_tokens: 20 },
    );
    let home = tempfile::tempdir().unwrap();
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", sim.url())
        .env("OPENROUTER_API_KEY", "k")
        .args([
            "ask",
            "--json",
            "-m",
            "claude-sonnet-4",
            "write a rust function that adds two numbers",
        ]);
    let r = run(c, None).await;
    assert_ne!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["status"], "cut");
    assert!(!v["content"].as_str().unwrap().is_empty());
    assert!(v["ledger_id"].as_i64().unwrap() > 0);
    assert!(
        v["error"].as_str().unwrap().contains("cut"),
        "{}",
        v["error"]
    );
    // A failure before any answer is one JSON object too.
    sim.fail(
        "anthropic/claude-sonnet-4",
        Fault::Status {
            code: 401,
            retry_after: None,
        },
    );
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", sim.url())
        .env("OPENROUTER_API_KEY", "k")
        .args(["ask", "--json", "-m", "claude-sonnet-4", "write a function"]);
    let r = run(c, None).await;
    assert_ne!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["status"], "error");
    assert!(
        v["error"].as_str().unwrap().contains("401"),
        "{}",
        v["error"]
    );
    assert_eq!(v["decision"]["model"], "anthropic/claude-sonnet-4");
}

#[tokio::test]
async fn ask_continue_keeps_the_thread_and_says_when_there_is_none() {
    let home = tempfile::tempdir().unwrap();
    let ask = |args: &[&str]| {
        let mut c = cmd(home.path());
        c.args(["ask", "--demo", "--json"]).args(args);
        c
    };
    // Nothing to continue yet: said, with exit 2.
    let r = run(ask(&["-c", "now make it faster"]), None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("no earlier conversation"), "{}", r.stderr);
    let first: serde_json::Value = serde_json::from_str(
        run(ask(&["write a rust function that adds two numbers"]), None)
            .await
            .stdout
            .trim(),
    )
    .unwrap();
    let conversation = first["conversation_id"].as_i64().unwrap();
    // Continued: the thread's intent, in the same conversation.
    let r = run(ask(&["-c", "now make it faster"]), None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["conversation_id"], conversation);
    assert_eq!(v["decision"]["intent"], "code", "{v}");
    assert!(
        v["decision"]["reason"]
            .as_str()
            .unwrap()
            .contains("follow-up"),
        "{v}"
    );
    // By id, too; without either, the same words stand alone in a new conversation.
    let id = conversation.to_string();
    let r = run(ask(&["--conversation", &id, "and add tests"]), None).await;
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["conversation_id"], conversation);
    let v: serde_json::Value =
        serde_json::from_str(run(ask(&["now make it faster"]), None).await.stdout.trim()).unwrap();
    assert_ne!(v["conversation_id"], conversation);
    assert!(
        !v["decision"]["reason"]
            .as_str()
            .unwrap()
            .contains("follow-up"),
        "{v}"
    );
    let r = run(ask(&["--conversation", "999", "hi"]), None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[tokio::test]
async fn stats_compare_the_routers_estimate_with_the_bill() {
    let home = tempfile::tempdir().unwrap();
    for prompt in [
        "write a rust function that adds two numbers",
        "what is 12 * 7?",
    ] {
        let mut c = cmd(home.path());
        c.args(["ask", "--demo", prompt]);
        assert_eq!(run(c, None).await.code, 0);
    }
    let mut c = cmd(home.path());
    c.args(["stats", "--json", "--days", "1"]);
    let v: serde_json::Value = serde_json::from_str(run(c, None).await.stdout.trim()).unwrap();
    let answered: Vec<&serde_json::Value> = v["models"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["ok"].as_i64() > Some(0))
        .collect();
    assert!(!answered.is_empty(), "{v}");
    for m in answered {
        let err = m["estimate_error"].as_f64().expect("an estimate error");
        let ratio = m["billed_over_estimate"].as_f64().unwrap();
        assert!(err >= 0.0 && ratio > 0.0, "{m}");
        // With one answer, |b - e| / b and b / e describe the same pair.
        if m["ok"] == 1 {
            assert!((err - (1.0 - 1.0 / ratio).abs()).abs() < 1e-9, "{m}");
        }
    }
    let mut c = cmd(home.path());
    c.args(["stats", "--days", "1"]);
    let r = run(c, None).await;
    assert!(r.stdout.contains("est. error"), "{}", r.stdout);
}

#[tokio::test]
async fn server_text_on_stderr_and_bidi_on_stdout_never_act_on_the_terminal() {
    // A served model name with a clipboard write and a title change, an answer with a
    // right-to-left override, then an HTTP error body with a screen clear.
    let stream = "data: {\"id\":\"gen-y\",\"model\":\"m\\u001b]52;c;cHduZWQ=\\u0007x\\u001b]0;t\\u0007\",\"choices\":[{\"delta\":{\"content\":\"if admin \\u202e ok\"}}]}\n\n\
                  data: {\"choices\":[{\"delta\":{\"content\":\"\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2,\"cost\":0.001}}\n\ndata: [DONE]\n\n";
    let error =
        "{\"error\":{\"code\":400,\"message\":\"bad\\u001b[2J\\u001b]8;;http://x\\u0007link\"}}";
    let url = common::replay(
        vec![
            (200, "text/event-stream", stream.to_string(), vec![]),
            (400, "application/json", error.to_string(), vec![]),
        ],
        7,
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let ask = || {
        let mut c = cmd(home.path());
        c.env("OPENROUTER_BASE_URL", &url)
            .env("OPENROUTER_API_KEY", "k")
            .args(["ask", "-m", "kimi-k2", "hello"]);
        c
    };
    let r = run(ask(), None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout, "if admin <U+202E> ok\n");
    assert!(r.stderr.contains("✓ mx · "), "{}", r.stderr);
    let r = run(ask(), None).await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("badlink"), "{}", r.stderr);
    for out in [&r.stdout, &r.stderr] {
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
    }
}

#[tokio::test]
async fn demo_runs_with_a_key_set_keep_their_own_ledger() {
    let home = tempfile::tempdir().unwrap();
    let with_key = |args: &[&str]| {
        let mut c = cmd(home.path());
        // An unreachable endpoint: nothing may be sent to it.
        c.env("OPENROUTER_API_KEY", "sk-or-v1-real-key-0000")
            .env("OPENROUTER_BASE_URL", "http://127.0.0.1:9/api/v1")
            .args(args);
        c
    };
    let r = run(with_key(&["--demo", "ask", "what is 12 * 7?"]), None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(home.path().join("ledger-demo.db").exists());
    assert!(
        !home.path().join("ledger.db").exists(),
        "the real ledger is not touched by a demo"
    );
    let stats = |demo: bool| {
        let mut args = vec!["stats", "--json", "--days", "1"];
        if demo {
            args.insert(0, "--demo");
        }
        with_key(&args)
    };
    let v: serde_json::Value =
        serde_json::from_str(run(stats(true), None).await.stdout.trim()).unwrap();
    assert_eq!(v["requests"], 1, "{v}");
    let v: serde_json::Value =
        serde_json::from_str(run(stats(false), None).await.stdout.trim()).unwrap();
    assert_eq!(v["requests"], 0, "{v}");
}

#[tokio::test]
async fn a_team_lead_creates_lists_and_disables_member_keys_with_their_own_limits() {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    sim.set_management_key("mgmt-secret-1");
    let home = tempfile::tempdir().unwrap();
    let keys = |args: &[&str], management: Option<&str>| {
        let mut c = cmd(home.path());
        c.env("OPENROUTER_BASE_URL", sim.url())
            .arg("keys")
            .args(args);
        if let Some(m) = management {
            c.env("OPENROUTER_MANAGEMENT_KEY", m);
        }
        c
    };
    // Without a management key: what to do, exit 2.
    let r = run(keys(&["list"], None), None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("OPENROUTER_MANAGEMENT_KEY"),
        "{}",
        r.stderr
    );
    // An ordinary key is refused, said as such (not "moderation"), and never echoed.
    let r = run(keys(&["list"], Some("sk-or-ordinary")), None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("refused the management key"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("sk-or-ordinary") && !r.stdout.contains("sk-or-ordinary"));
    // Create: the new key on stdout, once; the management key nowhere.
    let r = run(
        keys(
            &["create", "alice", "--limit", "0.01", "--reset", "daily"],
            Some("mgmt-secret-1"),
        ),
        None,
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let alice = r.stdout.trim().to_string();
    assert!(alice.starts_with("sk-or-v1-"), "{alice}");
    assert!(r.stderr.contains("shown only now"), "{}", r.stderr);
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("mgmt-secret-1"));
    // A second key of the same name is refused.
    let again = run(
        keys(&["create", "alice", "--limit", "1"], Some("mgmt-secret-1")),
        None,
    )
    .await;
    assert_eq!(again.code, 2, "{}", again.stderr);
    // Alice asks with her key: her own limit applies, and `stats` shows it.
    let ask = |key: &str| {
        let mut c = cmd(home.path());
        c.env("OPENROUTER_BASE_URL", sim.url())
            .env("OPENROUTER_API_KEY", key)
            .args(["ask", "-m", "kimi-k2", "write a python function"]);
        c
    };
    let r = run(ask(&alice), None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut stats = cmd(home.path());
    stats.args(["stats", "--days", "1"]);
    let s = run(stats, None).await;
    assert!(
        s.stdout
            .contains("of $0.0100 left (daily limit of the OpenRouter key"),
        "{}",
        s.stdout
    );
    // The list shows her limit and what she spent.
    let r = run(keys(&["list"], Some("mgmt-secret-1")), None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("alice"))
        .unwrap()
        .to_string();
    assert!(
        line.contains("$0.0100") && line.contains("daily") && line.contains("active"),
        "{line}"
    );
    assert!(!line.contains("$0.0000  "), "her spend is counted: {line}");
    // Disabled: her requests are refused by OpenRouter from now on.
    let r = run(keys(&["disable", "alice"], Some("mgmt-secret-1")), None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run(keys(&["list"], Some("mgmt-secret-1")), None).await;
    assert!(r.stdout.contains("disabled"), "{}", r.stdout);
    let r = run(ask(&alice), None).await;
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("disabled"), "{}", r.stderr);
    let r = run(keys(&["disable", "bob"], Some("mgmt-secret-1")), None).await;
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no key named `bob`"), "{}", r.stderr);
}

#[tokio::test]
async fn files_and_stdin_are_attached_to_the_prompt_never_dropped() {
    let sim = Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap();
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("main.rs");
    std::fs::write(&file, "fn main() {\n    println!(\"hi\");\n}\n").unwrap();
    let sent_prompt = || {
        let body = sim.completions().pop().unwrap().body.unwrap();
        let msgs = body["messages"].as_array().unwrap().clone();
        msgs.last().unwrap()["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // `ask "review this" < main.rs`: the instruction, and stdin attached to it.
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", sim.url())
        .env("OPENROUTER_API_KEY", "k")
        .args(["ask", "review this"]);
    let r = run(c, Some(b"fn main() { let x = 1; }\n")).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("attached stdin (1 line"), "{}", r.stderr);
    assert_eq!(
        sent_prompt(),
        "review this\n\nstdin:\n```\nfn main() { let x = 1; }\n```"
    );
    // `-f FILE`: fenced under its name with its language; the router sees code to explain.
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", sim.url())
        .env("OPENROUTER_API_KEY", "k")
        .args(["ask", "--json", "-f"])
        .arg(&file)
        .arg("what does this do");
    let r = run(c, None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        sent_prompt().ends_with(&format!(
            "{}:\n```rust\nfn main() {{\n    println!(\"hi\");\n}}\n```",
            file.display()
        )),
        "{}",
        sent_prompt()
    );
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!(v["decision"]["intent"], "explain", "{v}");
    // A file that is not there: nothing is sent, the path is named, exit 2.
    let before = sim.completions().len();
    let mut c = cmd(home.path());
    c.env("OPENROUTER_BASE_URL", sim.url())
        .env("OPENROUTER_API_KEY", "k")
        .args(["ask", "-f", "no-such-file.rs", "review"]);
    let r = run(c, None).await;
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("cannot attach no-such-file.rs"),
        "{}",
        r.stderr
    );
    assert_eq!(sim.completions().len(), before);
}

#[tokio::test]
async fn budget_says_what_is_wrong_with_a_limit_and_stats_lists_only_days_with_requests() {
    let home = tempfile::tempdir().unwrap();
    let budget = |args: &[&str]| {
        let mut c = cmd(home.path());
        c.arg("budget").args(args);
        c
    };
    // A negative amount is ours to refuse, with the reason (not clap's "unexpected argument").
    let r = run(budget(&["--daily", "-1"]), None).await;
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--daily must be an amount in USD from 0"),
        "{}",
        r.stderr
    );
    // A monthly limit under the daily one is taken, and said.
    let r = run(budget(&["--daily", "5", "--monthly", "2"]), None).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("the monthly limit ($2.00) is below the daily one ($5.00)"),
        "{}",
        r.stderr
    );
    let r = run(budget(&["--daily", "1", "--monthly", "20"]), None).await;
    assert!(!r.stderr.contains("below"), "{}", r.stderr);
    // Stats: the day with a request, and the quiet ones counted.
    let mut c = cmd(home.path());
    c.args(["ask", "--demo", "hi"]);
    assert_eq!(run(c, None).await.code, 0);
    let mut c = cmd(home.path());
    c.args(["stats", "--days", "14"]);
    let r = run(c, None).await;
    let day_rows = r
        .stdout
        .lines()
        .filter(|l| l.contains(" requests") && l.starts_with("20"))
        .count();
    assert_eq!(day_rows, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains("(13 days without requests)"),
        "{}",
        r.stdout
    );
}

#[tokio::test]
async fn eval_needs_the_shared_data_given_and_reads_it_from_the_environment() {
    let home = tempfile::tempdir().unwrap();
    // No path is built into the binary: without --data or CODEFORGE_EVAL_DATA it says how.
    for action in ["intents", "train"] {
        let mut c = cmd(home.path());
        c.args(["eval", action]);
        let r = run(c, None).await;
        assert_eq!(r.code, 2, "{action}: {}", r.stderr);
        assert!(r.stderr.contains("CODEFORGE_EVAL_DATA"), "{}", r.stderr);
    }
    // Given through the environment, it is read there (an empty directory: no sources).
    let empty = home.path().join("no-data");
    std::fs::create_dir_all(&empty).unwrap();
    let mut c = cmd(home.path());
    c.env("CODEFORGE_EVAL_DATA", &empty)
        .args(["eval", "intents", "--json"]);
    let r = run(c, None).await;
    assert!(
        r.stderr.contains("no-data"),
        "the error names the directory it read: {} / {}",
        r.stderr,
        r.stdout
    );
}
