//! Candidate scoring: task fit (catalog prior, updated by learning), expected cost,
//! expected latency, availability (success rate) and budget-share use, weighted by the
//! user's quality ↔ cost preference and by budget pressure.

use serde::{Deserialize, Serialize};

use super::RouteRequest;
use super::classify::Analysis;
use crate::budget::Pressure;
use crate::catalog::ModelSpec;
use crate::task::Intent;

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
    /// How close today's spend is to the model's budget share: 0 up to half of it, 1 at
    /// the share (the model is excluded from there unless nothing else fits).
    pub share_overuse: f64,
}

struct Weights {
    cost: f64,
    latency: f64,
    failure: f64,
    share: f64,
}

/// Weight of relative cost at preference `p` (0..10): smooth and decreasing, so each step
/// of the knob moves spend by a bounded amount (README, "Routing quality").
pub fn cost_weight(preference: u8) -> f64 {
    COST_WEIGHT_AT_0 * (-COST_WEIGHT_DECAY * f64::from(preference.min(10))).exp()
}

/// Cost weight at preference 0, and how fast it falls per step (set on the train part of
/// the realistic set: the default preference 5 keeps everyday work on the cheap models and
/// sends hard work to the strong ones).
const COST_WEIGHT_AT_0: f64 = 0.6;
const COST_WEIGHT_DECAY: f64 = 0.28;

fn weights(preference: u8, pressure: Pressure, a: &Analysis) -> Weights {
    let p = f64::from(preference.min(10)) / 10.0;
    let pressure_mult = match pressure {
        Pressure::Normal => 1.0,
        Pressure::Elevated => 1.5,
        Pressure::High => 2.5,
        Pressure::Critical | Pressure::Exhausted => 4.0,
    };
    // Speed decides only for chat. Quick questions too went to the fastest model once, but
    // their paraphrases then split between two cheap models on small changes of wording
    // (the realistic set: 76 % of paraphrase groups on one model, 81 % without), and the
    // generalist is acceptable for every one of them.
    let quick = a.chat;
    Weights {
        cost: cost_weight(preference) * pressure_mult,
        // Speed matters most for quick questions and chat; for hard work one waits anyway.
        latency: if quick {
            0.3
        } else {
            0.01 * (1.0 - a.hardness)
        },
        failure: 0.5,
        // The pull toward a model's budget share: enough to move a near tie, not to send
        // hard work to a weak model (at 100 % of its share a model is excluded instead).
        share: 0.1 * (1.0 - 0.5 * p),
    }
}

/// Expected quality of a model whose quality on hard tasks of an intent is `strength`, on a
/// task that is hard with probability `p_high`: the expectation over the two cases. On work
/// that is not hard every model does about equally well (a small share of the gap remains).
pub fn quality(strength: f64, p_high: f64) -> f64 {
    let p = p_high.clamp(0.0, 1.0);
    p * strength + (1.0 - p) * (1.0 - EASY_GAP * (1.0 - strength))
}

/// Share of the hard-task quality gap left on work that is not hard.
const EASY_GAP: f64 = 0.1;

/// What a score takes into account besides the catalog: ratings, tracked performance.
#[derive(Debug, Clone, Copy)]
struct Uses {
    ratings: bool,
    tracking: bool,
}

impl Uses {
    const ALL: Uses = Uses {
        ratings: true,
        tracking: true,
    };
}

/// One candidate's components; without `use_ratings` the fit is the catalog prior (the
/// tracked performance still counts).
fn components(
    m: &ModelSpec,
    a: &Analysis,
    completion: u64,
    uses: Uses,
    req: &RouteRequest<'_>,
    min_cost: f64,
    max_cost: f64,
) -> Components {
    let Uses {
        ratings: use_ratings,
        tracking: use_tracking,
    } = uses;
    // Expected quality over the whole intent distribution, not the top intent's alone.
    let s = req.signals;
    let (mut prior, mut fit, mut optimism) = (0.0, 0.0, 0.0);
    for (intent, p) in Intent::ALL.iter().zip(a.probs) {
        if p <= 0.0 {
            continue;
        }
        let q = quality(m.strengths.get(*intent), a.hardness);
        prior += p * q;
        if use_ratings {
            let post = s.posterior(&m.id, *intent, q);
            fit += p * post.mean();
            if req.explore {
                optimism += p * (post.upper() - post.mean());
            }
        }
    }
    if !use_ratings {
        fit = prior;
    }
    let ratings = if use_ratings {
        s.quality(&m.id, a.intent).ratings()
    } else {
        0.0
    };
    let perf = s.perf(&m.id, a.intent);
    let cost_usd = m
        .cost_with_factor(
            super::sent_tokens(m, a, req),
            completion,
            super::output_factor(m, a, req),
        )
        .dollars();
    let cost = if max_cost > min_cost && min_cost > 0.0 {
        ((cost_usd / min_cost).ln() / (max_cost / min_cost).ln()).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let target = m.latency_target_ms as f64;
    let (latency_ms, success) = match perf.filter(|_| use_tracking) {
        Some(p) => (p.ttft_blended(target), p.success_weighed(req.now_ms)),
        None => (target, 1.0),
    };
    let (spent, share_budget) = req.budget.share_use(m);
    // 0 up to half of the share, rising smoothly to 1 at the share.
    let share_overuse = if share_budget > 0.0 {
        ((spent / share_budget - 0.5) / 0.5).clamp(0.0, 1.0).powi(2)
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

/// The cheapest and dearest candidate, costed as `components` costs each one.
fn cost_range(
    models: &[ModelSpec],
    a: &Analysis,
    completion: u64,
    req: &RouteRequest<'_>,
) -> (f64, f64) {
    let costs: Vec<f64> = models
        .iter()
        .map(|m| {
            m.cost_with_factor(
                super::sent_tokens(m, a, req),
                completion,
                super::output_factor(m, a, req),
            )
            .dollars()
        })
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
    let (lo, hi) = cost_range(models, a, completion, req);
    models
        .iter()
        .map(|m| {
            let c = components(m, a, completion, Uses::ALL, req, lo, hi);
            (round(total(&c, &w, c.fit + c.optimism)), c)
        })
        .collect()
}

/// Scores with part of what was learned left out, to tell what changed the choice: without
/// `ratings` the fit is the catalog prior (ratings changed it: "your ratings"); without
/// `tracking` speed and failures are the catalog's (tracking changed it: "X skipped").
pub fn score_without(
    models: &[ModelSpec],
    a: &Analysis,
    completion: u64,
    req: &RouteRequest<'_>,
    ratings: bool,
    tracking: bool,
) -> Vec<f64> {
    let w = weights(req.preference, req.budget.pressure, a);
    let (lo, hi) = cost_range(models, a, completion, req);
    let uses = Uses { ratings, tracking };
    models
        .iter()
        .map(|m| {
            let c = components(m, a, completion, uses, req, lo, hi);
            round(total(&c, &w, c.fit))
        })
        .collect()
}

/// Scores are rounded so that floating-point noise never reorders candidates.
fn round(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}
