//! The messages between the core and any front end (TUI or headless `ask`): the ops a UI
//! sends and the events the core emits while it drives a turn. The only contract a UI
//! needs. It owns what a UI shows (route cards, conversation items, per-model spend and
//! performance, breaker states, turn status, turn ids), built here from the router's and
//! the ledger's types; what it carries besides are plain values (`Usd`, budget limits and
//! spend, intents) and the words the ledger stores (`CostSource`, `Role`, re-exported).

use serde::Serialize;

use crate::budget::{KeyStanding, Limits, Spend};
use crate::ledger::ConversationSummary;
pub use crate::ledger::{CostSource, Role};
use crate::money::Usd;
use crate::router::Decision;
use crate::task::{Complexity, Intent};

/// Identifies one turn (one user message and its answer) in a session: numbered by the
/// front end, carried by every event of that turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TurnId(pub u64);

impl TurnId {
    /// The turn after this one.
    pub fn next(self) -> TurnId {
        TurnId(self.0 + 1)
    }
}

impl std::fmt::Display for TurnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A routing decision as a front end shows it (the route card): which model, what the
/// prompt was read as, why, and every candidate with its score. Built from the router's
/// decision by the core; a front end never reads the router's own types.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RouteCard {
    pub model: String,
    pub model_name: String,
    pub intent: Intent,
    /// The classifier's confidence in `intent`, 0..1.
    pub confidence: f64,
    pub complexity: Complexity,
    pub context_tokens: u64,
    /// `auto`, `override`, `pinned`, `fallback`…
    pub routed_by: &'static str,
    pub estimated_cost: Usd,
    pub reason: String,
    /// Ranked, best first; excluded candidates last.
    pub candidates: Vec<CardCandidate>,
    /// Oldest history messages left out to fit the model's window.
    pub history_trimmed: usize,
    /// The visible tokens today's budget allows the chosen model, when it caps the answer.
    pub budget_cap: Option<u64>,
}

/// One candidate of a route card.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CardCandidate {
    pub model: String,
    pub score: f64,
    /// Expected quality for the intent, and the ratings behind it.
    pub fit: f64,
    pub ratings: f64,
    pub cost: Usd,
    pub latency_ms: f64,
    /// Recent success rate, 0..1.
    pub success: f64,
    /// Why it could not be chosen.
    pub excluded: Option<String>,
}

impl RouteCard {
    pub fn of(d: &Decision) -> RouteCard {
        RouteCard {
            model: d.model.clone(),
            model_name: d.model_name.clone(),
            intent: d.intent,
            confidence: d.confidence,
            complexity: d.complexity,
            context_tokens: d.context_tokens,
            routed_by: d.routed_by.as_str(),
            estimated_cost: d.estimated_cost,
            reason: d.reason.clone(),
            candidates: d
                .candidates
                .iter()
                .map(|c| CardCandidate {
                    model: c.model.clone(),
                    score: c.score,
                    fit: c.components.fit,
                    ratings: c.components.ratings,
                    cost: Usd::from_dollars(c.components.cost_usd),
                    latency_ms: c.components.latency_ms,
                    success: c.components.success,
                    excluded: c.excluded.clone(),
                })
                .collect(),
            history_trimmed: d.history_trimmed,
            budget_cap: d.budget_cap,
        }
    }

    /// The candidate for `model`, if it was one.
    pub fn candidate(&self, model: &str) -> Option<&CardCandidate> {
        self.candidates.iter().find(|c| c.model == model)
    }
}

/// What one model spent today.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSpend {
    pub model: String,
    pub spend: Spend,
    pub requests: i64,
}

/// A model's performance as the router tracks it: moving averages over this process and
/// the ledger's recent requests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelPerf {
    pub model: String,
    /// Requests today.
    pub requests: i64,
    /// Recent success rate, 0..1.
    pub success_rate: f64,
    /// Whole answer and first token, moving averages (`None` before any sample).
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
}

/// A stored conversation as the picker lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationItem {
    pub id: i64,
    pub title: String,
    pub updated_ms: i64,
    pub messages: i64,
}

impl From<ConversationSummary> for ConversationItem {
    fn from(c: ConversationSummary) -> Self {
        ConversationItem {
            id: c.id,
            title: c.title,
            updated_ms: c.updated_ms,
            messages: c.messages,
        }
    }
}

/// A model's circuit breaker when it is not closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// No request goes to the model for this many more seconds (rounded up).
    Open { for_secs: u64 },
    /// The cooldown passed: the next request to it is a probe.
    Probe,
}

impl std::fmt::Display for BreakerState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BreakerState::Open { for_secs } => write!(f, "open {for_secs}s"),
            BreakerState::Probe => f.write_str("probe"),
        }
    }
}

/// How a turn's answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TurnStatus {
    /// Complete.
    Ok,
    /// Stopped by the user; what arrived is kept.
    Cancelled,
    /// Broken off by the server or the network; what arrived is kept.
    Cut,
}

impl TurnStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TurnStatus::Ok => "ok",
            TurnStatus::Cancelled => "cancelled",
            TurnStatus::Cut => "cut",
        }
    }

    /// A request's stored status as the turn it ended: an error after tokens is a cut.
    pub fn of(status: crate::ledger::Status) -> TurnStatus {
        use crate::ledger::Status;
        match status {
            Status::Ok => TurnStatus::Ok,
            Status::Cancelled => TurnStatus::Cancelled,
            Status::Cut | Status::Error => TurnStatus::Cut,
        }
    }
}

/// What the budget gauge shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BudgetSnapshot {
    pub day: String,
    pub limits: Limits,
    pub today: Spend,
    pub month: Spend,
    pub per_model: Vec<ModelSpend>,
    /// Committed spend of the last 14 days, oldest first.
    pub history: Vec<(String, Usd)>,
    /// Saved today vs always using the baseline model.
    pub saved_today: Usd,
    pub baseline_model: String,
    /// Today's latency and success rate per model.
    pub model_stats: Vec<ModelPerf>,
    /// Budget share per model id (soft targets), from the catalog.
    pub shares: Vec<(String, f64)>,
    /// Models whose circuit breaker is not closed.
    pub breakers: Vec<(String, BreakerState)>,
    /// What is left of the OpenRouter key's own limit (shared by a team), if it has one.
    pub key: Option<KeyStanding>,
}

/// A message of a resumed conversation. An answer carries its decision and outcome as
/// the ledger recorded them, so its route card reads as it did and it can still be rated.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedMessage {
    pub role: Role,
    /// The text the resumed history holds (shared, not a copy).
    pub content: std::sync::Arc<str>,
    pub card: Option<RouteCard>,
    pub outcome: Option<TurnOutcome>,
}

impl LoadedMessage {
    /// A message with nothing recorded beside its text.
    pub fn plain(role: Role, content: impl Into<std::sync::Arc<str>>) -> Self {
        Self {
            role,
            content: content.into(),
            card: None,
            outcome: None,
        }
    }
}

/// How a finished turn went.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TurnOutcome {
    /// The ledger's request id.
    pub request_id: i64,
    pub generation_id: Option<String>,
    pub requested_model: String,
    pub served_model: String,
    /// The answer's text: the same allocation the conversation's history keeps for the
    /// next request, so a front end holding it holds no copy.
    pub content: std::sync::Arc<str>,
    pub reasoning: String,
    pub finish_reason: Option<String>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub reasoning_tokens: u64,
    pub cached_tokens: u64,
    pub cost: Usd,
    pub cost_source: CostSource,
    pub ttft_ms: Option<u64>,
    pub latency_ms: u64,
    pub status: TurnStatus,
    /// Time CodeForge itself spent on this turn, outside the provider.
    pub overhead: Overhead,
}

/// Where a turn's own time went, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Overhead {
    /// From the turn's start to the request being sent (budget read, routing, reservation,
    /// and for a fallback everything before it): what CodeForge adds to the first token.
    pub pre_send_us: u64,
    /// The routing decision.
    pub route_us: u64,
    /// Reading the budget and holding the reservation (ledger transactions).
    pub reserve_us: u64,
    /// Settling and recording after the stream ended.
    pub settle_us: u64,
    /// From a failure before the first token to the fallback request being sent
    /// (0 without a fallback).
    pub reroute_us: u64,
}

/// Core → UI.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The router chose a model (shown before anything streams).
    Routed {
        turn: TurnId,
        card: RouteCard,
    },
    /// A reservation is held; `max_tokens` may be capped by the budget, and the oldest
    /// `history_trimmed` history messages are left out to fit the model's window.
    Reserved {
        turn: TurnId,
        model: String,
        reserved: Usd,
        max_tokens: u64,
        history_trimmed: usize,
    },
    /// A model failed before its first token; the next candidate is tried.
    Fallback {
        turn: TurnId,
        from: String,
        error: String,
        to: String,
    },
    /// The provider is working (keep-alive) but no token yet.
    Waiting {
        turn: TurnId,
    },
    /// The answer started; the model that serves it.
    Started {
        turn: TurnId,
        served_model: Option<String>,
    },
    Reasoning {
        turn: TurnId,
        text: String,
    },
    Content {
        turn: TurnId,
        text: String,
    },
    /// The turn ended with an answer (complete, cancelled or cut).
    Finished {
        turn: TurnId,
        outcome: TurnOutcome,
    },
    /// The turn ended without an answer, or with a cut one (`outcome` holds the partial).
    Failed {
        turn: TurnId,
        message: String,
        outcome: Option<TurnOutcome>,
    },
    /// The budget changed (reservation, settlement, day change).
    Budget(BudgetSnapshot),
    /// A conversation was started or resumed: its messages (user/assistant, in order).
    ConversationLoaded {
        id: Option<i64>,
        messages: Vec<LoadedMessage>,
    },
    /// The list for the conversation picker.
    Conversations(Vec<ConversationItem>),
    /// Something to tell the user (feedback recorded, limit changed, recovery done).
    Notice(String),
    /// A command failed (not a turn): shown as an error notice.
    Error(String),
}

impl Event {
    /// A turn that failed: why, and the partial answer if one was kept.
    pub fn failed(turn: TurnId, message: impl ToString, outcome: Option<TurnOutcome>) -> Self {
        Event::Failed {
            turn,
            message: message.to_string(),
            outcome,
        }
    }
}

/// UI → core.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Send a message.
    Submit {
        turn: TurnId,
        text: String,
        choice: super::Choice,
    },
    /// Run a prompt again on another model; the first answer counts against its model.
    Rerun {
        turn: TurnId,
        text: String,
        model: String,
        previous_request: Option<i64>,
    },
    /// Cancel the running turn (its cost is settled).
    Cancel,
    NewConversation,
    Resume(i64),
    ListConversations,
    Feedback {
        request_id: i64,
        up: bool,
    },
    SetDailyLimit(f64),
    /// 0 = cheapest that fits … 10 = best regardless of cost.
    SetPreference(u8),
    /// Route on optimistic quality estimates (try what the ratings know least about).
    SetExplore(bool),
    /// Write the conversation as Markdown to this file (a name in the working directory
    /// when `None`).
    Export(Option<String>),
    /// The system prompt of the next requests (the edit format is added while files are
    /// attached).
    SetSystem(String),
    Quit,
}
