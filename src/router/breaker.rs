//! Circuit breakers per model: open after N consecutive failures, half-open probe after a
//! cooldown (or the provider's Retry-After, whichever is longer), closed on success.
//! Pure: the caller passes the time.

use std::collections::HashMap;

/// Failures in a row that open a breaker.
pub const FAILURES_TO_OPEN: u32 = 3;
/// How long an open breaker stays open, at least.
pub const COOLDOWN_MS: i64 = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Closed,
    /// No request goes to the model until `until_ms`.
    Open {
        until_ms: i64,
        failures: u32,
    },
    /// The cooldown passed: one probe request may go.
    HalfOpen,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct State {
    failures: u32,
    open_until: Option<i64>,
    probing: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Breakers {
    models: HashMap<String, State>,
}

impl Breakers {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn availability(&self, model: &str, now_ms: i64) -> Availability {
        match self.models.get(model) {
            Some(State {
                open_until: Some(until),
                failures,
                probing,
            }) => {
                if now_ms < *until {
                    Availability::Open {
                        until_ms: *until,
                        failures: *failures,
                    }
                } else if *probing {
                    // A probe is in flight: others wait for its outcome.
                    Availability::Open {
                        until_ms: now_ms + 1000,
                        failures: *failures,
                    }
                } else {
                    Availability::HalfOpen
                }
            }
            _ => Availability::Closed,
        }
    }

    /// A request is about to go to `model` (marks the half-open probe).
    pub fn on_attempt(&mut self, model: &str, now_ms: i64) {
        if self.availability(model, now_ms) == Availability::HalfOpen
            && let Some(s) = self.models.get_mut(model)
        {
            s.probing = true;
        }
    }

    /// The probe ended without a verdict on the model (the network was down): the next
    /// request may probe again.
    pub fn release_probe(&mut self, model: &str) {
        if let Some(s) = self.models.get_mut(model) {
            s.probing = false;
        }
    }

    pub fn on_success(&mut self, model: &str) {
        self.models.remove(model);
    }

    /// A failure that says something about the model's availability (not auth or budget).
    pub fn on_failure(&mut self, model: &str, retry_after_ms: Option<i64>, now_ms: i64) {
        let s = self.models.entry(model.to_string()).or_default();
        s.failures += 1;
        let was_probe = s.probing;
        s.probing = false;
        if s.failures >= FAILURES_TO_OPEN || was_probe || retry_after_ms.is_some() {
            let cooldown = COOLDOWN_MS.max(retry_after_ms.unwrap_or(0));
            let cooldown =
                if retry_after_ms.is_some() && s.failures < FAILURES_TO_OPEN && !was_probe {
                    // A Retry-After alone is honoured exactly; repeated failures use the cooldown.
                    retry_after_ms.unwrap_or(cooldown)
                } else {
                    cooldown
                };
            s.open_until = Some(now_ms + cooldown);
        }
    }

    /// Every model whose breaker is not closed (sidebar).
    pub fn states(&self, now_ms: i64) -> Vec<(String, Availability)> {
        let mut v: Vec<_> = self
            .models
            .keys()
            .map(|m| (m.clone(), self.availability(m, now_ms)))
            .filter(|(_, a)| *a != Availability::Closed)
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_n_failures_probes_after_cooldown_and_closes_on_success() {
        let mut b = Breakers::new();
        for _ in 0..FAILURES_TO_OPEN - 1 {
            b.on_failure("m", None, 0);
            assert_eq!(b.availability("m", 0), Availability::Closed);
        }
        b.on_failure("m", None, 0);
        assert!(matches!(b.availability("m", 10), Availability::Open { .. }));
        assert_eq!(b.availability("m", COOLDOWN_MS), Availability::HalfOpen);
        b.on_attempt("m", COOLDOWN_MS);
        assert!(
            matches!(b.availability("m", COOLDOWN_MS), Availability::Open { .. }),
            "one probe at a time"
        );
        b.on_failure("m", None, COOLDOWN_MS);
        assert!(
            matches!(
                b.availability("m", COOLDOWN_MS + 10),
                Availability::Open { .. }
            ),
            "a failed probe re-opens"
        );
        assert_eq!(
            b.availability("m", 2 * COOLDOWN_MS + 1),
            Availability::HalfOpen
        );
        b.on_attempt("m", 2 * COOLDOWN_MS + 1);
        b.on_success("m");
        assert_eq!(
            b.availability("m", 2 * COOLDOWN_MS + 2),
            Availability::Closed
        );
    }

    #[test]
    fn retry_after_is_honoured() {
        let mut b = Breakers::new();
        b.on_failure("m", Some(5_000), 0);
        assert!(matches!(
            b.availability("m", 4_999),
            Availability::Open {
                until_ms: 5_000,
                ..
            }
        ));
        assert_eq!(b.availability("m", 5_000), Availability::HalfOpen);
        assert_eq!(b.availability("other", 0), Availability::Closed);
    }
}
