//! Server-sent-events framing for OpenRouter streams, and the interpretation of each
//! `data:` payload as typed [`StreamEvent`]s.
//!
//! Framing is written here rather than taken from `eventsource-stream` because that crate
//! swallows `:` comments, and OpenRouter's `: OPENROUTER PROCESSING` keep-alives are a
//! signal we surface ("provider is working") and use to reset the idle deadline.
//! Must not import the router, ledger or tui modules; does no IO.

use super::error::ProviderError;
use super::types::{StreamEvent, Usage, WireChunk};

/// Longest line accepted before the stream is declared malformed (a "huge chunk" of a few
/// megabytes is fine; an endless line without a newline is not).
pub const MAX_LINE_BYTES: usize = 32 * 1024 * 1024;

/// One SSE item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    /// A `:` comment line (OpenRouter keep-alive).
    Comment(String),
    /// The joined `data:` lines of one event.
    Data(String),
}

/// Incremental SSE decoder: push bytes as they arrive, get complete items out.
/// Accepts `\n`, `\r\n` and `\r` line ends; decodes UTF-8 per complete line, so a
/// character split across network chunks is reassembled.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    data: Option<String>,
    /// Bytes at the start of `buf` already read without finding a line's end: the next
    /// push goes on from there (a long line in many pieces is read once, not once a piece).
    scanned: usize,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed bytes; returns the items completed by them.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseItem>, ProviderError> {
        self.buf.extend_from_slice(bytes);
        let mut items = Vec::new();
        let mut start = 0;
        let mut i = self.scanned;
        while i < self.buf.len() {
            // Straight to the next line end.
            match self.buf[i..].iter().position(|&b| b == b'\n' || b == b'\r') {
                Some(p) => i += p,
                None => {
                    i = self.buf.len();
                    break;
                }
            }
            let b = self.buf[i];
            if b == b'\n' || b == b'\r' {
                // A lone '\r' at the very end may be the first half of "\r\n": wait.
                if b == b'\r' && i + 1 == self.buf.len() {
                    break;
                }
                let line = String::from_utf8_lossy(&self.buf[start..i]).into_owned();
                self.line(&line, &mut items);
                i += if b == b'\r' && self.buf.get(i + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                start = i;
            } else {
                i += 1;
            }
        }
        self.buf.drain(..start);
        self.scanned = i - start;
        if self.buf.len() > MAX_LINE_BYTES {
            return Err(ProviderError::Protocol {
                detail: format!("an SSE line exceeded {MAX_LINE_BYTES} bytes"),
            });
        }
        Ok(items)
    }

    /// End of input: a final event without its blank line is still delivered.
    pub fn finish(&mut self) -> Vec<SseItem> {
        let mut items = Vec::new();
        self.scanned = 0;
        if !self.buf.is_empty() {
            let line = String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned();
            self.line(&line, &mut items);
        }
        if let Some(data) = self.data.take() {
            items.push(SseItem::Data(data));
        }
        items
    }

    fn line(&mut self, line: &str, items: &mut Vec<SseItem>) {
        if line.is_empty() {
            if let Some(data) = self.data.take() {
                items.push(SseItem::Data(data));
            }
            return;
        }
        if let Some(comment) = line.strip_prefix(':') {
            items.push(SseItem::Comment(comment.trim().to_string()));
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        if field == "data" {
            match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_string()),
            }
        }
        // `event:`, `id:` and `retry:` carry nothing for chat completions.
    }
}

/// Turns `data:` payloads into events, remembering what a stream has already said
/// (the finish chunk is sent twice; the first data chunk starts the answer).
#[derive(Debug, Default)]
pub struct ChunkInterpreter {
    started: bool,
    finished: bool,
    usage_seen: bool,
    done: bool,
}

/// What one payload produced: events, then possibly a terminal error.
#[derive(Debug, Default, PartialEq)]
pub struct Interpreted {
    pub events: Vec<StreamEvent>,
    pub error: Option<ProviderError>,
}

impl ChunkInterpreter {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn finish_seen(&self) -> bool {
        self.finished
    }

    pub fn usage_seen(&self) -> bool {
        self.usage_seen
    }

    pub fn done(&self) -> bool {
        self.done
    }

    /// Interpret one SSE item.
    pub fn item(&mut self, item: SseItem) -> Interpreted {
        // The stream ends once: whatever a server sends after `[DONE]` is not read.
        if self.done {
            return Interpreted::default();
        }
        match item {
            SseItem::Comment(_) => Interpreted {
                events: vec![StreamEvent::KeepAlive],
                error: None,
            },
            SseItem::Data(data) => self.data(&data),
        }
    }

    fn data(&mut self, data: &str) -> Interpreted {
        let mut out = Interpreted::default();
        let trimmed = data.trim();
        if trimmed == "[DONE]" {
            self.done = true;
            out.events.push(StreamEvent::Done);
            return out;
        }
        if trimmed.is_empty() {
            return out;
        }
        let chunk: WireChunk = match serde_json::from_str(trimmed) {
            Ok(c) => c,
            Err(e) => {
                let preview: String = trimmed.chars().take(80).collect();
                out.error = Some(ProviderError::Protocol {
                    detail: format!("invalid JSON in stream ({e}): {preview}"),
                });
                return out;
            }
        };
        if !self.started {
            self.started = true;
            out.events.push(StreamEvent::Started {
                generation_id: chunk.id.clone(),
                served_model: chunk.model.clone(),
                provider: chunk.provider.clone(),
            });
        }
        for choice in &chunk.choices {
            if let Some(delta) = &choice.delta {
                if let Some(r) = delta.reasoning.as_deref().filter(|r| !r.is_empty()) {
                    out.events.push(StreamEvent::Reasoning(r.to_string()));
                }
                if let Some(c) = delta.content.as_deref().filter(|c| !c.is_empty()) {
                    out.events.push(StreamEvent::Content(c.to_string()));
                }
            }
            // Non-streaming shaped choices (`message`) are accepted too.
            if let Some(c) = choice
                .message
                .as_ref()
                .and_then(|m| m.content.as_deref())
                .filter(|c| !c.is_empty())
            {
                out.events.push(StreamEvent::Content(c.to_string()));
            }
            if let Some(reason) = &choice.finish_reason
                && !self.finished
                && reason != "error"
            {
                self.finished = true;
                out.events.push(StreamEvent::Finish {
                    reason: reason.clone(),
                    native: choice.native_finish_reason.clone(),
                });
            }
        }
        if let Some(u) = &chunk.usage
            && !self.usage_seen
        {
            self.usage_seen = true;
            out.events.push(StreamEvent::Usage(Usage::from_wire(u)));
        }
        let choice_error = chunk.choices.iter().find_map(|c| c.error.as_ref());
        if let Some(err) = chunk.error.as_ref().or(choice_error) {
            out.error = Some(ProviderError::StreamError {
                code: err.code.as_ref().map(|c| c.to_string()),
                message: err
                    .message
                    .clone()
                    .unwrap_or_else(|| "no message given".to_string()),
            });
        } else if chunk
            .choices
            .iter()
            .any(|c| c.finish_reason.as_deref() == Some("error"))
        {
            out.error = Some(ProviderError::StreamError {
                code: None,
                message: "finish_reason \"error\" without details".to_string(),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_in_many_pieces_is_one_item_and_read_once() {
        // 300 KB of data in 4 KB pieces, its "\r\n" split across two pushes.
        let body = "y".repeat(300 * 1024);
        let text = format!("data: {body}\r\n\r\n: ping\n\n");
        let bytes = text.as_bytes();
        let mut d = SseDecoder::new();
        let mut items = Vec::new();
        let cut = bytes.len() - 11; // between the first "\r" and its "\n"
        for piece in bytes[..cut].chunks(4096) {
            items.extend(d.push(piece).unwrap());
        }
        assert!(items.is_empty());
        // Only the kept partial line is held, already read to its end.
        assert_eq!(
            d.scanned,
            d.buf.len() - 1,
            "the trailing '\\r' is read again"
        );
        items.extend(d.push(&bytes[cut..]).unwrap());
        assert_eq!(items.len(), 2);
        assert!(items[0] == SseItem::Data(body), "the data differs");
        assert!(
            matches!(&items[1], SseItem::Comment(c) if c.trim() == "ping"),
            "{:?}",
            items[1]
        );
    }

    fn all_items(chunks: &[&[u8]]) -> Vec<SseItem> {
        let mut d = SseDecoder::new();
        let mut items = Vec::new();
        for c in chunks {
            items.extend(d.push(c).unwrap());
        }
        items.extend(d.finish());
        items
    }

    #[test]
    fn comments_data_and_line_endings() {
        let items = all_items(&[b": OPENROUTER PROCESSING\r\n\r\ndata: a\rdata: b\r\rdata:c\n\n"]);
        assert_eq!(
            items,
            vec![
                SseItem::Comment("OPENROUTER PROCESSING".into()),
                SseItem::Data("a\nb".into()),
                SseItem::Data("c".into()),
            ]
        );
    }

    #[test]
    fn split_crlf_and_split_utf8_are_reassembled() {
        let text = "data: 25°C\r\n\r\n".as_bytes();
        // Split inside the two-byte '°' and between '\r' and '\n'.
        let deg = text.iter().position(|&b| b == 0xC2).unwrap();
        let cr = text.iter().position(|&b| b == b'\r').unwrap();
        let items = all_items(&[&text[..=deg], &text[deg + 1..=cr], &text[cr + 1..]]);
        assert_eq!(items, vec![SseItem::Data("25°C".into())]);
    }

    #[test]
    fn bare_colon_comment_and_unknown_fields() {
        let items = all_items(&[b": \n\nevent: x\nid: 7\nretry: 10\ndata: {}\n\n"]);
        assert_eq!(
            items,
            vec![SseItem::Comment(String::new()), SseItem::Data("{}".into())]
        );
    }

    #[test]
    fn finish_sent_twice_is_reported_once() {
        let mut it = ChunkInterpreter::new();
        let chunk = r#"{"id":"gen-1","model":"m","choices":[{"delta":{"content":""},"finish_reason":"stop"}]}"#;
        let a = it.item(SseItem::Data(chunk.into()));
        let b = it.item(SseItem::Data(chunk.into()));
        assert_eq!(
            a.events
                .iter()
                .filter(|e| matches!(e, StreamEvent::Finish { .. }))
                .count(),
            1
        );
        assert!(b.events.is_empty());
    }

    #[test]
    fn malformed_json_is_a_protocol_error() {
        let mut it = ChunkInterpreter::new();
        let r = it.item(SseItem::Data("{\"choices\": [".into()));
        assert!(matches!(r.error, Some(ProviderError::Protocol { .. })));
    }
}
