//! What the router learns: per (model, intent) quality estimates (Beta posteriors over
//! thumbs up/down and implicit signals) and performance (moving averages of time to first
//! token, latency, tokens/s and success). Rebuilt from the ledger at start; pure.

use std::collections::HashMap;

use crate::catalog::ModelSpec;
use crate::task::Intent;

/// Strength of the catalog prior on a model, in pseudo-ratings.
pub const CATALOG_WEIGHT: f64 = 8.0;
/// What one rating on another intent of the same model counts for, next to the catalog
/// prior (partial pooling: a model good at code is likely good at debugging).
pub const OTHER_INTENTS_WEIGHT: f64 = 0.5;
/// Strength of that pooled estimate on the per-intent posterior, in pseudo-ratings.
pub const POOL_WEIGHT: f64 = 4.0;
/// Standard deviations of optimism when the router explores.
pub const EXPLORE_Z: f64 = 2.0;
/// Weight of the moving averages' newest sample.
const ALPHA: f64 = 0.2;
/// How fast a model's failures are forgiven when nothing new is heard of it: the failure
/// share of its success rate halves every this many milliseconds. Without it a model that
/// failed once and was then never picked would stay demoted for good.
pub const SUCCESS_HALF_LIFE_MS: f64 = 15.0 * 60.0 * 1000.0;

/// Ratings of "the answer was good" (weights, so implicit signals can count for less).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Beta {
    pub up: f64,
    pub down: f64,
}

impl Beta {
    pub fn ratings(&self) -> f64 {
        self.up + self.down
    }

    pub fn add(&mut self, score: f64, weight: f64) {
        self.up += score * weight;
        self.down += (1.0 - score) * weight;
    }
}

/// The Beta posterior over one (model, intent)'s quality.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Posterior {
    pub a: f64,
    pub b: f64,
}

impl Posterior {
    /// Hierarchical estimate: the catalog `prior` for (model, intent), moved by the model's
    /// ratings on its other intents (`model` holds every rating of the model, `cell` this
    /// intent's, so each rating counts once), then by its ratings on this intent. With no
    /// ratings the mean is the prior.
    pub fn pooled(prior: f64, model: Beta, cell: Beta) -> Self {
        let up = (model.up - cell.up).max(0.0) * OTHER_INTENTS_WEIGHT;
        let down = (model.down - cell.down).max(0.0) * OTHER_INTENTS_WEIGHT;
        let p = (prior * CATALOG_WEIGHT + up) / (CATALOG_WEIGHT + up + down);
        Self {
            a: p * POOL_WEIGHT + cell.up,
            b: (1.0 - p) * POOL_WEIGHT + cell.down,
        }
    }

    pub fn mean(&self) -> f64 {
        self.a / (self.a + self.b)
    }

    /// Optimistic: the mean plus [`EXPLORE_Z`] standard deviations, so what has been rated
    /// least gets tried.
    pub fn upper(&self) -> f64 {
        let n = self.a + self.b;
        self.mean() + EXPLORE_Z * (self.a * self.b / (n * n * (n + 1.0))).sqrt()
    }
}

/// Moving averages of one model's performance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Perf {
    pub samples: u32,
    pub ttft_ms: f64,
    pub latency_ms: f64,
    pub tokens_per_s: f64,
    /// Moving average of success, starting from 1 (one failure is not a verdict).
    pub success: f64,
    /// When the last sample was taken (ms since the epoch).
    pub last_ms: i64,
    /// Failures since the model last answered (0 once it answers again).
    pub failing: u32,
    /// Samples behind `ttft_ms`.
    pub ttft_samples: u32,
}

/// Pseudo-samples of the catalog's latency target when blending in measured latency: one
/// quick answer does not replace a model's 5 s prior.
pub const LATENCY_PRIOR_SAMPLES: f64 = 5.0;

impl Perf {
    /// Time to first token blended with the catalog's `target` by the number of samples.
    pub fn ttft_blended(&self, target: f64) -> f64 {
        if self.ttft_samples == 0 || self.ttft_ms <= 0.0 {
            return target;
        }
        let n = f64::from(self.ttft_samples);
        (target * LATENCY_PRIOR_SAMPLES + self.ttft_ms * n) / (LATENCY_PRIOR_SAMPLES + n)
    }

    /// The success rate the router weighs: transient failures are forgotten as soon as the
    /// model answers again (sustained failure is the circuit breaker's job).
    pub fn success_weighed(&self, now_ms: i64) -> f64 {
        if self.failing == 0 {
            1.0
        } else {
            self.success_at(now_ms)
        }
    }

    /// The success rate at `now_ms`: failures fade with [`SUCCESS_HALF_LIFE_MS`] since the
    /// last sample.
    pub fn success_at(&self, now_ms: i64) -> f64 {
        let age = (now_ms - self.last_ms).max(0) as f64;
        1.0 - (1.0 - self.success) * 0.5f64.powf(age / SUCCESS_HALF_LIFE_MS)
    }

    fn push(
        &mut self,
        ok: bool,
        ttft_ms: Option<f64>,
        latency_ms: Option<f64>,
        tps: Option<f64>,
        at_ms: i64,
    ) {
        let blend = |avg: &mut f64, v: f64, first: bool| {
            *avg = if first {
                v
            } else {
                *avg * (1.0 - ALPHA) + v * ALPHA
            };
        };
        let first = self.samples == 0;
        // Success starts from the prior 1 and decays what it has not seen lately first.
        self.success = if first { 1.0 } else { self.success_at(at_ms) };
        blend(&mut self.success, if ok { 1.0 } else { 0.0 }, false);
        self.last_ms = self.last_ms.max(at_ms);
        self.failing = if ok { 0 } else { self.failing + 1 };
        if let Some(t) = ttft_ms {
            let fresh = first || self.ttft_ms == 0.0;
            blend(&mut self.ttft_ms, t, fresh);
            self.ttft_samples += 1;
        }
        if let Some(l) = latency_ms {
            let fresh = first || self.latency_ms == 0.0;
            blend(&mut self.latency_ms, l, fresh);
        }
        if let Some(t) = tps {
            let fresh = first || self.tokens_per_s == 0.0;
            blend(&mut self.tokens_per_s, t, fresh);
        }
        self.samples += 1;
    }
}

/// One finished request, as the tracker needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub model: String,
    pub intent: Intent,
    pub ok: bool,
    pub ttft_ms: Option<f64>,
    pub latency_ms: Option<f64>,
    pub completion_tokens: u64,
    /// When it happened (ms since the epoch).
    pub at_ms: i64,
}

/// A value per model and intent (indexed by [`Intent::index`]), looked up by `&str`
/// without allocating: every routing decision reads these dozens of times.
type PerIntent<T> = HashMap<String, [T; 6]>;

fn slot<'a, T: Default + Copy>(
    map: &'a mut PerIntent<T>,
    model: &str,
    intent: Intent,
) -> &'a mut T {
    &mut map.entry(model.to_string()).or_insert([T::default(); 6])[intent.index()]
}

fn read<T: Copy>(map: &PerIntent<T>, model: &str, intent: Intent) -> Option<T> {
    map.get(model).map(|row| row[intent.index()])
}

/// Everything learned, keyed by model (and intent).
#[derive(Debug, Clone, Default)]
pub struct Signals {
    quality: PerIntent<Beta>,
    quality_model: HashMap<String, Beta>,
    perf: PerIntent<Perf>,
    perf_model: HashMap<String, Perf>,
    /// Billed output tokens over the visible answer length expected when the request was
    /// routed, per (model, intent): (answers, sum of the ratios).
    output: PerIntent<(f64, f64)>,
    /// The last bills per model, (USD, prompt tokens, completion tokens), oldest first: what
    /// the provider really charges, against the catalog's prices (see `price_margin`).
    bills: HashMap<String, std::collections::VecDeque<(f64, u64, u64)>>,
}

/// How many of a model's bills the price margin is learned from.
const BILLS_KEPT: usize = 20;
/// Bills of a model before its margin is learned from them alone.
pub const MIN_BILLS: usize = 3;
/// The margin on a model's prices before it has been billed enough: providers' prices
/// differ from the listed ones (and drift) by up to a fifth.
pub const UNKNOWN_PRICE_MARGIN: f64 = 1.2;
/// Headroom on the largest billed ÷ listed ratio seen.
const PRICE_HEADROOM: f64 = 1.02;
/// The margin never goes beyond this (a bill far above the listed price is a price change
/// that a catalog refresh takes in).
const MAX_PRICE_MARGIN: f64 = 2.0;

/// Pseudo-answers of the catalog's output factor when blending in billed ones.
pub const OUTPUT_PRIOR_SAMPLES: f64 = 5.0;

impl Signals {
    pub fn new() -> Self {
        Self::default()
    }

    /// Thumbs up/down (weight 1), or an implicit signal (e.g. 0.5 for a re-run elsewhere);
    /// a negative weight takes a rating back.
    pub fn rate(&mut self, model: &str, intent: Intent, up: bool, weight: f64) {
        let score = if up { 1.0 } else { 0.0 };
        slot(&mut self.quality, model, intent).add(score, weight);
        self.quality_model
            .entry(model.to_string())
            .or_default()
            .add(score, weight);
    }

    /// The posterior over (model, intent) from the catalog prior and every rating.
    pub fn posterior(&self, model: &str, intent: Intent, prior: f64) -> Posterior {
        let all = self.quality_model.get(model).copied().unwrap_or_default();
        Posterior::pooled(prior, all, self.quality(model, intent))
    }

    pub fn quality(&self, model: &str, intent: Intent) -> Beta {
        read(&self.quality, model, intent).unwrap_or_default()
    }

    pub fn observe(&mut self, o: &Outcome) {
        let tps = match (o.latency_ms, o.ttft_ms) {
            (Some(l), Some(t)) if l > t && o.completion_tokens > 0 => {
                Some(o.completion_tokens as f64 / ((l - t) / 1000.0))
            }
            _ => None,
        };
        slot(&mut self.perf, &o.model, o.intent).push(o.ok, o.ttft_ms, o.latency_ms, tps, o.at_ms);
        self.perf_model.entry(o.model.clone()).or_default().push(
            o.ok,
            o.ttft_ms,
            o.latency_ms,
            tps,
            o.at_ms,
        );
    }

    /// A finished answer's billed output tokens (hidden reasoning included) against the
    /// visible length the router expected for it.
    pub fn observe_output(&mut self, model: &str, intent: Intent, expected: u64, billed: u64) {
        if expected == 0 || billed == 0 {
            return;
        }
        let e = slot(&mut self.output, model, intent);
        e.0 += 1.0;
        // One answer far off the expected length moves the factor, but cannot run away.
        e.1 += (billed as f64 / expected as f64).clamp(0.05, 20.0);
    }

    /// Billed output tokens per expected visible token for (model, intent): the catalog's
    /// `prior` blended with what the provider billed, by the number of answers.
    pub fn output_factor(&self, model: &str, intent: Intent, prior: f64) -> f64 {
        let (n, sum) = read(&self.output, model, intent).unwrap_or_default();
        (prior * OUTPUT_PRIOR_SAMPLES + sum) / (OUTPUT_PRIOR_SAMPLES + n)
    }

    /// A bill from the provider: what `model` charged for this many tokens.
    pub fn observe_bill(
        &mut self,
        model: &str,
        billed_usd: f64,
        prompt_tokens: u64,
        completion_tokens: u64,
    ) {
        if !(billed_usd.is_finite() && billed_usd > 0.0) || prompt_tokens + completion_tokens == 0 {
            return;
        }
        let bills = self.bills.entry(model.to_string()).or_default();
        bills.push_back((billed_usd, prompt_tokens, completion_tokens));
        while bills.len() > BILLS_KEPT {
            bills.pop_front();
        }
    }

    /// What the provider billed ÷ what the catalog's prices `m` say the same tokens cost,
    /// for `m`'s recent bills (at today's catalog prices, so a refresh moves it back).
    /// Read on every routing decision: no allocation.
    pub fn billed_over_listed<'a>(&'a self, m: &'a ModelSpec) -> impl Iterator<Item = f64> + 'a {
        self.bills
            .get(&m.id)
            .into_iter()
            .flatten()
            .filter_map(|(usd, p, c)| {
                let listed = m.cost(*p, *c).dollars();
                (listed > 0.0).then(|| usd / listed)
            })
    }

    /// The factor on `m`'s listed prices a reservation holds: the largest billed ÷ listed
    /// ratio of its last bills with a little headroom (never below 1), and at least
    /// [`UNKNOWN_PRICE_MARGIN`] until it has been billed [`MIN_BILLS`] times.
    pub fn price_margin(&self, m: &ModelSpec) -> f64 {
        let (n, largest) = self
            .billed_over_listed(m)
            .fold((0, 0.0f64), |(n, max), r| (n + 1, max.max(r)));
        let floor = if n >= MIN_BILLS {
            1.0
        } else {
            UNKNOWN_PRICE_MARGIN
        };
        (largest * PRICE_HEADROOM).max(floor).min(MAX_PRICE_MARGIN)
    }

    /// A model's performance over all intents.
    pub fn model_perf(&self, model: &str) -> Option<Perf> {
        self.perf_model.get(model).copied()
    }

    /// Performance for (model, intent), falling back to the model's overall numbers.
    pub fn perf(&self, model: &str, intent: Intent) -> Option<Perf> {
        read(&self.perf, model, intent)
            .filter(|p| p.samples >= 3)
            .or_else(|| self.perf_model.get(model).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_margin_is_learned_from_bills() {
        let catalog = crate::catalog::Catalog::builtin().unwrap();
        let m = catalog.get("moonshotai/kimi-k2").unwrap();
        let mut s = Signals::new();
        // Never billed: the margin for unknown prices.
        assert_eq!(s.price_margin(m), UNKNOWN_PRICE_MARGIN);
        // Billed 10 % over the listed price three times: that, with headroom.
        let listed = m.cost(1000, 500).dollars();
        for _ in 0..3 {
            s.observe_bill(&m.id, listed * 1.1, 1000, 500);
        }
        assert!(
            (s.price_margin(m) - 1.1 * 1.02).abs() < 1e-9,
            "{}",
            s.price_margin(m)
        );
        // Billed at or under the listed price: no margin below 1.
        let mut cheap = Signals::new();
        for _ in 0..3 {
            cheap.observe_bill(&m.id, listed * 0.8, 1000, 500);
        }
        assert_eq!(cheap.price_margin(m), 1.0);
        // A wild bill is capped: a refresh of the catalog takes in real price changes.
        s.observe_bill(&m.id, listed * 9.0, 1000, 500);
        assert_eq!(s.price_margin(m), 2.0);
        // Garbage is ignored.
        s.observe_bill(&m.id, f64::NAN, 1000, 500);
        s.observe_bill(&m.id, 0.01, 0, 0);
        assert_eq!(s.billed_over_listed(m).count(), 4);
    }

    #[test]
    fn billed_output_moves_the_factor_from_its_prior() {
        let mut s = Signals::new();
        assert_eq!(s.output_factor("m", Intent::Math, 1.6), 1.6);
        // o3 billed 4x the visible length five times: halfway between prior and data.
        for _ in 0..5 {
            s.observe_output("m", Intent::Math, 700, 2800);
        }
        assert!((s.output_factor("m", Intent::Math, 1.6) - 2.8).abs() < 1e-9);
        // Other intents keep the prior; empty answers teach nothing.
        assert_eq!(s.output_factor("m", Intent::Code, 1.6), 1.6);
        s.observe_output("m", Intent::Code, 700, 0);
        assert_eq!(s.output_factor("m", Intent::Code, 1.6), 1.6);
    }

    #[test]
    fn ratings_move_the_posterior_from_the_prior() {
        let mut s = Signals::new();
        assert!((s.posterior("m", Intent::Code, 0.9).mean() - 0.9).abs() < 1e-9);
        for _ in 0..8 {
            s.rate("m", Intent::Code, false, 1.0);
        }
        // Its own ratings: (0.9 × 4 + 0) / (4 + 8) = 0.3.
        let m = s.posterior("m", Intent::Code, 0.9).mean();
        assert!((m - 0.3).abs() < 1e-9, "{m}");
        // Another intent of the same model moves too, less (pooled through the model, each
        // rating counted at half): (0.9 × 8 + 0) / (8 + 4) = 0.6.
        let math = s.posterior("m", Intent::Math, 0.9).mean();
        assert!((math - 0.6).abs() < 1e-9, "{math}");
        // One thumbs-down on the best model does not sink it: 0.9 → 0.72.
        let mut one = Signals::new();
        one.rate("m", Intent::Code, false, 1.0);
        let m = one.posterior("m", Intent::Code, 0.9).mean();
        assert!((m - 0.72).abs() < 1e-9, "{m}");
        assert_eq!(s.quality("m", Intent::Math), Beta::default());
        // Another model does not move.
        assert!((s.posterior("n", Intent::Code, 0.9).mean() - 0.9).abs() < 1e-9);
    }

    #[test]
    fn the_upper_bound_narrows_with_ratings() {
        let few = Posterior::pooled(0.5, Beta::default(), Beta { up: 1.0, down: 1.0 });
        let many = Posterior::pooled(
            0.5,
            Beta::default(),
            Beta {
                up: 50.0,
                down: 50.0,
            },
        );
        assert!((few.mean() - many.mean()).abs() < 1e-9);
        assert!(
            few.upper() > many.upper() + 0.1,
            "{} {}",
            few.upper(),
            many.upper()
        );
        assert!(many.upper() > many.mean());
    }

    #[test]
    fn one_failure_is_not_a_verdict_and_old_failures_fade() {
        let mut s = Signals::new();
        let fail = |at_ms| Outcome {
            model: "m".into(),
            intent: Intent::Code,
            ok: false,
            ttft_ms: None,
            latency_ms: None,
            completion_tokens: 0,
            at_ms,
        };
        s.observe(&fail(0));
        let p = s.perf("m", Intent::Code).unwrap();
        // From the prior 1, one failure weighs ALPHA.
        assert!((p.success - 0.8).abs() < 1e-9, "{}", p.success);
        let half = SUCCESS_HALF_LIFE_MS as i64;
        assert!((p.success_at(0) - 0.8).abs() < 1e-9);
        assert!((p.success_at(half) - 0.9).abs() < 1e-9);
        assert!(p.success_at(20 * half) > 0.999_99);
        // A new failure after a long quiet starts from the forgiven rate.
        s.observe(&fail(20 * half));
        let p = s.perf("m", Intent::Code).unwrap();
        assert!(
            (p.success_at(20 * half) - 0.8).abs() < 1e-3,
            "{}",
            p.success
        );
    }

    #[test]
    fn perf_is_a_moving_average() {
        let mut s = Signals::new();
        for (ok, lat) in [(true, 1000.0), (true, 2000.0), (false, 3000.0)] {
            s.observe(&Outcome {
                model: "m".into(),
                intent: Intent::Code,
                ok,
                ttft_ms: Some(100.0),
                latency_ms: Some(lat),
                completion_tokens: 90,
                at_ms: 0,
            });
        }
        let p = s.perf("m", Intent::Code).unwrap();
        assert_eq!(p.samples, 3);
        assert!(p.latency_ms > 1000.0 && p.latency_ms < 3000.0);
        assert!(p.success < 1.0 && p.success > 0.5);
        assert!(p.tokens_per_s > 0.0);
    }
}
