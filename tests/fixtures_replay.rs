//! Every real OpenRouter recording in tests/fixtures/openrouter, replayed over real HTTP on
//! loopback (in small pieces, so lines and UTF-8 characters split across reads) through the
//! client and SSE parser: exact text, cost, token counts and error kinds.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use codeforge::money::Usd;
use codeforge::provider::{
    ChatRequest, Completion, ErrorKind, Message, Pump, StreamEnd, StreamEvent, StreamLimits,
    collect, sse,
};
use common::{client, recorded, replay};

fn request() -> ChatRequest {
    ChatRequest {
        model: "any/model".into(),
        messages: vec![Message::user("hi")],
        max_tokens: Some(100),
        temperature: None,
        max_price: None,
    }
}

async fn stream_fixture(
    name: &str,
    index: usize,
    piece: usize,
) -> Result<Completion, codeforge::provider::Failed> {
    let r = recorded(name).remove(index);
    assert_eq!(r.status, 200);
    let url = replay(vec![(200, "text/event-stream", r.body, vec![])], piece).await;
    let stream = client(&url).stream(&request()).await.unwrap();
    collect(stream, Instant::now(), |_| {}).await
}

#[tokio::test]
async fn opencode_text_stream_finish_twice_usage_on_second() {
    for piece in [1, 7, 4096] {
        let c = stream_fixture("opencode__openrouter-streams-text.json", 0, piece)
            .await
            .unwrap();
        assert_eq!(c.content, "Hello!");
        assert_eq!(c.finish_reason.as_deref(), Some("stop"));
        assert_eq!(c.served_model.as_deref(), Some("openai/gpt-4o-mini"));
        assert_eq!(c.provider.as_deref(), Some("Azure"));
        assert_eq!(
            c.generation_id.as_deref(),
            Some("gen-1778031306-UD7bR0I1JNCsPvVzlXat")
        );
        assert_eq!(c.keepalives, 1);
        let u = c.usage.unwrap();
        assert_eq!((u.prompt_tokens, u.completion_tokens), (21, 3));
        assert_eq!(u.cost, Some(Usd::from_nanos(4950)));
        assert!(!u.is_byok);
    }
}

#[tokio::test]
async fn opencode_tool_loop_canonical_slug_and_non_ascii() {
    let c = stream_fixture(
        "opencode__openrouter-claude-opus-4-7-drives-a-tool-loop.json",
        0,
        3,
    )
    .await
    .unwrap();
    assert_eq!(c.content, "");
    assert_eq!(c.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(
        c.served_model.as_deref(),
        Some("anthropic/claude-4.7-opus-20260416")
    );
    assert_eq!(c.provider.as_deref(), Some("Amazon Bedrock"));
    assert_eq!(c.keepalives, 3);
    let u = c.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (802, 66));
    assert_eq!(u.cost, Some(Usd::from_dollars(0.00566)));

    let c = stream_fixture(
        "opencode__openrouter-claude-opus-4-7-drives-a-tool-loop.json",
        1,
        1,
    )
    .await
    .unwrap();
    assert_eq!(c.content, "It's sunny and 22°C in Paris.");
    assert_eq!(c.finish_reason.as_deref(), Some("stop"));
    let u = c.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (899, 19));
    assert_eq!(u.cost, Some(Usd::from_dollars(0.00497)));
}

#[tokio::test]
async fn simonw_final_chunk_without_finish_reason_carries_usage() {
    let c = stream_fixture("llm-openrouter__test_prompt.yaml", 1, 5)
        .await
        .unwrap();
    assert_eq!(c.content, "Pebbles and Skipper.");
    assert_eq!(c.served_model.as_deref(), Some("openai/gpt-4o"));
    let u = c.usage.unwrap();
    assert_eq!((u.prompt_tokens, u.completion_tokens), (17, 6));
    assert_eq!(u.cost, Some(Usd::from_dollars(0.0001025)));
}

#[tokio::test]
async fn pydantic_mid_stream_error_keeps_usage_and_reasoning() {
    let failed = stream_fixture("pydantic-ai__test_openrouter_stream_error.yaml", 0, 11)
        .await
        .unwrap_err();
    assert_eq!(failed.error.kind(), ErrorKind::StreamError);
    assert_eq!(
        failed.error.to_string(),
        "the model stopped with an error mid-stream (400): Token limit reached"
    );
    let p = failed.partial;
    assert_eq!(p.keepalives, 17);
    assert_eq!(p.reasoning, "We need to respond to a greeting. The user");
    assert_eq!(p.content, "");
    assert_eq!(p.finish_reason.as_deref(), Some("length"));
    let u = p.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens),
        (43, 10, 11)
    );
    assert_eq!(u.cost, Some(Usd::ZERO));
}

#[tokio::test]
async fn pydantic_reasoning_stream_with_comments_between_events() {
    let c = stream_fixture(
        "pydantic-ai__test_openrouter_streaming_reasoning.yaml",
        0,
        2,
    )
    .await
    .unwrap();
    assert_eq!(c.content, "2 + 2 = 4");
    assert_eq!(
        c.reasoning,
        "This is a simple arithmetic question. 2+2 equals 4."
    );
    assert_eq!(
        c.served_model.as_deref(),
        Some("anthropic/claude-sonnet-4.5")
    );
    assert_eq!(c.keepalives, 4);
    let u = c.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens),
        (43, 36, 13)
    );
    assert_eq!(u.cost, Some(Usd::from_dollars(0.000669)));
}

#[tokio::test]
async fn pydantic_grok_cached_tokens_and_cost() {
    let c = stream_fixture(
        "pydantic-ai__test_openrouter_stream_with_native_options.yaml",
        0,
        13,
    )
    .await
    .unwrap();
    assert_eq!(
        c.content,
        "I'm Grok, an AI built by xAI. I'm designed to be helpful, maximally truthful, and a bit \
         witty\u{2014}think a mix of the Hitchhiker's Guide to the Galaxy and JARVIS from Iron \
         Man. My goal is to help you understand the universe (and maybe crack a few jokes along \
         the way). What's on your mind?"
    );
    assert_eq!(c.served_model.as_deref(), Some("x-ai/grok-4"));
    assert_eq!(c.keepalives, 8);
    let u = c.usage.unwrap();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.cached_tokens,
            u.reasoning_tokens
        ),
        (687, 187, 679, 118)
    );
    assert_eq!(u.cost, Some(Usd::from_nanos(3_338_250)));
}

#[tokio::test]
async fn pydantic_429_is_rate_limited_with_provider_details() {
    let r = recorded("pydantic-ai__test_openrouter_errors_raised.yaml");
    assert_eq!(r.len(), 3);
    let r = r.into_iter().next().unwrap();
    assert_eq!(r.status, 429);
    let url = replay(
        vec![(
            429,
            "application/json",
            r.body,
            vec![("retry-after".into(), "3".into())],
        )],
        64,
    )
    .await;
    let err = client(&url).stream(&request()).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(3)));
    let msg = err.to_string();
    assert!(msg.starts_with("rate limited (429), retry after 3 s: Provider returned error [Google]: google/gemini-2.0-flash-exp:free is temporarily rate-limited upstream"), "{msg}");
}

#[test]
fn pydantic_non_streaming_usage_with_and_without_cost() {
    let r = recorded("pydantic-ai__test_openrouter_usage.yaml");
    let usage_of = |body: &str| {
        let mut it = sse::ChunkInterpreter::new();
        let out = it.item(sse::SseItem::Data(body.to_string()));
        assert!(out.error.is_none());
        let content: String = out
            .events
            .iter()
            .filter_map(|e| match e {
                codeforge::provider::StreamEvent::Content(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        let usage = out.events.iter().find_map(|e| match e {
            codeforge::provider::StreamEvent::Usage(u) => Some(*u),
            _ => None,
        });
        (content, usage.unwrap())
    };
    let (content, u) = usage_of(&r[0].body);
    assert!(content.starts_with("Brief summary\n- Venus is the second planet from the Sun"));
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens),
        (17, 1515, 704)
    );
    assert_eq!(u.cost, None, "no usage.include → no cost");
    let (content, u) = usage_of(&r[1].body);
    assert!(content.starts_with("Here\u{2019}s a concise but thorough overview of Mars"));
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens),
        (17, 2177, 960)
    );
    assert_eq!(u.cost, Some(Usd::from_dollars(0.00435825)));
}

#[tokio::test]
async fn simonw_models_listing_gives_prices_per_million() {
    let r = recorded("llm-openrouter__test_prompt.yaml").remove(0);
    let url = common::replay_raw(vec![(200, "application/json", r.body, vec![])], 1000).await;
    let models = client(&url).list_models().await.unwrap();
    let ids: Vec<_> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "anthropic/claude-sonnet-4",
            "openai/gpt-4.1-mini",
            "anthropic/claude-3.5-sonnet",
            "openai/gpt-4o",
            "openai/gpt-3.5-turbo"
        ]
    );
    let (p, c) = models[3].prices_per_million().unwrap();
    assert!((p - 2.5).abs() < 1e-9 && (c - 10.0).abs() < 1e-9, "{p} {c}");
    let sonnet = models
        .iter()
        .find(|m| m.id == "anthropic/claude-sonnet-4")
        .unwrap();
    let (p, c) = sonnet.prices_per_million().unwrap();
    assert!((p - 3.0).abs() < 1e-9 && (c - 15.0).abs() < 1e-9, "{p} {c}");
}

/// The turn engine's stream step (the `Pump` every answer goes through) on a real
/// recording: a server that goes past `max_tokens` is cut after the piece that crossed the
/// cap, which is still given; a cancelled turn ends at once with what had arrived.
#[tokio::test]
async fn the_engines_pump_cuts_a_recorded_answer_at_its_cap_and_stops_when_cancelled() {
    let name = "pydantic-ai__test_openrouter_stream_with_native_options.yaml";
    let full = stream_fixture(name, 0, 13).await.unwrap().content;
    let r = recorded(name).remove(0);
    let url = replay(vec![(200, "text/event-stream", r.body.clone(), vec![])], 13).await;
    let stream = client(&url).stream(&request()).await.unwrap();
    let limits = StreamLimits {
        max_tokens: Some(8),
        ..StreamLimits::NONE
    };
    let never = tokio_util::sync::CancellationToken::new();
    let mut pump = Pump::new(stream, Instant::now(), limits);
    let mut shown = String::new();
    let end = loop {
        match pump.next(&never).await {
            Ok(StreamEvent::Content(t)) => shown.push_str(&t),
            Ok(_) => {}
            Err(end) => break end,
        }
    };
    let c = pump.finish();
    // The cap: 8 tokens plus the slack (8/8 + 16) = 25 tokens, ~100 bytes.
    match &end {
        StreamEnd::Failed(e) => assert!(e.to_string().contains("past max_tokens (8)"), "{e}"),
        other => panic!("not cut: {other:?}"),
    }
    assert_eq!(c.content, shown, "every piece kept was shown");
    assert!(
        c.content.len() > 100 && c.content.len() < full.len(),
        "{}",
        c.content.len()
    );
    assert!(full.starts_with(&c.content));

    let url = replay(vec![(200, "text/event-stream", r.body, vec![])], 13).await;
    let stream = client(&url).stream(&request()).await.unwrap();
    let cancelled = tokio_util::sync::CancellationToken::new();
    cancelled.cancel();
    let mut pump = Pump::new(stream, Instant::now(), StreamLimits::NONE);
    assert_eq!(pump.next(&cancelled).await, Err(StreamEnd::Cancelled));
    assert_eq!(pump.finish().content, "");
}
