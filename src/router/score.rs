//! Candidate scoring: task fit (catalog prior, updated by learning), expected cost,
//! expected latency, availability (success rate) and budget-share use, weighted by the
//! user's quality ↔ cost preference and by budget pressure.

use serde::{Deserialize, Serialize};

use super::RouteRequest;
use super::classify::Analysis;
use crate::budget::Pressure;
use crate::catalog::ModelSpec;
use crate::task::{Complexity, Intent};

/// The parts of a candidate's score, kept for the expanded route card and the ledger.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Components {
    /// Expected quality for this intent (posterior mean).
    pub fit: f64,
    /// The catalog's prior for this intent.
    pub prior_fit: f64,
    /// Ratings behind the posterior.
    pub ratings: f64,
    /// What exploring adds to the fit for ranking (upper bound − mean; 0 when not exploring).
    pub optimism: f64,
    pub cost_usd: f64,
    /// Cost relative to the other candidates, 0 (cheapest) … 1 (dearest), log scale.
    pub cost: f64,
    /// Expected time to first token in ms (tracked, else the catalog target).
    pub latency_ms: f64,
    /// Recent success rate (1.0 without data).
    pub success: f64,
    /// Today's spend over the model's budget share (0 = within it).
    pub share_overuse: f64,
}

struct Weights {
    cost: f64,
    latency: f64,
    failure: f64,
    share: f64,
}

fn weights(preference: u8, pressure: Pressure, a: &Analysis) -> Weights {
    let p = f64::from(preference.min(10)) / 10.0;
    let pressure_mult = match pressure {
        Pressure::Normal => 1.0,
        Pressure::Elevated => 1.5,
        Pressure::High => 2.5,
        Pressure::Critical | Pressure::Exhausted => 4.0,
    };
    Weights {
        cost: 0.5 * (1.0 - p).powi(3) * pressure_mult,
        // Speed matters most for quick questions: short, general or explanatory prompts.
        latency: match (a.complexity, a.intent) {
            (Complexity::Simple, Intent::General | Intent::Explain) => 0.3,
            _ => 0.05,
        },
        failure: 0.5,
        share: 0.05 * (1.0 - p),
    }
}

/// One candidate's components; without `use_ratings` the fit is the catalog prior (the
/// tracked performance still counts).
fn components(
    m: &ModelSpec,
    a: &Analysis,
    completion: u64,
    use_ratings: bool,
    req: &RouteRequest<'_>,
    min_cost: f64,
    max_cost: f64,
) -> Components {
    let prior = m.strengths.get(a.intent);
    let s = req.signals;
    let (fit, optimism, ratings) = if use_ratings {
        let post = s.posterior(&m.id, a.intent, prior);
        let optimism = if req.explore {
            post.upper() - post.mean()
        } else {
            0.0
        };
        (post.mean(), optimism, s.quality(&m.id, a.intent).ratings())
    } else {
        (prior, 0.0, 0.0)
    };
    let perf = s.perf(&m.id, a.intent);
    let cost_usd = m.cost(super::sent_tokens(m, a, req), completion).dollars();
    let cost = if max_cost > min_cost && min_cost > 0.0 {
        ((cost_usd / min_cost).ln() / (max_cost / min_cost).ln()).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let latency_ms = perf
        .filter(|p| p.ttft_ms > 0.0)
        .map_or(m.latency_target_ms as f64, |p| p.ttft_ms);
    let success = perf.map_or(1.0, |p| p.success_at(req.now_ms));
    let spent = req
        .budget
        .model_spend
        .iter()
        .find(|(id, _)| id == &m.id)
        .map_or(0.0, |(_, u)| u.dollars());
    let share_budget = req.budget.daily_limit.dollars() * m.budget_share;
    let share_overuse = if share_budget > 0.0 {
        (spent / share_budget - 1.0).clamp(0.0, 1.0)
    } else {
        0.0
    };
    Components {
        fit,
        prior_fit: prior,
        ratings,
        optimism,
        cost_usd,
        cost,
        latency_ms,
        success,
        share_overuse,
    }
}

fn total(c: &Components, w: &Weights, use_fit: f64) -> f64 {
    use_fit
        - w.cost * c.cost
        - w.latency * (c.latency_ms / 2000.0).clamp(0.0, 1.0)
        - w.failure * (1.0 - c.success)
        - w.share * c.share_overuse
}

fn cost_range(models: &[ModelSpec], a: &Analysis, completion: u64) -> (f64, f64) {
    let costs: Vec<f64> = models
        .iter()
        .map(|m| m.cost(a.context_tokens, completion).dollars())
        .collect();
    (
        costs.iter().cloned().fold(f64::MAX, f64::min),
        costs.iter().cloned().fold(0.0, f64::max),
    )
}

/// Score every model (same order as `models`).
pub fn score_all(
    models: &[ModelSpec],
    a: &Analysis,
    completion: u64,
    req: &RouteRequest<'_>,
) -> Vec<(f64, Components)> {
    let w = weights(req.preference, req.budget.pressure, a);
    let (lo, hi) = cost_range(models, a, completion);
    models
        .iter()
        .map(|m| {
            let c = components(m, a, completion, true, req, lo, hi);
            (round(total(&c, &w, c.fit + c.optimism)), c)
        })
        .collect()
}

/// Scores with the catalog priors as the fit (no ratings; tracked performance counts), to
/// tell when ratings changed the choice.
pub fn score_prior(
    models: &[ModelSpec],
    a: &Analysis,
    completion: u64,
    req: &RouteRequest<'_>,
) -> Vec<f64> {
    let w = weights(req.preference, req.budget.pressure, a);
    let (lo, hi) = cost_range(models, a, completion);
    models
        .iter()
        .map(|m| {
            let c = components(m, a, completion, false, req, lo, hi);
            round(total(&c, &w, c.prior_fit))
        })
        .collect()
}

/// Scores are rounded so that floating-point noise never reorders candidates.
fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
