//! Property tests over hostile input (the fuzz targets of the reliability matrix; CI runs a
//! small budget, `scripts/fuzz.sh` a large one): the SSE parser, the Markdown renderer and
//! the config loader never panic, and chunking never changes what the parser produces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use codeforge::config::parse_config;
use codeforge::provider::StreamEvent;
use codeforge::provider::sse::{ChunkInterpreter, SseDecoder, SseItem};
use codeforge::tui::markdown::StreamingMarkdown;
use codeforge::tui::theme::Theme;
use proptest::prelude::*;

fn decode(chunks: &[&[u8]]) -> Vec<SseItem> {
    let mut d = SseDecoder::new();
    let mut out = Vec::new();
    for c in chunks {
        out.extend(d.push(c).unwrap());
    }
    out.extend(d.finish());
    out
}

/// SSE-looking bytes: fragments of real frames mixed with noise.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![
            Just(b"data: ".to_vec()),
            Just(b": OPENROUTER PROCESSING\n\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"data: [DONE]\n\n".to_vec()),
            Just(br#"{"choices":[{"delta":{"content":"hi"}}]}"#.to_vec()),
            Just(br#"{"error":{"code":"x","message":"m"},"usage":{"cost":1e308}}"#.to_vec()),
            Just("°日本".as_bytes().to_vec()),
            proptest::collection::vec(any::<u8>(), 0..16),
        ],
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        .. ProptestConfig::default()
    })]

    #[test]
    fn sse_chunking_never_changes_the_items(bytes in sse_bytes(), cut in 1usize..9) {
        let whole = decode(&[&bytes]);
        let pieces: Vec<&[u8]> = bytes.chunks(cut).collect();
        prop_assert_eq!(decode(&pieces), whole.clone());
        // Interpreting arbitrary items never panics and ends at most once: one `Done` at
        // the most, and nothing after it.
        let mut it = ChunkInterpreter::new();
        let mut events = Vec::new();
        for item in whole {
            events.extend(it.item(item).events);
        }
        let done = events.iter().filter(|e| matches!(e, StreamEvent::Done)).count();
        prop_assert!(done <= 1, "{done} ends");
        if let Some(at) = events.iter().position(|e| matches!(e, StreamEvent::Done)) {
            prop_assert_eq!(at, events.len() - 1, "events after the end: {:?}", &events[at..]);
        }
    }

    #[test]
    fn markdown_never_panics_and_streaming_equals_whole(text in "(?s).{0,400}", cut in 1usize..7) {
        let theme = Theme::dark(false);
        let whole = StreamingMarkdown::render(&text, &theme);
        let mut streamed = StreamingMarkdown::new();
        let chars: Vec<char> = text.chars().collect();
        for piece in chars.chunks(cut) {
            streamed.push(&piece.iter().collect::<String>(), &theme);
            let _ = streamed.tail_line(&theme);
        }
        streamed.finish(&theme);
        prop_assert_eq!(whole.done_blocks(), streamed.done_blocks());
    }

    #[test]
    fn config_loader_never_panics_and_locates_errors(text in "(?s)[\\[\\]a-z_=\"0-9. \n#{}]{0,200}") {
        if let Err(e) = parse_config(Path::new("/x/config.toml"), &text) {
            let msg = e.to_string();
            prop_assert!(msg.starts_with("invalid config /x/config.toml:"), "{}", msg);
        }
    }
}
