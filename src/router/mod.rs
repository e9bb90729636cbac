//! The router: classify a prompt, pick a model, explain why.
//!
//! Pure and synchronous: no IO, no clock. Must not import `provider`, `ledger`, `tui`,
//! `ratatui`, `crossterm` or `syntect`; callers pass in the catalog and plain numbers.
//!
//! This is the first slice: keyword intent rules and the catalog's strength priors. The
//! scored router (cost, latency, availability, budget, learning) builds on these types.

mod classify;

use serde::Serialize;

pub use classify::{Analysis, analyze};

use crate::budget::{MIN_OUTPUT_TOKENS, Pressure, Prices, worst_case};
use crate::catalog::{Catalog, ModelSpec};
use crate::money::Usd;
use crate::task::{Complexity, Intent};

/// How the model of a request was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub model: String,
    pub score: f64,
    /// `None`, or why the model could not be chosen.
    pub excluded: Option<String>,
}

/// The routing decision for one prompt, with its explanation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub model: String,
    pub model_name: String,
    pub intent: Intent,
    pub confidence: f64,
    pub complexity: Complexity,
    pub context_tokens: u64,
    pub routed_by: RoutedBy,
    /// What automatic routing would have chosen (differs when overridden).
    pub auto_choice: String,
    #[serde(rename = "estimated_cost_usd")]
    pub estimated_cost: Usd,
    pub reason: String,
    pub candidates: Vec<Candidate>,
    /// Oldest history messages left out to fit the chosen model's context window.
    pub history_trimmed: usize,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RouteError {
    #[error("unknown model `{0}`; `codeforge models` lists the catalog")]
    UnknownModel(String),
    #[error("no model can take this prompt (~{tokens} tokens): {reasons}")]
    NothingFits { tokens: u64, reasons: String },
    /// Every model that could take the prompt costs more than what is left.
    #[error("{0}")]
    Budget(crate::budget::Refusal),
}

/// Expected answer length by complexity, for cost estimates.
pub fn expected_completion_tokens(c: Complexity) -> u64 {
    match c {
        Complexity::Simple => 250,
        Complexity::Medium => 700,
        Complexity::High => 1500,
    }
}

/// The budget as the router sees it: plain numbers, no ledger.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetView<'a> {
    pub pressure: Pressure,
    /// What is left today (and this month), whichever is less.
    pub remaining: Usd,
    /// Fraction of today's limit used (committed + reserved).
    pub fraction_used: f64,
    /// The only model chosen automatically from 95 % of the daily limit.
    pub emergency_model: &'a str,
}

impl BudgetView<'_> {
    /// No budget pressure at all (tests, `route` without a ledger).
    pub fn unlimited() -> BudgetView<'static> {
        BudgetView {
            pressure: Pressure::Normal,
            remaining: Usd::from_nanos(i64::MAX),
            fraction_used: 0.0,
            emergency_model: "google/gemini-2.5-flash",
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

/// Route a prompt.
pub fn decide(
    catalog: &Catalog,
    prompt: &str,
    history_tokens: u64,
    choice: UserChoice<'_>,
    budget: BudgetView<'_>,
) -> Result<Decision, RouteError> {
    let analysis = analyze(prompt, history_tokens);
    let completion = expected_completion_tokens(analysis.complexity);
    let mut candidates: Vec<(Candidate, &ModelSpec)> = catalog
        .models()
        .iter()
        .map(|m| {
            let prices = Prices {
                prompt: m.prompt_price,
                completion: m.completion_price,
            };
            let cheapest = worst_case(prices, analysis.context_tokens, MIN_OUTPUT_TOKENS);
            let excluded = if !m.listed {
                Some("no longer listed by OpenRouter".to_string())
            } else if m.context_length < analysis.context_tokens + completion {
                Some(format!(
                    "context window {} < {} tokens needed",
                    m.context_length,
                    analysis.context_tokens + completion
                ))
            } else if cheapest > budget.remaining {
                Some(format!(
                    "cannot be afforded: needs at least {cheapest}, {} left today",
                    budget.remaining
                ))
            } else if budget.pressure >= Pressure::Critical && m.id != budget.emergency_model {
                Some(format!(
                    "{:.0}% of today's budget used: only the emergency model is chosen",
                    budget.fraction_used * 100.0
                ))
            } else {
                None
            };
            let score = m.strengths.get(analysis.intent);
            (
                Candidate {
                    model: m.id.clone(),
                    score,
                    excluded,
                },
                m,
            )
        })
        .collect();
    // Highest score first; catalog order breaks ties (deterministic).
    candidates.sort_by(|a, b| {
        (a.0.excluded.is_some())
            .cmp(&b.0.excluded.is_some())
            .then(b.0.score.total_cmp(&a.0.score))
    });
    let best = candidates
        .iter()
        .find(|(c, _)| c.excluded.is_none())
        .map(|(c, m)| (c.clone(), *m));
    let nothing_fits = || {
        // When money is the only reason, say so (with the way out) rather than list models.
        let cheapest = candidates
            .iter()
            .filter(|(_, m)| m.listed && m.context_length >= analysis.context_tokens + completion)
            .map(|(_, m)| {
                let prices = Prices {
                    prompt: m.prompt_price,
                    completion: m.completion_price,
                };
                worst_case(prices, analysis.context_tokens, MIN_OUTPUT_TOKENS)
            })
            .min();
        match cheapest {
            Some(needed) if needed > budget.remaining => {
                RouteError::Budget(crate::budget::Refusal::TooExpensive {
                    needed,
                    left: budget.remaining,
                })
            }
            _ => RouteError::NothingFits {
                tokens: analysis.context_tokens,
                reasons: candidates
                    .iter()
                    .filter_map(|(c, m)| c.excluded.as_ref().map(|e| format!("{}: {e}", m.name)))
                    .collect::<Vec<_>>()
                    .join("; "),
            },
        }
    };
    let forced = match choice {
        UserChoice::Override(f) | UserChoice::Pinned(f) => Some(
            catalog
                .find(f)
                .ok_or_else(|| RouteError::UnknownModel(f.to_string()))?,
        ),
        UserChoice::None => None,
    };
    let (chosen, routed_by) = match (choice, forced, &best) {
        (UserChoice::Override(_), Some(m), _) => (m, RoutedBy::Override),
        (UserChoice::Pinned(_), Some(m), _) => (m, RoutedBy::Pinned),
        (_, _, Some(b)) => (b.1, RoutedBy::Auto),
        _ => return Err(nothing_fits()),
    };
    // A model the user chose is still bound by the budget.
    if forced.is_some() {
        let prices = Prices {
            prompt: chosen.prompt_price,
            completion: chosen.completion_price,
        };
        let needed = worst_case(prices, analysis.context_tokens, MIN_OUTPUT_TOKENS);
        if needed > budget.remaining {
            return Err(RouteError::Budget(crate::budget::Refusal::TooExpensive {
                needed,
                left: budget.remaining,
            }));
        }
    }
    let would_pick = best.as_ref().map_or("none", |b| b.1.name.as_str());
    let used = format!(
        " · {:.0}% of today's budget used",
        (budget.fraction_used * 100.0).min(999.0)
    );
    let estimated_cost = chosen.cost(analysis.context_tokens, completion);
    let via = chosen
        .substitute
        .as_ref()
        .map(|s| format!(" (via {s}: {} is no longer listed)", chosen.id))
        .unwrap_or_default();
    let reason = match routed_by {
        RoutedBy::Auto => format!(
            "{} · {} · {}{via}: best fit for {} ({:.2}) · est {estimated_cost}{used}",
            analysis.intent,
            analysis.complexity,
            chosen.name,
            analysis.intent,
            best.as_ref().map_or(0.0, |b| b.0.score)
        ),
        RoutedBy::Pinned => format!(
            "{} · {} · {}{via}: pinned by you (router would pick {would_pick}) · est {estimated_cost}{used}",
            analysis.intent, analysis.complexity, chosen.name
        ),
        _ => format!(
            "{} · {} · {}{via}: chosen by you (router would pick {would_pick}) · est {estimated_cost}{used}",
            analysis.intent, analysis.complexity, chosen.name
        ),
    };
    Ok(Decision {
        model: chosen.id.clone(),
        model_name: chosen.name.clone(),
        intent: analysis.intent,
        confidence: analysis.confidence,
        complexity: analysis.complexity,
        context_tokens: analysis.context_tokens,
        routed_by,
        auto_choice: best.as_ref().map_or(String::new(), |b| b.1.id.clone()),
        estimated_cost,
        reason,
        candidates: candidates.into_iter().map(|(c, _)| c).collect(),
        history_trimmed: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::builtin().unwrap()
    }

    #[test]
    fn routes_by_intent_to_the_role_model() {
        let c = catalog();
        let d = decide(
            &c,
            "write a rust function that adds two numbers",
            0,
            UserChoice::None,
            BudgetView::unlimited(),
        )
        .unwrap();
        assert_eq!(d.intent, Intent::Code);
        assert_eq!(d.model, "anthropic/claude-sonnet-4");
        assert_eq!(d.routed_by, RoutedBy::Auto);
        assert!(
            d.reason
                .starts_with("code · simple · claude-sonnet-4: best fit for code (0.95)")
        );
        let d = decide(
            &c,
            "prove that the sum of the first n odd numbers is n^2",
            0,
            UserChoice::None,
            BudgetView::unlimited(),
        )
        .unwrap();
        assert_eq!(d.model, "openai/o3");
        let d = decide(
            &c,
            "design the architecture of a distributed job scheduler",
            0,
            UserChoice::None,
            BudgetView::unlimited(),
        )
        .unwrap();
        assert_eq!(d.model, "x-ai/grok-4");
    }

    #[test]
    fn override_is_recorded_with_the_auto_choice() {
        let c = catalog();
        let d = decide(
            &c,
            "write a python script",
            0,
            UserChoice::Override("kimi-k2"),
            BudgetView::unlimited(),
        )
        .unwrap();
        assert_eq!(d.model, "moonshotai/kimi-k2");
        assert_eq!(d.routed_by, RoutedBy::Override);
        assert_eq!(d.auto_choice, "anthropic/claude-sonnet-4");
        assert!(matches!(
            decide(
                &c,
                "x",
                0,
                UserChoice::Override("nope"),
                BudgetView::unlimited()
            ),
            Err(RouteError::UnknownModel(_))
        ));
    }

    #[test]
    fn budget_pressure_excludes_with_reasons() {
        let c = catalog();
        let critical = BudgetView {
            pressure: Pressure::Critical,
            remaining: Usd::from_dollars(0.1),
            fraction_used: 0.96,
            emergency_model: "google/gemini-2.5-flash",
        };
        let d = decide(&c, "write a rust function", 0, UserChoice::None, critical).unwrap();
        assert_eq!(d.model, "google/gemini-2.5-flash");
        assert!(
            d.reason.ends_with("96% of today's budget used"),
            "{}",
            d.reason
        );
        let claude = d
            .candidates
            .iter()
            .find(|x| x.model == "anthropic/claude-sonnet-4")
            .unwrap();
        assert_eq!(
            claude.excluded.as_deref(),
            Some("96% of today's budget used: only the emergency model is chosen")
        );
        let poor = BudgetView {
            pressure: Pressure::Normal,
            remaining: Usd::from_dollars(0.0003),
            fraction_used: 0.4,
            emergency_model: "google/gemini-2.5-flash",
        };
        let d = decide(&c, "write a rust function", 0, UserChoice::None, poor).unwrap();
        let grok = d
            .candidates
            .iter()
            .find(|x| x.model == "x-ai/grok-4")
            .unwrap();
        assert!(
            grok.excluded
                .as_deref()
                .unwrap()
                .starts_with("cannot be afforded")
        );
        // A pin still wins, and says what the router would have picked.
        let d = decide(
            &c,
            "write a rust function",
            0,
            UserChoice::Pinned("o3"),
            BudgetView::unlimited(),
        )
        .unwrap();
        assert_eq!(
            (d.model.as_str(), d.routed_by),
            ("openai/o3", RoutedBy::Pinned)
        );
        assert!(
            d.reason
                .contains("pinned by you (router would pick claude-sonnet-4)")
        );
    }

    #[test]
    fn too_small_context_windows_are_excluded_with_a_reason() {
        let c = catalog();
        let d = decide(
            &c,
            "write code",
            150_000,
            UserChoice::None,
            BudgetView::unlimited(),
        )
        .unwrap();
        let kimi = d
            .candidates
            .iter()
            .find(|x| x.model == "moonshotai/kimi-k2")
            .unwrap();
        assert!(
            kimi.excluded
                .as_deref()
                .unwrap()
                .starts_with("context window 131072")
        );
        assert_ne!(d.model, "moonshotai/kimi-k2");
    }
}
