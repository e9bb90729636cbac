//! Helpers shared by the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use codeforge::catalog::Catalog;
use codeforge::config::{ApiKey, Config, Timeouts};
use codeforge::core::Session;
use codeforge::provider::OpenRouterClient;
use codeforge::simulator::{Behaviour, Simulator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

pub fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/openrouter")
        .join(name)
}

/// A recorded response: HTTP status and the raw body text.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub status: u16,
    pub body: String,
}

/// Every response of a recording (opencode JSON cassette or VCR YAML cassette).
pub fn recorded(name: &str) -> Vec<Recorded> {
    let text = std::fs::read_to_string(fixture_path(name)).unwrap();
    if name.ends_with(".json") {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["interactions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| Recorded {
                status: i["response"]["status"].as_u64().unwrap() as u16,
                body: i["response"]["body"].as_str().unwrap().to_string(),
            })
            .collect()
    } else {
        let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
        v["interactions"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|i| {
                let r = &i["response"];
                let status = r["status"]["code"].as_u64().unwrap() as u16;
                let body = match r["body"]["string"].as_str() {
                    Some(s) => s.to_string(),
                    None => {
                        let parsed: serde_json::Value =
                            serde_yaml_ng::from_value(r["parsed_body"].clone()).unwrap();
                        parsed.to_string()
                    }
                };
                Recorded { status, body }
            })
            .collect()
    }
}

/// One canned HTTP response: status, content type, body, extra headers.
pub type Canned = (u16, &'static str, String, Vec<(String, String)>);

/// Serve one raw HTTP response per connection on loopback, writing the body in pieces of
/// `piece` bytes (so SSE lines and UTF-8 characters are split across reads). `GET /key`,
/// `/generation` and `/models` are answered 404 without using a canned response.
pub async fn replay(responses: Vec<Canned>, piece: usize) -> String {
    serve(responses, piece, true).await
}

/// [`replay`] answering every request with the canned responses, `GET /models` too.
pub async fn replay_raw(responses: Vec<Canned>, piece: usize) -> String {
    serve(responses, piece, false).await
}

async fn serve(responses: Vec<Canned>, piece: usize, skip_gets: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut responses = responses.into_iter();
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = vec![0u8; 65536];
            let mut seen = Vec::new();
            // Read the request head and body (content-length) before answering.
            loop {
                let n = sock.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if let Some(pos) = find(&seen, b"\r\n\r\n") {
                    let head = String::from_utf8_lossy(&seen[..pos]).to_lowercase();
                    let len = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if seen.len() >= pos + 4 + len {
                        break;
                    }
                }
            }
            // A GET (`/key`, `/generation`) is not one of the canned answers: this server
            // has no such route.
            let line = String::from_utf8_lossy(seen.split(|b| *b == b'\r').next().unwrap_or(&[]))
                .to_string();
            if skip_gets
                && line.starts_with("GET ")
                && ["/key", "/generation", "/models"]
                    .iter()
                    .any(|p| line.contains(p))
            {
                let body = "{\"error\":{\"code\":404,\"message\":\"Not Found\"}}";
                let _ = sock
                    .write_all(
                        format!(
                            "HTTP/1.1 404 X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
                let _ = sock.shutdown().await;
                continue;
            }
            let Some((status, ctype, body, headers)) = responses.next() else {
                return;
            };
            let mut head =
                format!("HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\nconnection: close\r\n");
            for (k, v) in headers {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
            head.push_str("\r\n");
            let _ = sock.write_all(head.as_bytes()).await;
            for chunk in body.as_bytes().chunks(piece.max(1)) {
                if sock.write_all(chunk).await.is_err() {
                    break;
                }
                let _ = sock.flush().await;
            }
            let _ = sock.shutdown().await;
        }
    });
    format!("http://{addr}/api/v1")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

pub fn client(base_url: &str) -> OpenRouterClient {
    OpenRouterClient::new(base_url, Some(ApiKey::new("test-key")), short_timeouts()).unwrap()
}

pub fn short_timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_secs(5),
        idle: Duration::from_secs(5),
        first_token: Duration::from_secs(10),
        turn: Duration::from_secs(60),
    }
}

/// A session on a real ledger file in a temporary directory, talking to the simulator.
pub struct Rig {
    pub sim: Simulator,
    pub session: Session,
    pub _dir: tempfile::TempDir,
}

/// A [`Rig`] with short deadlines; `tune` adjusts the config first.
pub async fn rig(tune: impl FnOnce(&mut Config)) -> Rig {
    rig_serving(Catalog::builtin().unwrap(), tune).await
}

/// A [`Rig`] whose simulator serves (and charges) `served` rather than the built-in
/// catalog the session routes with.
pub async fn rig_serving(served: Catalog, tune: impl FnOnce(&mut Config)) -> Rig {
    let sim = Simulator::start(served, Behaviour::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::defaults_under(dir.path());
    config.api_key = Some(ApiKey::new("k"));
    config.base_url = sim.url();
    config.timeouts = short_timeouts();
    tune(&mut config);
    let session = Session::open(config, false).await.unwrap();
    Rig {
        sim,
        session,
        _dir: dir,
    }
}

/// One turn through `session`, with the events it sent (the test fails after 30 s).
pub async fn run_turn(
    session: &mut Session,
    prompt: &str,
    choice: codeforge::core::Choice,
    cancel: &tokio_util::sync::CancellationToken,
) -> (
    Result<codeforge::core::TurnOutcome, codeforge::core::CoreError>,
    Vec<codeforge::core::Event>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let r = tokio::time::timeout(
        Duration::from_secs(30),
        session.run_turn(codeforge::core::TurnId(1), prompt, &choice, cancel, &tx),
    )
    .await
    .expect("turn hung");
    drop(tx);
    let mut events = Vec::new();
    while let Some(e) = rx.recv().await {
        events.push(e);
    }
    (r, events)
}

/// A simulator of the built-in catalog answering after `ttft_ms` at `tps` tokens a second.
pub async fn paced_sim(ttft_ms: u64, tps: f64) -> Simulator {
    Simulator::start(
        Catalog::builtin().unwrap(),
        Behaviour {
            ttft: Duration::from_millis(ttft_ms),
            tokens_per_sec: tps,
            max_answer_tokens: None,
        },
    )
    .await
    .unwrap()
}

/// The real `codeforge` binary with a clean environment and `home` as its home.
pub fn codeforge(home: &Path) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_codeforge"));
    c.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CODEFORGE_HOME", home)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    c
}

/// `codeforge ask ARGS` on `home` against the server at `url` (key "k"), output piped.
pub fn ask_process(home: &Path, url: &str, args: &[&str]) -> tokio::process::Command {
    let mut c = codeforge(home);
    c.env("OPENROUTER_BASE_URL", url)
        .env("OPENROUTER_API_KEY", "k")
        .arg("ask")
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    c
}

/// Start every command at once and wait for all: (exit code, stderr) each, in order.
pub async fn run_all(
    commands: impl IntoIterator<Item = tokio::process::Command>,
) -> Vec<(Option<i32>, String)> {
    let children: Vec<_> = commands
        .into_iter()
        .map(|mut c| c.spawn().unwrap())
        .collect();
    let mut out = Vec::new();
    for child in children {
        let o = tokio::time::timeout(Duration::from_secs(180), child.wait_with_output())
            .await
            .expect("a codeforge process hung")
            .unwrap();
        out.push((
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ));
    }
    out
}

/// What the provider billed for a complete answer, as a settlement.
pub fn billed(
    model: &str,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost: codeforge::money::Usd,
) -> codeforge::ledger::Settlement {
    codeforge::ledger::Settlement {
        status: codeforge::ledger::Status::Ok,
        served_model: Some(model.to_string()),
        prompt_tokens,
        completion_tokens,
        reasoning_tokens: 0,
        cached_tokens: 0,
        cost,
        cost_source: codeforge::ledger::CostSource::Provider,
        ttft_ms: None,
        latency_ms: None,
        error_kind: None,
        generation_id: None,
        baseline_cost: codeforge::money::Usd::ZERO,
    }
}

/// The first notice a turn sent, if any.
pub fn notice(events: &[codeforge::core::Event]) -> Option<String> {
    events.iter().find_map(|e| match e {
        codeforge::core::Event::Notice(n) => Some(n.clone()),
        _ => None,
    })
}

/// What the turn's reservation held, if it got that far.
pub fn reserved(events: &[codeforge::core::Event]) -> Option<codeforge::money::Usd> {
    events.iter().find_map(|e| match e {
        codeforge::core::Event::Reserved { reserved, .. } => Some(*reserved),
        _ => None,
    })
}
