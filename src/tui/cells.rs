//! Transcript cells (user message, answer with its route card, notice) and their layout
//! cache: each cell keeps its wrapped lines for the current width, and a streaming answer
//! only wraps its newly finished lines plus the open tail.

use std::sync::Arc;

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::markdown::StreamingMarkdown;
use super::theme::Theme;
use super::wrap::wrap;
use crate::core::protocol::RouteCard;
use crate::core::{TurnId, TurnOutcome};
use crate::sanitize::{Sanitizer, for_terminal, is_shown_as_is};

/// The text an answer shows, kept to render it again once its lines were dropped: its own
/// sanitised copy as it streamed in, or, once finished, the raw answer as the conversation
/// holds it (the same allocation), sanitised again whenever it is rendered again.
#[derive(Debug, Default)]
struct Source {
    own: String,
    shared: Option<Arc<str>>,
}

impl Source {
    /// The text to append to (a shared text becomes its own again: nothing appends after
    /// the end, but nothing is lost if something does).
    fn own(&mut self) -> &mut String {
        if let Some(raw) = self.shared.take() {
            self.own = for_terminal(&raw);
        }
        &mut self.own
    }

    /// Hold `raw` instead of the own copy, if that is what it shows once sanitised.
    fn share(&mut self, raw: &Arc<str>) {
        if self.shared.is_some() {
            return;
        }
        let same = if is_shown_as_is(raw) {
            *self.own == **raw
        } else {
            self.own == for_terminal(raw)
        };
        if same {
            self.own = String::new();
            self.shared = Some(Arc::clone(raw));
        }
    }

    /// The text as shown.
    fn shown(&self) -> std::borrow::Cow<'_, str> {
        match &self.shared {
            Some(raw) if is_shown_as_is(raw) => raw.as_ref().into(),
            Some(raw) => for_terminal(raw).into(),
            None => self.own.as_str().into(),
        }
    }
}

/// Where an answer is.
#[derive(Debug, Clone, PartialEq)]
pub enum AnswerState {
    Routing,
    Waiting,
    Streaming,
    Done,
    Cancelled,
    Cut(String),
    Failed(String),
}

pub struct Answer {
    pub turn: TurnId,
    pub prompt: String,
    pub card: Option<RouteCard>,
    pub expanded: bool,
    pub fallbacks: Vec<String>,
    /// The model a fallback moved to (display name), until the outcome names it.
    pub serving: Option<String>,
    pub md: StreamingMarkdown,
    sanitizer: Sanitizer,
    reasoning_sanitizer: Sanitizer,
    pub reasoning: String,
    pub outcome: Option<TurnOutcome>,
    pub state: AnswerState,
    pub tokens: u64,
    /// Esc was pressed: nothing more is shown, whatever is still on its way.
    pub stopped: bool,
    /// The key that expands the card, as the hint names it (keys can be rebound).
    pub expand_key: String,
    // layout cache
    width: u16,
    /// The content as shown, from which a shed answer is rendered again.
    source: Source,
    /// The stream ended and the document was finished (only then may it be shed).
    finished: bool,
    /// Its rendered lines were dropped while far from the view (see `shed`).
    shed: bool,
    /// Another answer came after this one (see [`Answer::no_longer_last`]).
    earlier: bool,
    /// Where each finished block starts among the wrapped lines of the finished part (its
    /// lines are wrapped again when they are drawn: only what is on screen is held twice).
    done_starts: Vec<usize>,
    done_height: usize,
    tail: Vec<Line<'static>>,
    head: Vec<Line<'static>>,
    head_dirty: bool,
}

impl Answer {
    pub fn new(turn: TurnId, prompt: String) -> Self {
        Self {
            turn,
            prompt,
            card: None,
            expanded: false,
            fallbacks: Vec::new(),
            serving: None,
            md: StreamingMarkdown::new(),
            sanitizer: Sanitizer::new(),
            reasoning_sanitizer: Sanitizer::new(),
            reasoning: String::new(),
            outcome: None,
            state: AnswerState::Routing,
            tokens: 0,
            stopped: false,
            expand_key: "Ctrl-E".into(),
            width: 0,
            source: Source::default(),
            finished: false,
            shed: false,
            earlier: false,
            done_starts: Vec::new(),
            done_height: 0,
            tail: Vec::new(),
            head: Vec::new(),
            head_dirty: true,
        }
    }

    pub fn push_content(&mut self, text: &str, theme: &Theme) {
        if self.stopped {
            return;
        }
        let safe = self.sanitizer.push(text);
        self.md.push(&safe, theme);
        self.source.own().push_str(&safe);
        self.tokens += 1;
        self.state = AnswerState::Streaming;
    }

    pub fn push_reasoning(&mut self, text: &str) {
        if self.stopped {
            return;
        }
        let safe = self.reasoning_sanitizer.push(text);
        self.reasoning.push_str(&safe);
        self.tokens += 1;
        self.head_dirty = true;
    }

    /// The stream ended (its outcome, if any, is already set).
    pub fn finish(&mut self, theme: &Theme) {
        self.md.finish(theme);
        // The conversation keeps the answer's raw text for the next request: where the
        // screen shows exactly that text sanitised, the transcript holds the same text
        // rather than a second copy (an answer stopped with Esc shows only a part).
        if let Some(o) = &self.outcome {
            self.source.share(&o.content);
        }
        // Not shared: grown by appending, the text holds up to as much spare room again.
        self.source.own.shrink_to_fit();
        self.reasoning.shrink_to_fit();
        self.finished = true;
        self.head_dirty = true;
    }

    /// Another answer came after this one: only the last answer is copied (whole with
    /// Alt-Y, its last code block with the copy-code key), so an earlier one drops the
    /// raw text its outcome carried and its code blocks, and keeps its text once (what the
    /// screen shows).
    pub fn no_longer_last(&mut self) {
        if self.earlier {
            return;
        }
        if let Some(o) = &mut self.outcome {
            o.content = Arc::from("");
            o.reasoning = String::new();
        }
        self.md.forget_code_blocks();
        self.earlier = true;
    }

    /// Far from the view: drop the rendered lines of a finished answer, keeping its text,
    /// code blocks and laid-out heights (a long transcript holds text, not styled lines).
    pub fn shed(&mut self) {
        if self.finished && !self.shed {
            self.md.shed();
            // Where each block starts is laid out again with the blocks; the height stays.
            self.done_starts = Vec::new();
            self.shed = true;
        }
    }

    /// Near the view again (or the width changed): render the text again.
    pub fn unshed(&mut self, theme: &Theme) {
        if self.shed {
            self.md = StreamingMarkdown::replay(&self.source.shown(), theme);
            if self.earlier {
                self.md.forget_code_blocks();
            }
            self.shed = false;
            // Laid out again from the blocks as now rendered.
            self.done_starts.clear();
            self.done_height = 0;
        }
    }

    pub fn is_shed(&self) -> bool {
        self.shed
    }

    pub fn touch_head(&mut self) {
        self.head_dirty = true;
    }

    /// The card in one line, for a narrow pane: model, task, estimate (and cost), and the
    /// key for the rest.
    fn one_line_card(&self, d: &RouteCard, theme: &Theme) -> Line<'static> {
        let model = match (&self.outcome, &self.serving) {
            (Some(o), _) => short(&o.served_model),
            (None, Some(to)) => to.clone(),
            (None, None) => d.model_name.clone(),
        };
        let mut spans = vec![
            Span::styled("◆ ", theme.route_card),
            Span::styled(model, theme.route_card.add_modifier(Modifier::BOLD)),
            Span::styled(format!(" · {}/{}", d.intent, d.complexity), theme.muted),
        ];
        if !self.fallbacks.is_empty() {
            spans.push(Span::styled(" · fallback", theme.warn));
        }
        spans.push(Span::styled(
            format!(" · est {}", d.estimated_cost),
            theme.muted,
        ));
        if let Some(o) = &self.outcome {
            spans.push(Span::styled(format!(" → {}", o.cost), theme.ok));
            if o.finish_reason.as_deref() == Some("length") {
                spans.push(Span::styled(" · cut at max_tokens", theme.warn));
            }
        }
        spans.push(Span::styled(format!(" [{}]", self.expand_key), theme.muted));
        Line::from(spans)
    }

    /// The full card's two lines: model, task and why; the estimate, the cost and timing.
    fn card_lines(&self, d: &RouteCard, theme: &Theme) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        let mut spans = vec![
            Span::styled("◆ ", theme.route_card),
            Span::styled(
                match (&self.outcome, &self.serving) {
                    (Some(o), _) => short(&o.served_model),
                    (None, Some(to)) => to.clone(),
                    (None, None) => d.model_name.clone(),
                },
                theme.route_card.add_modifier(Modifier::BOLD),
            ),
            Span::styled(
                format!(" · {} / {} · ", d.intent, d.complexity),
                theme.muted,
            ),
        ];
        // After a fallback the routing reason and estimate were the first model's:
        // say what happened and estimate the model that answers.
        let answering = self.outcome.as_ref().map(|o| o.requested_model.as_str());
        let fell_back = !self.fallbacks.is_empty();
        if fell_back {
            spans.push(Span::styled(
                format!(
                    "fallback: {} failed before its first token (↪ below)",
                    d.model_name
                ),
                theme.warn,
            ));
        } else {
            spans.push(Span::styled(reason_tail(&d.reason), theme.text));
        }
        lines.push(Line::from(spans));
        let estimate = match answering {
            Some(m) if fell_back => d.candidate(m).map_or(d.estimated_cost, |c| c.cost),
            _ => d.estimated_cost,
        };
        let mut cost = vec![Span::styled(format!("  est {estimate}"), theme.muted)];
        if d.history_trimmed > 0 {
            cost.push(Span::styled(
                format!(" · {} oldest messages left out to fit", d.history_trimmed),
                theme.warn,
            ));
        }
        if let Some(o) = &self.outcome {
            let est = if o.cost_source.is_estimate() {
                " (est.)"
            } else {
                ""
            };
            cost.push(Span::styled(format!(" → {}{est}", o.cost), theme.ok));
            cost.push(Span::styled(
                format!(
                    " · first token {} · {} ms · {} tokens",
                    o.ttft_ms.map_or("-".into(), |t| format!("{t} ms")),
                    o.latency_ms,
                    o.completion_tokens
                ),
                theme.muted,
            ));
            // A truncated answer is never passed off as complete.
            if o.finish_reason.as_deref() == Some("length") {
                cost.push(Span::styled(
                    match d.budget_cap {
                        Some(cap) => {
                            format!(" · cut at max_tokens: today's budget allowed ~{cap} tokens")
                        }
                        None => " · cut at max_tokens".to_string(),
                    },
                    theme.warn,
                ));
            }
        }
        cost.push(Span::styled(
            format!(
                "  [{} {}]",
                self.expand_key,
                if self.expanded { "hide" } else { "details" }
            ),
            theme.muted,
        ));
        lines.push(Line::from(cost));
        lines
    }

    fn head_lines(&self, theme: &Theme, width: u16) -> Vec<Line<'static>> {
        let mut lines = Vec::new();
        match &self.card {
            Some(d) if width < ONE_LINE_CARD_BELOW && !self.expanded => {
                lines.push(self.one_line_card(d, theme));
            }
            None => {
                // No decision: still routing, refused before a model was chosen, or an
                // answer resumed from a ledger that has no decision for it.
                let head = match self.state {
                    AnswerState::Failed(_) | AnswerState::Cut(_) => "◆ not sent",
                    AnswerState::Done | AnswerState::Cancelled => "◆ earlier answer",
                    AnswerState::Routing | AnswerState::Waiting | AnswerState::Streaming => {
                        "◆ routing…"
                    }
                };
                lines.push(Line::styled(head, theme.route_card));
            }
            Some(d) => {
                lines.extend(self.card_lines(d, theme));
                if self.expanded {
                    lines.extend(card_details(d, theme));
                }
            }
        }
        for f in &self.fallbacks {
            lines.push(Line::styled(format!("  ↪ {f}"), theme.warn));
        }
        if !self.reasoning.is_empty() {
            let style = theme.reasoning.add_modifier(Modifier::DIM);
            if self.expanded {
                for l in self.reasoning.lines() {
                    lines.push(Line::styled(format!("  ┊ {l}"), style));
                }
            } else {
                let words = self.reasoning.split_whitespace().count();
                lines.push(Line::styled(
                    format!("  ▸ reasoning ({words} words, ^E shows)"),
                    style,
                ));
            }
        }
        lines
    }

    /// Bring the layout cache up to date for this width: only lines finished since the
    /// last call are wrapped; the open tail and the status line are laid out again.
    pub fn layout(&mut self, width: u16, theme: &Theme) {
        if width != self.width {
            self.unshed(theme);
            self.width = width;
            self.done_starts.clear();
            self.done_height = 0;
            self.head_dirty = true;
        }
        if self.head_dirty {
            self.head = self
                .head_lines(theme, width)
                .iter()
                .flat_map(|l| wrap(l, width))
                .collect();
            self.head_dirty = false;
        }
        let done = if self.shed {
            &[][..]
        } else {
            self.md.done_blocks()
        };
        for b in done.iter().skip(self.done_starts.len()) {
            self.done_starts.push(self.done_height);
            self.done_height += b.wrapped(width).len();
        }
        self.tail.clear();
        if let Some(table) = self.md.open_table(theme) {
            for l in table.lines(width) {
                self.tail.extend(wrap(&l, width));
            }
        }
        if let Some(t) = self.md.tail_line(theme) {
            self.tail.extend(wrap(&t, width));
        }
        match &self.state {
            AnswerState::Cancelled => self.tail.push(Line::styled("[cancelled]", theme.warn)),
            AnswerState::Routing | AnswerState::Waiting | AnswerState::Streaming
                if self.stopped =>
            {
                self.tail.push(Line::styled("[cancelling…]", theme.warn))
            }
            AnswerState::Cut(e) => self.tail.extend(wrap(
                &Line::styled(
                    format!("[answer cut: {e}] — ^R runs it again on the next model"),
                    theme.danger,
                ),
                width,
            )),
            AnswerState::Failed(e) => {
                // The hint only where a model was tried (not for a budget refusal).
                let hint = if self.card.is_some() {
                    " — ^R runs it on the next model"
                } else {
                    ""
                };
                self.tail.extend(wrap(
                    &Line::styled(format!("✗ {e}{hint}"), theme.danger),
                    width,
                ))
            }
            _ => {}
        }
        self.tail.push(Line::default());
    }

    /// Lines after `layout`.
    pub fn height(&self) -> usize {
        self.head.len() + self.done_height + self.tail.len()
    }

    /// Lines `[from, to)` after `layout`.
    pub fn slice(&self, from: usize, to: usize) -> Vec<Line<'static>> {
        let (head, done_end) = (self.head.len(), self.head.len() + self.done_height);
        let mut out: Vec<Line<'static>> = self
            .head
            .iter()
            .skip(from)
            .take(to.min(head).saturating_sub(from))
            .cloned()
            .collect();
        // The finished part: only the blocks that reach into [from, to) are wrapped.
        let (lo, hi) = (from.max(head) - head, to.min(done_end).saturating_sub(head));
        if lo < hi {
            let first = self
                .done_starts
                .partition_point(|&s| s <= lo)
                .saturating_sub(1);
            let blocks = self.md.done_blocks();
            for (b, &start) in blocks[first..].iter().zip(&self.done_starts[first..]) {
                if start >= hi {
                    break;
                }
                out.extend(
                    b.wrapped(self.width)
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| (lo..hi).contains(&(start + i)))
                        .map(|(_, l)| l),
                );
            }
        }
        out.extend(
            self.tail
                .iter()
                .skip(from.saturating_sub(done_end))
                .take(to.saturating_sub(from.max(done_end)))
                .cloned(),
        );
        out
    }
}

fn short(model: &str) -> String {
    model.rsplit('/').next().unwrap_or(model).to_string()
}

/// Narrower than this, the route card is one line until it is expanded.
pub const ONE_LINE_CARD_BELOW: u16 = 80;

/// The reason line without its "intent · complexity · model:" prefix (shown separately).
fn reason_tail(reason: &str) -> String {
    let rest = match reason.split_once(": ") {
        Some((_, rest)) => rest,
        None => reason,
    };
    // The estimate has its own line on the card and the preference is in the status bar:
    // said once each.
    rest.split(" · ")
        .filter(|part| !part.starts_with("est $") && !part.starts_with("pref "))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// One transcript entry.
pub enum Cell {
    User {
        text: String,
        cache: Option<(u16, Vec<Line<'static>>)>,
    },
    Answer(Box<Answer>),
    Notice {
        text: String,
        style: Style,
        cache: Option<(u16, Vec<Line<'static>>)>,
    },
}

impl Cell {
    pub fn user(text: &str) -> Self {
        Cell::User {
            text: for_terminal(text),
            cache: None,
        }
    }

    pub fn notice(text: &str, style: Style) -> Self {
        Cell::Notice {
            text: for_terminal(text),
            style,
            cache: None,
        }
    }

    /// Update the layout cache for this width.
    pub fn layout(&mut self, width: u16, theme: &Theme) {
        match self {
            Cell::Answer(a) => a.layout(width, theme),
            Cell::User { text, cache } => {
                if cache.as_ref().is_none_or(|(w, _)| *w != width) {
                    let mut lines = vec![Line::styled("❯ you", theme.user)];
                    // Very long pastes are shown folded; the whole text is sent.
                    let all: Vec<&str> = text.lines().collect();
                    let shown = if all.len() > 40 { &all[..20] } else { &all[..] };
                    for l in shown {
                        lines.extend(wrap(&Line::styled(format!("  {l}"), theme.text), width));
                    }
                    if all.len() > shown.len() {
                        lines.push(Line::styled(
                            format!("  … {} more lines", all.len() - shown.len()),
                            theme.muted,
                        ));
                    }
                    lines.push(Line::default());
                    *cache = Some((width, lines));
                }
            }
            Cell::Notice { text, style, cache } => {
                if cache.as_ref().is_none_or(|(w, _)| *w != width) {
                    let mut lines: Vec<Line<'static>> = text
                        .lines()
                        .flat_map(|l| wrap(&Line::styled(format!("• {l}"), *style), width))
                        .collect();
                    lines.push(Line::default());
                    *cache = Some((width, lines));
                }
            }
        }
    }

    pub fn height(&self) -> usize {
        match self {
            Cell::Answer(a) => a.height(),
            Cell::User { cache, .. } | Cell::Notice { cache, .. } => {
                cache.as_ref().map_or(0, |(_, l)| l.len())
            }
        }
    }

    pub fn slice(&self, from: usize, to: usize) -> Vec<Line<'static>> {
        match self {
            Cell::Answer(a) => a.slice(from, to),
            Cell::User { cache, .. } | Cell::Notice { cache, .. } => cache
                .as_ref()
                .map(|(_, l)| {
                    l.iter()
                        .skip(from)
                        .take(to.saturating_sub(from))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// The card's details (Ctrl-E): the reading of the prompt and every candidate's score.
fn card_details(d: &RouteCard, theme: &Theme) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    lines.push(Line::styled(
        format!(
            "  intent {} ({:.0}% sure) · {} · {} context tokens · routed {}{}",
            d.intent,
            d.confidence * 100.0,
            d.complexity,
            d.context_tokens,
            d.routed_by,
            if d.history_trimmed > 0 {
                format!(" · {} old messages trimmed", d.history_trimmed)
            } else {
                String::new()
            }
        ),
        theme.muted,
    ));
    lines.push(Line::styled(
        format!(
            "  {:<26} {:>6} {:>5} {:>9} {:>6} {:>5}  {}",
            "candidate", "score", "fit", "est cost", "ttft", "ok", "excluded"
        ),
        theme.muted.add_modifier(Modifier::UNDERLINED),
    ));
    for c in &d.candidates {
        let mark = if c.model == d.model { "▶" } else { " " };
        lines.push(Line::from(vec![
            Span::styled(format!(" {mark}{:<26}", c.model), theme.text),
            Span::styled(format!(" {:>6.2}", c.score), theme.accent),
            Span::styled(
                format!(
                    " {:>5.2} {:>9} {:>5.1}s {:>4.0}%",
                    c.fit,
                    c.cost.to_string(),
                    c.latency_ms / 1000.0,
                    c.success * 100.0
                ),
                theme.muted,
            ),
            Span::styled(
                format!("  {}", c.excluded.as_deref().unwrap_or("")),
                theme.warn,
            ),
        ]));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(lines: &[Line<'static>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn any_window_of_an_answer_is_the_same_lines_as_the_whole() {
        let theme = Theme::dark(false);
        let mut a = Answer::new(TurnId(1), "p".into());
        let mut text = String::new();
        for i in 0..40 {
            text.push_str(&format!(
                "Paragraph {i} is long enough to wrap at a narrow width, word after word.\n\n"
            ));
            if i % 7 == 0 {
                text.push_str(
                    "```rust\nfn main() { println!(\"a fairly long line of code\"); }\n```\n\n",
                );
            }
            if i % 11 == 0 {
                text.push_str("| a | b |\n|---|---|\n| one | two |\n\n");
            }
        }
        for piece in text.split_inclusive(' ') {
            a.push_content(piece, &theme);
        }
        a.finish(&theme);
        for width in [24u16, 37, 80] {
            a.layout(width, &theme);
            let h = a.height();
            let whole = text_of(&a.slice(0, h));
            assert_eq!(whole.len(), h);
            for from in 0..h {
                for len in [1usize, 3, 17] {
                    let to = (from + len).min(h);
                    assert_eq!(
                        text_of(&a.slice(from, to)),
                        whole[from..to].to_vec(),
                        "width {width}, lines {from}..{to}"
                    );
                }
            }
            // Past the end: nothing, not a panic.
            assert!(a.slice(h, h + 5).is_empty());
        }
    }

    fn finished_with(raw: &str, stop_after: Option<usize>, theme: &Theme) -> (Answer, Arc<str>) {
        let mut a = Answer::new(TurnId(1), "p".into());
        for (n, piece) in raw.split_inclusive(' ').enumerate() {
            if stop_after == Some(n) {
                a.stopped = true;
            }
            a.push_content(piece, theme);
        }
        let content: Arc<str> = raw.into();
        a.outcome = Some(TurnOutcome {
            request_id: 1,
            generation_id: None,
            requested_model: "m".into(),
            served_model: "m".into(),
            content: Arc::clone(&content),
            reasoning: String::new(),
            finish_reason: Some("stop".into()),
            prompt_tokens: 1,
            completion_tokens: 1,
            reasoning_tokens: 0,
            cached_tokens: 0,
            cost: crate::money::Usd::ZERO,
            cost_source: crate::core::protocol::CostSource::Provider,
            ttft_ms: None,
            latency_ms: 1,
            status: crate::core::protocol::TurnStatus::Ok,
            overhead: Default::default(),
        });
        a.finish(theme);
        (a, content)
    }

    #[test]
    fn a_finished_answer_holds_the_conversations_text_and_shows_it_as_before() {
        let theme = Theme::dark(false);
        // Tabs, an escape sequence and a bidi override: shown otherwise than they are.
        let raw = "Run this:\n\n```sh\nmake\tall\n```\n\x1b[31mred\x1b[0m and \u{202E}abc, \
                   then a paragraph long enough to wrap at the narrow width below.\n";
        let (mut a, content) = finished_with(raw, None, &theme);
        // The raw text is held by the answer, not copied: the same allocation.
        assert!(matches!(&a.source.shared, Some(s) if Arc::ptr_eq(s, &content)));
        assert!(a.source.own.is_empty());
        a.layout(30, &theme);
        let before = text_of(&a.slice(0, a.height()));
        assert!(
            before.iter().any(|l| l.contains("make    all")),
            "{before:?}"
        );
        assert!(before.iter().all(|l| !l.contains('\x1b')), "{before:?}");
        // Shed and rendered again from the shared raw text: the same lines.
        a.shed();
        a.unshed(&theme);
        a.layout(30, &theme);
        assert_eq!(text_of(&a.slice(0, a.height())), before);
    }

    #[test]
    fn an_answer_stopped_early_keeps_what_it_showed() {
        let theme = Theme::dark(false);
        let raw = "one two three four five six seven eight nine ten\n";
        let (mut a, _) = finished_with(raw, Some(3), &theme);
        // Esc after three words: the screen showed a part, so that part is its own text.
        assert!(a.source.shared.is_none());
        assert_eq!(a.source.shown(), "one two three ");
        a.shed();
        a.unshed(&theme);
        a.layout(80, &theme);
        let shown = text_of(&a.slice(0, a.height()));
        assert!(shown.iter().any(|l| l == "one two three"), "{shown:?}");
        assert!(shown.iter().all(|l| !l.contains("four")), "{shown:?}");
    }
}
