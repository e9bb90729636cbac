//! The router: classify a prompt, score the candidates, pick one, explain why.
//!
//! Pure and synchronous: no IO, no clock (the caller passes the time). Must not import
//! `provider`, `ledger`, `tui`, `ratatui`, `crossterm` or `syntect`; the session passes the
//! catalog, the budget as plain numbers, and what was learned ([`Signals`], [`Breakers`]).

pub mod breaker;
mod chars;
pub mod chat;
mod classify;
pub mod complexity;
pub mod features;
pub mod intent_model;
pub mod learning;
mod lexicon;
pub mod payload;
mod score;

use serde::{Deserialize, Serialize};

pub use breaker::{Availability, Breakers};
pub use classify::{Analysis, TEMPERATURE, analyze, classify, complexity_input};
pub use learning::{Outcome, Signals};
pub use lexicon::Lexicon;
pub use payload::PayloadKind;
pub use score::Components;
pub use score::{cost_weight, quality};

use crate::budget::{
    KeyStanding, MIN_OUTPUT_TOKENS, Pressure, Prices, Refusal, Standing, fraction_used, worst_case,
};
use crate::catalog::{Catalog, ModelSpec};
use crate::money::Usd;
use crate::task::{Complexity, Intent};

/// How the model of a request was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RoutedBy {
    Auto,
    Override,
    Pinned,
    Fallback,
}

impl RoutedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            RoutedBy::Auto => "auto",
            RoutedBy::Override => "override",
            RoutedBy::Pinned => "pinned",
            RoutedBy::Fallback => "fallback",
        }
    }
}

/// One candidate as the router saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub model: String,
    pub score: f64,
    pub components: Components,
    /// `None`, or why the model could not be chosen.
    pub excluded: Option<String>,
}

/// The routing decision for one prompt, with its explanation. Read back from the ledger
/// to show a resumed conversation's route cards: fields that may be missing from older rows
/// default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub model: String,
    #[serde(default)]
    pub model_name: String,
    pub intent: Intent,
    #[serde(default)]
    pub confidence: f64,
    pub complexity: Complexity,
    #[serde(default)]
    pub context_tokens: u64,
    pub routed_by: RoutedBy,
    /// What automatic routing would have chosen (differs when overridden or pinned).
    #[serde(default)]
    pub auto_choice: String,
    #[serde(rename = "estimated_cost_usd")]
    #[serde(default)]
    pub estimated_cost: Usd,
    /// 0 = cheapest that fits … 10 = best regardless of cost.
    #[serde(default)]
    pub preference: u8,
    /// Ratings changed the automatic choice (tracked speed and failures are named in the
    /// reason as what the pick traded the best fit for).
    #[serde(default)]
    pub learned: bool,
    #[serde(default)]
    pub reason: String,
    /// Ranked, best first; excluded candidates last.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// Oldest history messages left out to fit the chosen model's context window.
    #[serde(default)]
    pub history_trimmed: usize,
    /// What was pasted with the instruction (its kind is a feature of the intent).
    #[serde(default)]
    pub payload: PayloadKind,
    /// Probability that the task is hard (the complexity model's), 0..1.
    #[serde(default)]
    pub hardness: f64,
    /// An acknowledgement or small talk, routed by the fast path.
    #[serde(default)]
    pub chat: bool,
    /// Set when no model can finish an answer of the expected length with what is left
    /// today: the visible tokens the budget allows the chosen model (said before sending).
    #[serde(default)]
    pub budget_cap: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RouteError {
    #[error("unknown model `{0}`; `codeforge models` lists the catalog")]
    UnknownModel(String),
    #[error("no model can take this prompt (~{tokens} tokens): {reasons}")]
    NothingFits { tokens: u64, reasons: String },
    /// Every model that could take the prompt costs more than what is left.
    #[error("{0}")]
    Budget(Refusal),
    /// The model the user chose cannot take requests now (its circuit is open): it is not
    /// replaced behind their back.
    #[error("{model} is unavailable: {reason}. Unpin it (/auto) or pick another (Ctrl-O)")]
    Unavailable { model: String, reason: String },
}

/// The budget as the router sees it: plain numbers, no ledger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetView<'a> {
    pub pressure: Pressure,
    /// What is left today (and this month), whichever is less.
    pub remaining: Usd,
    /// Held today by requests still in progress (part of what is not left).
    pub held: Usd,
    /// Fraction of today's limit used (committed + reserved).
    pub fraction_used: f64,
    /// The only model chosen automatically from 95 % of the daily limit.
    pub emergency_model: &'a str,
    /// The daily limit (for budget-share use).
    pub daily_limit: Usd,
    /// Today's spend per model (for budget-share use).
    pub model_spend: &'a [(String, Usd)],
    /// The OpenRouter key's own limit, when it has one (part of `remaining`).
    pub key: Option<KeyStanding>,
}

impl<'a> BudgetView<'a> {
    /// The view of a ledger's standing: what `ask`, the TUI and `route` decide with.
    pub fn of(
        standing: &Standing,
        emergency_model: &'a str,
        model_spend: &'a [(String, Usd)],
    ) -> Self {
        let frac = fraction_used(standing.today, standing.limits.daily);
        BudgetView {
            pressure: Pressure::from_fraction(frac),
            remaining: standing.left(),
            held: standing.today.reserved,
            fraction_used: frac,
            emergency_model,
            daily_limit: standing.limits.daily,
            model_spend,
            key: standing.key,
        }
    }

    /// The refusal for a request that needs `needed` and does not fit: naming the key's
    /// limit when that is the one that binds.
    pub fn refusal(&self, needed: Usd) -> Refusal {
        Refusal::too_expensive(needed, self.remaining, self.held, self.key)
    }

    /// Today's spend on `m` and its budget share in dollars.
    pub fn share_use(&self, m: &ModelSpec) -> (f64, f64) {
        let spent = self
            .model_spend
            .iter()
            .find(|(id, _)| id == &m.id)
            .map_or(0.0, |(_, u)| u.dollars());
        (spent, self.daily_limit.dollars() * m.budget_share)
    }

    /// No budget pressure at all (tests, `route` without a ledger).
    pub fn unlimited() -> BudgetView<'static> {
        BudgetView {
            pressure: Pressure::Normal,
            remaining: Usd::from_nanos(i64::MAX),
            held: Usd::ZERO,
            fraction_used: 0.0,
            emergency_model: "google/gemini-2.5-flash",
            daily_limit: Usd::from_dollars(3.33),
            model_spend: &[],
            key: None,
        }
    }
}

/// Who chose the model, when the user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserChoice<'a> {
    None,
    /// For this message only.
    Override(&'a str),
    /// For the session, until unpinned.
    Pinned(&'a str),
}

/// Everything one decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    pub prompt: &'a str,
    /// Tokens the request adds to the prompt's own: system prompt, history, overhead.
    pub history_tokens: u64,
    /// The part of `history_tokens` that may be trimmed (oldest turns first) to fit a
    /// model's context window.
    pub trimmable_tokens: u64,
    pub previous_intent: Option<Intent>,
    pub choice: UserChoice<'a>,
    pub budget: BudgetView<'a>,
    pub preference: u8,
    /// Score quality by its optimistic estimate (see [`learning::Posterior::upper`]).
    pub explore: bool,
    pub signals: &'a Signals,
    pub breakers: &'a Breakers,
    pub now_ms: i64,
}

impl<'a> RouteRequest<'a> {
    /// A request with no history, budget pressure, learning or outages.
    pub fn simple(prompt: &'a str, signals: &'a Signals, breakers: &'a Breakers) -> Self {
        Self {
            prompt,
            history_tokens: 0,
            trimmable_tokens: 0,
            previous_intent: None,
            choice: UserChoice::None,
            budget: BudgetView::unlimited(),
            preference: 5,
            explore: false,
            signals,
            breakers,
            now_ms: 0,
        }
    }
}

/// Build what the first decision would otherwise build (the intent model's weights, about
/// 0.25 ms; the keyword automaton, about 1.5 ms): call it off the critical path at start-up.
pub fn warm_up() {
    let _ = classify("warm up");
}

/// Expected answer length by complexity, for cost estimates.
pub fn expected_completion_tokens(c: Complexity) -> u64 {
    match c {
        Complexity::Simple => 250,
        Complexity::Medium => 700,
        Complexity::High => 1500,
    }
}

/// The prices a reservation for `m` holds: the listed ones times the margin learned from
/// what the provider billed (see `Signals::price_margin`).
pub fn reserved_prices(m: &ModelSpec, signals: &Signals) -> Prices {
    let margin = signals.price_margin(m);
    Prices {
        prompt: m.prompt_price * margin,
        completion: m.completion_price * margin,
    }
}

fn prices(m: &ModelSpec, req: &RouteRequest<'_>) -> Prices {
    reserved_prices(m, req.signals)
}

/// The prompt tokens `m` would be sent: the whole context, or as much as its window
/// leaves room for once the oldest history is trimmed, never less than the part that
/// cannot be trimmed.
pub(crate) fn sent_tokens(m: &ModelSpec, a: &Analysis, req: &RouteRequest<'_>) -> u64 {
    let completion = expected_completion_tokens(a.complexity);
    let floor = untrimmable(a, req);
    a.context_tokens
        .min(m.context_length.saturating_sub(completion))
        .max(floor)
}

/// What the request needs even with all the history trimmed.
fn untrimmable(a: &Analysis, req: &RouteRequest<'_>) -> u64 {
    a.context_tokens.saturating_sub(req.trimmable_tokens)
}

/// Why `m`'s context window cannot take the request even with the history trimmed.
fn too_small(m: &ModelSpec, a: &Analysis, req: &RouteRequest<'_>) -> Option<String> {
    let needed = untrimmable(a, req) + expected_completion_tokens(a.complexity);
    (m.context_length < needed).then(|| {
        let without = if req.trimmable_tokens > 0 {
            " (without the history)"
        } else {
            ""
        };
        format!(
            "context window {} < {needed} tokens needed{without}",
            m.context_length
        )
    })
}

/// Why `m` has reached its budget share today, if it has.
fn share_reached(m: &ModelSpec, req: &RouteRequest<'_>) -> Option<String> {
    let (spent, share) = req.budget.share_use(m);
    (share > 0.0 && spent >= share).then(|| {
        format!(
            "at its budget share: ${spent:.4} of ${share:.4} ({:.0}% of today's limit)",
            m.budget_share * 100.0
        )
    })
}

/// The smallest learned output factor taken (an answer a twentieth of the expected length).
const MIN_OUTPUT_FACTOR: f64 = 0.05;

/// Billed output tokens per visible answer token for `m` on this prompt's intent: the
/// catalog's factor, moved by what the provider billed for its earlier answers.
pub(crate) fn output_factor(m: &ModelSpec, a: &Analysis, req: &RouteRequest<'_>) -> f64 {
    // Below 1 when answers run shorter than expected: the estimate learns that too.
    req.signals
        .output_factor(&m.id, a.intent, m.output_factor)
        .max(MIN_OUTPUT_FACTOR)
}

/// Tokens billed for an answer of the expected length, hidden reasoning included.
fn billed_answer(m: &ModelSpec, a: &Analysis, req: &RouteRequest<'_>) -> u64 {
    (expected_completion_tokens(a.complexity) as f64 * output_factor(m, a, req)).round() as u64
}

/// Why `m` cannot finish an answer of the expected length with what is left today.
fn unfinishable(m: &ModelSpec, a: &Analysis, req: &RouteRequest<'_>) -> Option<String> {
    let needed = worst_case(
        prices(m, req),
        sent_tokens(m, a, req),
        billed_answer(m, a, req),
    );
    (needed > req.budget.remaining).then(|| {
        format!(
            "cannot finish a ~{}-token answer: needs {needed}, {} left today",
            expected_completion_tokens(a.complexity),
            req.budget.remaining
        )
    })
}

/// Visible answer tokens `m` can be given with what is left (after the prompt).
fn affordable_answer(m: &ModelSpec, a: &Analysis, req: &RouteRequest<'_>) -> u64 {
    let prompt = worst_case(prices(m, req), sent_tokens(m, a, req), 0);
    let left = req.budget.remaining.saturating_sub(prompt).dollars();
    if m.completion_price <= 0.0 {
        return expected_completion_tokens(a.complexity);
    }
    let billed = (left / (m.completion_price / 1e6)).floor().max(0.0);
    (billed / output_factor(m, a, req)).floor() as u64
}

/// Why a model cannot be chosen, if it cannot.
fn exclusion(m: &ModelSpec, a: &Analysis, req: &RouteRequest<'_>) -> Option<String> {
    let cheapest = worst_case(prices(m, req), sent_tokens(m, a, req), MIN_OUTPUT_TOKENS);
    if !m.listed {
        return Some("no longer listed by OpenRouter".to_string());
    }
    if let Some(why) = too_small(m, a, req) {
        return Some(why);
    }
    if let Availability::Open { until_ms, failures } = req.breakers.availability(&m.id, req.now_ms)
    {
        return Some(format!(
            "circuit open after {failures} failures (retry in {} s)",
            ((until_ms - req.now_ms).max(0) + 999) / 1000
        ));
    }
    if cheapest > req.budget.remaining {
        return Some(format!(
            "cannot be afforded: needs at least {cheapest}, {} left today",
            req.budget.remaining
        ));
    }
    if req.budget.pressure >= Pressure::Critical && m.id != req.budget.emergency_model {
        return Some(format!(
            "{:.0}% of today's budget used: only the emergency model is chosen",
            req.budget.fraction_used * 100.0
        ));
    }
    None
}

/// Route a prompt: analyse, score every candidate, choose, explain.
pub fn decide(catalog: &Catalog, req: &RouteRequest<'_>) -> Result<Decision, RouteError> {
    let a = analyze(req.prompt, req.history_tokens, req.previous_intent);
    let completion = expected_completion_tokens(a.complexity);
    let models = catalog.models();
    let finishes = |m: &ModelSpec| unfinishable(m, &a, req).is_none();
    let candidates = rank(models, &a, completion, req);
    let available = || candidates.iter().filter(|(c, _, _)| c.excluded.is_none());
    let best = available().next().map(|(c, m, _)| (c.clone(), *m));
    let prior_best = available()
        .max_by(|x, y| {
            x.2.total_cmp(&y.2)
                .then(y.0.model.cmp(&x.0.model).reverse())
        })
        .map(|(_, m, _)| *m);
    let forced = match req.choice {
        UserChoice::Override(f) | UserChoice::Pinned(f) => Some(
            catalog
                .find(f)
                .ok_or_else(|| RouteError::UnknownModel(f.to_string()))?,
        ),
        UserChoice::None => None,
    };
    let (chosen, routed_by) = match (req.choice, forced, &best) {
        (UserChoice::Override(_), Some(m), _) => (m, RoutedBy::Override),
        (UserChoice::Pinned(_), Some(m), _) => (m, RoutedBy::Pinned),
        (_, _, Some(b)) => (b.1, RoutedBy::Auto),
        _ => return Err(nothing_fits(&candidates, &a, req)),
    };
    if forced.is_some() {
        user_choice_allowed(chosen, &a, req)?;
    }
    let learned = matches!((&best, prior_best), (Some(b), Some(p)) if b.1.id != p.id);
    // What the best estimates alone would pick: exploring may have chosen otherwise.
    let greedy_best = available()
        .fold(None, |acc: Option<(f64, &ModelSpec)>, (c, m, _)| {
            let v = c.score - c.components.optimism;
            match acc {
                Some((bv, _)) if bv >= v => acc,
                _ => Some((v, *m)),
            }
        })
        .map(|(_, m)| m);
    let explored_over = match (&best, greedy_best) {
        (Some(b), Some(g)) if req.explore && b.1.id != g.id => Some(g),
        _ => None,
    };
    // The chosen model (also a pinned one) cannot finish: say how far the budget goes.
    let budget_cap =
        (!finishes(chosen)).then(|| affordable_answer(chosen, &a, req).min(completion));
    let estimated_cost = chosen.cost_with_factor(
        sent_tokens(chosen, &a, req),
        budget_cap.unwrap_or(completion),
        output_factor(chosen, &a, req),
    );
    // The available candidate with the highest fit (first in ranking order on a tie).
    let fittest =
        available().fold(
            None,
            |acc: Option<(&Candidate, &ModelSpec)>, (c, m, _)| match acc {
                Some((b, _)) if b.components.fit >= c.components.fit => acc,
                _ => Some((c, *m)),
            },
        );
    let untracked = untracked_best(models, &a, completion, req);
    let mut reason = reason(
        &a,
        Chosen {
            model: chosen,
            routed_by,
            est: estimated_cost,
        },
        &best,
        fittest,
        Learned {
            prior_best: learned.then_some(prior_best).flatten(),
            explored_over,
            skipped: skipped(&candidates, best.as_ref().map(|b| b.1), untracked),
        },
        req,
    );
    if let Some(cap) = budget_cap {
        reason.push_str(&format!(
            " · answer capped at ~{cap} tokens by today's budget (~{completion} expected)"
        ));
    }
    Ok(Decision {
        model: chosen.id.clone(),
        model_name: chosen.name.clone(),
        intent: a.intent,
        confidence: a.confidence,
        complexity: a.complexity,
        context_tokens: a.context_tokens,
        routed_by,
        auto_choice: best.as_ref().map_or(String::new(), |b| b.1.id.clone()),
        estimated_cost,
        preference: req.preference,
        learned,
        reason,
        candidates: candidates.into_iter().map(|(c, _, _)| c).collect(),
        history_trimmed: 0,
        payload: a.payload,
        hardness: a.hardness,
        chat: a.chat,
        budget_cap,
    })
}

/// Every model as a candidate, with its score from the catalog priors alone: exclusions
/// applied (shares and answers that cannot finish only while another model can take the
/// prompt), highest score first, catalog order breaking ties, excluded last.
fn rank<'c>(
    models: &'c [ModelSpec],
    a: &Analysis,
    completion: u64,
    req: &RouteRequest<'_>,
) -> Vec<(Candidate, &'c ModelSpec, f64)> {
    let scored = score::score_all(models, a, completion, req);
    let prior_scored = score::score_without(models, a, completion, req, false, true);
    let mut candidates: Vec<(Candidate, &ModelSpec, f64)> = models
        .iter()
        .zip(scored)
        .zip(prior_scored)
        .map(|((m, (score, components)), prior)| {
            (
                Candidate {
                    model: m.id.clone(),
                    score,
                    components,
                    excluded: exclusion(m, a, req),
                },
                m,
                prior,
            )
        })
        .collect();
    // A model at its budget share is left out while a model under its share can take the
    // prompt and finish the answer (a share never forces a capped answer).
    let over_share = |m: &ModelSpec| share_reached(m, req);
    let finishes = |m: &ModelSpec| unfinishable(m, a, req).is_none();
    if candidates
        .iter()
        .any(|(c, m, _)| c.excluded.is_none() && over_share(m).is_none() && finishes(m))
    {
        for (c, m, _) in &mut candidates {
            if c.excluded.is_none() {
                c.excluded = over_share(m);
            }
        }
    }
    // Only models that can finish an answer of the expected length, while any can; when
    // none can, the answer will be capped, and the decision says so before sending.
    let capped = !candidates
        .iter()
        .any(|(c, m, _)| c.excluded.is_none() && finishes(m));
    if !capped {
        for (c, m, _) in &mut candidates {
            if c.excluded.is_none() {
                c.excluded = unfinishable(m, a, req);
            }
        }
    }
    candidates.sort_by(|x, y| {
        (x.0.excluded.is_some())
            .cmp(&y.0.excluded.is_some())
            .then(y.0.score.total_cmp(&x.0.score))
    });
    candidates
}

/// The best available model had speed and failures not been tracked.
fn untracked_best<'c>(
    models: &'c [ModelSpec],
    a: &Analysis,
    completion: u64,
    req: &RouteRequest<'_>,
) -> Option<&'c ModelSpec> {
    let untracked = score::score_without(models, a, completion, req, true, false);
    models
        .iter()
        .zip(&untracked)
        .filter(|(m, _)| exclusion(m, a, req).is_none())
        .fold(None, |acc: Option<(&ModelSpec, f64)>, (m, v)| match acc {
            Some((_, bv)) if bv >= *v => acc,
            _ => Some((m, *v)),
        })
        .map(|(m, _)| m)
}

/// A model the user chose gets no request while its circuit is open, must be able to hold
/// the prompt, and is still bound by the budget.
fn user_choice_allowed(
    chosen: &ModelSpec,
    a: &Analysis,
    req: &RouteRequest<'_>,
) -> Result<(), RouteError> {
    if let Availability::Open { until_ms, failures } =
        req.breakers.availability(&chosen.id, req.now_ms)
    {
        return Err(RouteError::Unavailable {
            model: chosen.name.clone(),
            reason: format!(
                "circuit open after {failures} failures, retry in {} s",
                ((until_ms - req.now_ms).max(0) + 999) / 1000
            ),
        });
    }
    if let Some(why) = too_small(chosen, a, req) {
        return Err(RouteError::Unavailable {
            model: chosen.name.clone(),
            reason: why,
        });
    }
    let needed = worst_case(
        prices(chosen, req),
        sent_tokens(chosen, a, req),
        MIN_OUTPUT_TOKENS,
    );
    if needed > req.budget.remaining {
        return Err(RouteError::Budget(req.budget.refusal(needed)));
    }
    Ok(())
}

fn nothing_fits(
    candidates: &[(Candidate, &ModelSpec, f64)],
    a: &Analysis,
    req: &RouteRequest<'_>,
) -> RouteError {
    // When money is the only reason, say so (with the way out) rather than list models.
    let cheapest = candidates
        .iter()
        .filter(|(_, m, _)| m.listed && too_small(m, a, req).is_none())
        .map(|(_, m, _)| worst_case(prices(m, req), sent_tokens(m, a, req), MIN_OUTPUT_TOKENS))
        .min();
    match cheapest {
        Some(needed) if needed > req.budget.remaining => {
            RouteError::Budget(req.budget.refusal(needed))
        }
        _ => RouteError::NothingFits {
            tokens: a.context_tokens,
            reasons: candidates
                .iter()
                .filter_map(|(c, m, _)| c.excluded.as_ref().map(|e| format!("{}: {e}", m.name)))
                .collect::<Vec<_>>()
                .join("; "),
        },
    }
}

/// "unsure: general 0.41 / math 0.38" when no intent has even odds: the choice then rests
/// on the expected quality over the distribution, which favours the generalists.
fn unsure(a: &Analysis) -> Option<String> {
    if a.confidence >= 0.5 {
        return None;
    }
    let mut ranked: Vec<(Intent, f64)> = Intent::ALL.iter().copied().zip(a.probs).collect();
    ranked.sort_by(|x, y| y.1.total_cmp(&x.1));
    Some(format!(
        "unsure: {} {:.2} / {} {:.2}",
        ranked[0].0, ranked[0].1, ranked[1].0, ranked[1].1
    ))
}

/// "claude-sonnet-4 skipped: failing lately (success 64%)" when tracked failures or speed
/// moved the choice away from the model the router would otherwise pick.
fn skipped(
    candidates: &[(Candidate, &ModelSpec, f64)],
    best: Option<&ModelSpec>,
    untracked_best: Option<&ModelSpec>,
) -> Option<String> {
    let (best, other) = (best?, untracked_best?);
    if best.id == other.id {
        return None;
    }
    let c = &candidates
        .iter()
        .find(|(c, _, _)| c.model == other.id)?
        .0
        .components;
    let why = if c.success < 0.999 {
        format!("failing lately (success {:.0}%)", c.success * 100.0)
    } else if c.latency_ms > other.latency_target_ms as f64 {
        format!("slow lately (first token ~{:.1} s)", c.latency_ms / 1000.0)
    } else {
        return None;
    };
    Some(format!("{} skipped: {why}", other.name))
}

/// How learning moved the automatic choice, for the reason line.
struct Learned<'a> {
    /// Tracked failures or speed moved the choice off this model (and why).
    skipped: Option<String>,
    /// The catalog priors alone would have picked this model.
    prior_best: Option<&'a ModelSpec>,
    /// The best estimates alone would have picked this model; exploring tried another.
    explored_over: Option<&'a ModelSpec>,
}

/// Why the automatic choice won: the best fit, or what it traded the best fit for.
fn merit(a: &Analysis, chosen: &Candidate, fittest: Option<(&Candidate, &ModelSpec)>) -> String {
    let c = &chosen.components;
    let Some((f, fm)) = fittest.filter(|(f, _)| f.model != chosen.model) else {
        return format!("best fit for {} ({:.2})", a.intent, c.fit);
    };
    let g = &f.components;
    let mut edges = Vec::new();
    if c.cost_usd < g.cost_usd {
        edges.push("cheaper");
    }
    if c.latency_ms < g.latency_ms {
        edges.push("faster");
    }
    if c.success > g.success {
        edges.push("more reliable");
    }
    if c.share_overuse < g.share_overuse {
        edges.push("within its budget share");
    }
    let edge = if edges.is_empty() {
        "best overall score".to_string()
    } else {
        edges.join(" and ")
    };
    format!(
        "{edge} than {} for {} (fit {:.2} vs {:.2})",
        fm.name, a.intent, c.fit, g.fit
    )
}

/// The model chosen, how, and what it is estimated to cost.
#[derive(Clone, Copy)]
struct Chosen<'a> {
    model: &'a ModelSpec,
    routed_by: RoutedBy,
    est: Usd,
}

fn reason(
    a: &Analysis,
    ch: Chosen<'_>,
    best: &Option<(Candidate, &ModelSpec)>,
    fittest: Option<(&Candidate, &ModelSpec)>,
    learned: Learned<'_>,
    req: &RouteRequest<'_>,
) -> String {
    let Chosen {
        model: chosen,
        routed_by,
        est,
    } = ch;
    let via = chosen
        .substitute
        .as_ref()
        .map(|s| format!(" (via {s}: {} is no longer listed)", chosen.id))
        .unwrap_or_default();
    let would_pick = best.as_ref().map_or("none", |b| b.1.name.as_str());
    let why = match routed_by {
        RoutedBy::Auto => {
            // (The line ends with the share of the budget used, so it is not repeated.)
            let mut s = if req.budget.pressure >= Pressure::Critical {
                "emergency model only, from 95% of the daily budget".to_string()
            } else {
                match best {
                    Some((c, _)) => merit(a, c, fittest),
                    None => String::new(),
                }
            };
            if a.chat {
                s = format!("chat: fast path, {s}");
            } else if let Some(unsure) = unsure(a) {
                s.push_str(&format!(", {unsure}"));
            }
            if a.follow_up {
                s.push_str(", follow-up");
            }
            if let Some(why) = &learned.skipped {
                s.push_str(&format!(", {why}"));
            }
            if let Some(g) = learned.explored_over {
                s.push_str(&format!(", exploring: tried instead of {}", g.name));
            } else if let Some(p) = learned.prior_best {
                s.push_str(&format!(", your ratings: preferred over {}", p.name));
            }
            s
        }
        // The user's choice can be the router's own (Ctrl-R's "next in the ranking").
        RoutedBy::Pinned | RoutedBy::Override
            if best.as_ref().is_some_and(|b| b.1.id == chosen.id) =>
        {
            let how = if routed_by == RoutedBy::Pinned {
                "pinned"
            } else {
                "chosen"
            };
            format!("{how} by you, the router's pick too")
        }
        RoutedBy::Pinned => format!("pinned by you (router would pick {would_pick})"),
        _ => format!("chosen by you (router would pick {would_pick})"),
    };
    format!(
        "{} · {} · {}{via}: {why} · est {est} · {:.0}% of today's budget used · pref {}/10",
        a.intent,
        a.complexity,
        chosen.name,
        (req.budget.fraction_used * 100.0).min(999.0),
        req.preference
    )
}

#[cfg(test)]
mod tests;
