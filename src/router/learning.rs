//! What the router learns: per (model, intent) quality estimates (Beta posteriors over
//! thumbs up/down and implicit signals) and performance (moving averages of time to first
//! token, latency, tokens/s and success). Rebuilt from the ledger at start; pure.

use std::collections::HashMap;

use crate::task::Intent;

/// Strength of the catalog prior, in pseudo-ratings.
pub const PRIOR_WEIGHT: f64 = 8.0;
/// Weight of the moving averages' newest sample.
const ALPHA: f64 = 0.2;

/// A Beta posterior over "the answer was good".
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Beta {
    pub up: f64,
    pub down: f64,
}

impl Beta {
    /// Posterior mean with the catalog strength as prior.
    pub fn mean(&self, prior: f64) -> f64 {
        let a = prior * PRIOR_WEIGHT + self.up;
        let b = (1.0 - prior) * PRIOR_WEIGHT + self.down;
        a / (a + b)
    }

    pub fn ratings(&self) -> f64 {
        self.up + self.down
    }
}

/// Moving averages of one model's performance.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Perf {
    pub samples: u32,
    pub ttft_ms: f64,
    pub latency_ms: f64,
    pub tokens_per_s: f64,
    pub success: f64,
}

impl Perf {
    fn push(&mut self, ok: bool, ttft_ms: Option<f64>, latency_ms: Option<f64>, tps: Option<f64>) {
        let blend = |avg: &mut f64, v: f64, first: bool| {
            *avg = if first {
                v
            } else {
                *avg * (1.0 - ALPHA) + v * ALPHA
            };
        };
        let first = self.samples == 0;
        blend(&mut self.success, if ok { 1.0 } else { 0.0 }, first);
        if let Some(t) = ttft_ms {
            let fresh = first || self.ttft_ms == 0.0;
            blend(&mut self.ttft_ms, t, fresh);
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
}

/// Everything learned, keyed by model (and intent).
#[derive(Debug, Clone, Default)]
pub struct Signals {
    quality: HashMap<(String, Intent), Beta>,
    perf: HashMap<(String, Intent), Perf>,
    perf_model: HashMap<String, Perf>,
}

impl Signals {
    pub fn new() -> Self {
        Self::default()
    }

    /// Thumbs up/down (weight 1), or an implicit signal (e.g. 0.5 for a re-run elsewhere).
    pub fn rate(&mut self, model: &str, intent: Intent, up: bool, weight: f64) {
        let b = self.quality.entry((model.to_string(), intent)).or_default();
        if up {
            b.up += weight;
        } else {
            b.down += weight;
        }
    }

    pub fn quality(&self, model: &str, intent: Intent) -> Beta {
        self.quality
            .get(&(model.to_string(), intent))
            .copied()
            .unwrap_or_default()
    }

    pub fn observe(&mut self, o: &Outcome) {
        let tps = match (o.latency_ms, o.ttft_ms) {
            (Some(l), Some(t)) if l > t && o.completion_tokens > 0 => {
                Some(o.completion_tokens as f64 / ((l - t) / 1000.0))
            }
            _ => None,
        };
        self.perf
            .entry((o.model.clone(), o.intent))
            .or_default()
            .push(o.ok, o.ttft_ms, o.latency_ms, tps);
        self.perf_model.entry(o.model.clone()).or_default().push(
            o.ok,
            o.ttft_ms,
            o.latency_ms,
            tps,
        );
    }

    /// A model's performance over all intents.
    pub fn model_perf(&self, model: &str) -> Option<Perf> {
        self.perf_model.get(model).copied()
    }

    /// Performance for (model, intent), falling back to the model's overall numbers.
    pub fn perf(&self, model: &str, intent: Intent) -> Option<Perf> {
        self.perf
            .get(&(model.to_string(), intent))
            .filter(|p| p.samples >= 3)
            .or_else(|| self.perf_model.get(model))
            .copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratings_move_the_posterior_from_the_prior() {
        let mut s = Signals::new();
        assert!((s.quality("m", Intent::Code).mean(0.9) - 0.9).abs() < 1e-9);
        for _ in 0..8 {
            s.rate("m", Intent::Code, false, 1.0);
        }
        let m = s.quality("m", Intent::Code).mean(0.9);
        assert!((m - 0.45).abs() < 1e-9, "{m}");
        assert_eq!(s.quality("m", Intent::Math), Beta::default());
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
            });
        }
        let p = s.perf("m", Intent::Code).unwrap();
        assert_eq!(p.samples, 3);
        assert!(p.latency_ms > 1000.0 && p.latency_ms < 3000.0);
        assert!(p.success < 1.0 && p.success > 0.5);
        assert!(p.tokens_per_s > 0.0);
    }
}
