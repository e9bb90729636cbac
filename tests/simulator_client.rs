//! The client against the built-in simulator over real HTTP on loopback: answers, usage and
//! cost, headers, and every injected fault ending in its typed error within the deadline.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use codeforge::catalog::Catalog;
use codeforge::config::{ApiKey, Timeouts};
use codeforge::money::Usd;
use codeforge::provider::{
    ChatRequest, Completion, ErrorKind, Failed, Message, OpenRouterClient, TimeoutPhase, collect,
};
use codeforge::simulator::{Behaviour, Fault, FaultPlan, Simulator};

const CLAUDE: &str = "anthropic/claude-sonnet-4";

async fn sim() -> Simulator {
    Simulator::start(Catalog::builtin().unwrap(), Behaviour::default())
        .await
        .unwrap()
}

fn client_with(sim: &Simulator, timeouts: Timeouts) -> OpenRouterClient {
    OpenRouterClient::new(&sim.url(), Some(ApiKey::new("test-key")), timeouts).unwrap()
}

fn req(model: &str, prompt: &str) -> ChatRequest {
    ChatRequest {
        model: model.into(),
        messages: vec![Message::system("be brief"), Message::user(prompt)],
        max_tokens: Some(4096),
        temperature: None,
        max_price: None,
    }
}

async fn ask(sim: &Simulator, model: &str, prompt: &str) -> Result<Completion, Failed> {
    ask_with(sim, model, prompt, common::short_timeouts()).await
}

async fn ask_with(
    sim: &Simulator,
    model: &str,
    prompt: &str,
    timeouts: Timeouts,
) -> Result<Completion, Failed> {
    let client = client_with(sim, timeouts);
    let started = Instant::now();
    let work = async {
        match client.stream(&req(model, prompt)).await {
            Ok(s) => collect(s, started, |_| {}).await,
            Err(error) => Err(Failed {
                error,
                partial: Completion::default(),
            }),
        }
    };
    // A hang detector, not a timing goal: every path must end by its own deadline.
    tokio::time::timeout(Duration::from_secs(20), work)
        .await
        .expect("request hung past every deadline")
}

#[tokio::test]
async fn code_request_streams_a_fenced_block_with_provider_cost() {
    let sim = sim().await;
    let c = ask(&sim, CLAUDE, "write a rust function that adds two numbers")
        .await
        .unwrap();
    assert!(
        c.content
            .contains("```rust\n/// Adds two numbers.\npub fn add(a: i64, b: i64) -> i64 {")
    );
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    assert_eq!(c.served_model.as_deref(), Some(CLAUDE));
    assert!(c.keepalives >= 1);
    let u = c.usage.unwrap();
    let catalog = Catalog::builtin().unwrap();
    let expected = catalog
        .get(CLAUDE)
        .unwrap()
        .cost(u.prompt_tokens, u.completion_tokens);
    assert_eq!(u.cost, Some(expected));
    assert!(u.cost.unwrap() > Usd::ZERO);
    // The simulator's own record agrees (what /generation would report).
    let id = c.generation_id.unwrap();
    let g = sim.generation(&id).unwrap();
    assert_eq!(Usd::from_dollars(g.total_cost), expected);
    assert_eq!(g.completion_tokens, u.completion_tokens);
}

#[tokio::test]
async fn the_simulator_remembers_only_its_newest_requests_or_none() {
    let sim = sim().await;
    let n = codeforge::simulator::REQUESTS_KEPT + 3;
    for i in 0..n {
        ask(&sim, CLAUDE, &format!("question {i}")).await.unwrap();
    }
    let kept = sim.requests();
    assert_eq!(kept.len(), codeforge::simulator::REQUESTS_KEPT);
    let prompt = |r: &codeforge::simulator::RecordedRequest| {
        r.body.as_ref().unwrap()["messages"][1]["content"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // The oldest three went; the newest is last.
    assert_eq!(prompt(&kept[0]), "question 3");
    assert_eq!(prompt(&kept[kept.len() - 1]), format!("question {}", n - 1));
    // A simulator nobody asks (the demo) keeps nothing, and still answers.
    sim.keep_no_requests();
    assert!(sim.requests().is_empty());
    ask(&sim, CLAUDE, "one more").await.unwrap();
    assert!(sim.requests().is_empty());
}

#[tokio::test]
async fn requests_carry_auth_attribution_and_usage_flags() {
    let sim = sim().await;
    ask(&sim, CLAUDE, "hello").await.unwrap();
    let r = sim.requests().pop().unwrap();
    assert_eq!(r.path, "/api/v1/chat/completions");
    assert_eq!(r.authorization.as_deref(), Some("Bearer test-key"));
    assert_eq!(r.title.as_deref(), Some("CodeForge"));
    assert!(r.referer.is_some());
    let body = r.body.unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["usage"]["include"], true);
    assert_eq!(body["max_tokens"], 4096);
    assert_eq!(body["messages"][1]["content"], "hello");
}

#[tokio::test]
async fn reasoning_model_streams_reasoning_then_content() {
    let sim = sim().await;
    let c = ask(&sim, "x-ai/grok-4", "design a rate limiter")
        .await
        .unwrap();
    assert!(
        c.reasoning
            .starts_with("The user asks: \"design a rate limiter\"")
    );
    assert!(c.content.starts_with("## Design: design a rate limiter"));
    assert!(c.usage.unwrap().reasoning_tokens > 0);
}

#[tokio::test]
async fn ttft_and_speed_are_honoured() {
    let sim = sim().await;
    sim.set_behaviour(
        Some(CLAUDE),
        Behaviour {
            ttft: Duration::from_millis(300),
            tokens_per_sec: 0.0,
            max_answer_tokens: None,
        },
    );
    let c = ask(&sim, CLAUDE, "hello").await.unwrap();
    assert!(
        c.ttft.unwrap() >= Duration::from_millis(300),
        "{:?}",
        c.ttft
    );
}

#[tokio::test]
async fn max_tokens_stops_with_length() {
    let sim = sim().await;
    let client = client_with(&sim, common::short_timeouts());
    let mut r = req(CLAUDE, "write a rust function that adds two numbers");
    r.max_tokens = Some(5);
    let s = client.stream(&r).await.unwrap();
    let c = collect(s, Instant::now(), |_| {}).await.unwrap();
    assert_eq!(c.finish_reason.as_deref(), Some("length"));
    assert_eq!(c.usage.unwrap().completion_tokens, 5);
}

async fn status_error(code: u16, retry_after: Option<u64>) -> codeforge::provider::ProviderError {
    let sim = sim().await;
    sim.fail(CLAUDE, Fault::Status { code, retry_after });
    ask(&sim, CLAUDE, "hi").await.unwrap_err().error
}

#[tokio::test]
async fn http_statuses_become_typed_errors() {
    let cases = [
        (401, ErrorKind::Auth, false),
        (402, ErrorKind::Credits, false),
        (403, ErrorKind::Moderation, false),
        (500, ErrorKind::Server, true),
        (502, ErrorKind::Upstream, true),
        (503, ErrorKind::NoProvider, true),
    ];
    for (code, kind, retryable) in cases {
        let e = status_error(code, None).await;
        assert_eq!(e.kind(), kind, "{code}: {e}");
        assert_eq!(e.is_retryable(), retryable, "{code}");
        assert!(e.to_string().contains(&format!("({code})")), "{e}");
    }
    let e = status_error(429, Some(7)).await;
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
    let e = status_error(503, Some(2)).await;
    assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
}

#[tokio::test]
async fn refused_and_unreachable_are_connect_errors() {
    let sim = sim().await;
    sim.fail(CLAUDE, Fault::Refuse);
    let e = ask(&sim, CLAUDE, "hi").await.unwrap_err().error;
    assert_eq!(e.kind(), ErrorKind::Connect, "{e}");

    // Nothing listens on this port: a real "connection refused".
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let client = OpenRouterClient::new(
        &format!("http://127.0.0.1:{port}/api/v1"),
        Some(ApiKey::new("k")),
        common::short_timeouts(),
    )
    .unwrap();
    let e = client.stream(&req(CLAUDE, "hi")).await.err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Connect);
    assert!(e.is_retryable());
    assert!(!e.to_string().contains('\n'));
}

fn quick_deadlines() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        first_byte: Duration::from_millis(400),
        idle: Duration::from_millis(400),
        first_token: Duration::from_secs(10),
        turn: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn stall_before_first_byte_hits_the_first_byte_deadline() {
    let sim = sim().await;
    sim.fail(CLAUDE, Fault::Stall);
    let e = ask_with(&sim, CLAUDE, "hi", quick_deadlines())
        .await
        .unwrap_err()
        .error;
    assert_eq!(
        e,
        codeforge::provider::ProviderError::Timeout {
            phase: TimeoutPhase::FirstByte,
            after: Duration::from_millis(400)
        }
    );
}

#[tokio::test]
async fn stall_mid_stream_hits_the_idle_deadline_and_keeps_the_partial() {
    let sim = sim().await;
    sim.fail(CLAUDE, Fault::StallMidStream { after_tokens: 4 });
    let f = ask_with(
        &sim,
        CLAUDE,
        "write a rust function that adds two numbers",
        quick_deadlines(),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        f.error,
        codeforge::provider::ProviderError::Timeout {
            phase: TimeoutPhase::Idle,
            ..
        }
    ));
    assert!(f.partial.content.starts_with("Here is a small"));
}

#[tokio::test]
async fn disconnect_mid_stream_is_a_cut_with_the_partial_answer() {
    let sim = sim().await;
    sim.fail(CLAUDE, Fault::Disconnect { after_tokens: 3 });
    let f = ask(&sim, CLAUDE, "write a rust function that adds two numbers")
        .await
        .unwrap_err();
    assert_eq!(f.error.kind(), ErrorKind::StreamCut, "{}", f.error);
    assert_eq!(f.partial.content, "Here is a", "{f:?}");
    assert!(f.partial.usage.is_none());
}

#[tokio::test]
async fn error_chunk_mid_stream_reports_usage_then_the_error() {
    let sim = sim().await;
    sim.fail(CLAUDE, Fault::ErrorChunk { after_tokens: 2 });
    let f = ask(&sim, CLAUDE, "hello").await.unwrap_err();
    assert_eq!(f.error.kind(), ErrorKind::StreamError);
    assert!(
        f.error
            .to_string()
            .contains("Upstream provider disconnected")
    );
    let u = f.partial.usage.unwrap();
    assert_eq!(u.completion_tokens, 2);
    assert!(u.cost.is_some());
}

#[tokio::test]
async fn malformed_json_is_a_protocol_error() {
    let sim = sim().await;
    sim.fail(CLAUDE, Fault::MalformedJson { after_tokens: 1 });
    let f = ask(&sim, CLAUDE, "hello").await.unwrap_err();
    assert_eq!(f.error.kind(), ErrorKind::Protocol);
    assert_eq!(f.partial.content, "Sure.");
}

#[tokio::test]
async fn missing_usage_chunk_still_completes() {
    let sim = sim().await;
    sim.fail(CLAUDE, Fault::NoUsage);
    let c = ask(&sim, CLAUDE, "hello").await.unwrap();
    assert!(c.usage.is_none());
    assert!(c.content.starts_with("Sure."));
}

#[tokio::test]
async fn a_huge_single_chunk_arrives_whole() {
    let sim = sim().await;
    sim.fail(CLAUDE, Fault::HugeChunk { bytes: 3_000_000 });
    let c = ask(&sim, CLAUDE, "hello").await.unwrap();
    assert_eq!(c.content.len(), 3_000_000);
}

#[tokio::test]
async fn limited_faults_expire_after_n_requests() {
    let sim = sim().await;
    sim.set_fault(
        CLAUDE,
        FaultPlan {
            fault: Fault::Status {
                code: 503,
                retry_after: None,
            },
            remaining: Some(2),
        },
    );
    assert!(ask(&sim, CLAUDE, "a").await.is_err());
    assert!(ask(&sim, CLAUDE, "b").await.is_err());
    assert!(ask(&sim, CLAUDE, "c").await.is_ok());
}

#[tokio::test]
async fn unlisted_models_vanish_from_models_and_answer_404() {
    let sim = sim().await;
    sim.unlist("x-ai/grok-4");
    let client = client_with(&sim, common::short_timeouts());
    let listed = client.list_models().await.unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|m| m.id != "x-ai/grok-4"));
    let claude = listed.iter().find(|m| m.id == CLAUDE).unwrap();
    assert_eq!(claude.prices_per_million(), Some((3.0, 15.0)));
    let e = ask(&sim, "x-ai/grok-4", "hi").await.unwrap_err().error;
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    assert!(e.to_string().contains("No endpoints found for x-ai/grok-4"));
}

#[tokio::test]
async fn missing_or_wrong_key_is_401() {
    let sim = sim().await;
    let anon = OpenRouterClient::new(&sim.url(), None, common::short_timeouts()).unwrap();
    let e = anon.stream(&req(CLAUDE, "hi")).await.err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Auth);
    sim.require_key("right");
    let e = ask(&sim, CLAUDE, "hi").await.unwrap_err().error;
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(!e.to_string().contains("test-key"));
}

#[tokio::test]
async fn non_streaming_generation_and_key_endpoints() {
    let sim = sim().await;
    codeforge::provider::install_crypto_provider();
    let http = reqwest::Client::new();
    let v: serde_json::Value = http
        .post(format!("{}/chat/completions", sim.url()))
        .bearer_auth("k")
        .json(&serde_json::json!({"model": "openai/o3", "messages": [{"role": "user", "content": "prove that 2+2=4"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "chat.completion");
    assert!(
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .contains("Worked")
    );
    let cost = v["usage"]["cost"].as_f64().unwrap();
    assert!(cost > 0.0);
    let id = v["id"].as_str().unwrap();
    let g: serde_json::Value = http
        .get(format!("{}/generation?id={id}", sim.url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(g["data"]["total_cost"].as_f64().unwrap(), cost);
    let k: serde_json::Value = http
        .get(format!("{}/key", sim.url()))
        .bearer_auth("k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(k["data"]["usage"].as_f64().unwrap(), cost);
}

#[tokio::test]
async fn dropping_the_stream_cancels_and_is_recorded() {
    let sim = sim().await;
    sim.set_behaviour(
        Some(CLAUDE),
        Behaviour {
            ttft: Duration::ZERO,
            tokens_per_sec: 50.0,
            max_answer_tokens: None,
        },
    );
    let client = client_with(&sim, common::short_timeouts());
    let mut s = client
        .stream(&req(CLAUDE, "write a rust function that adds two numbers"))
        .await
        .unwrap();
    let id = s.generation_id().unwrap().to_string();
    // Read a few events, then drop: the connection closes.
    for _ in 0..4 {
        s.next().await.unwrap().unwrap();
    }
    drop(s);
    let mut cancelled = false;
    for _ in 0..100 {
        if sim.generation(&id).is_some_and(|g| g.cancelled) {
            cancelled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(cancelled, "the simulator never saw the cancel");
}
