//! Budget arithmetic: thresholds, worst-case reservations and the `max_tokens` cap.
//!
//! Pure functions over plain numbers; the ledger applies them inside its transactions.
//! Must not import `ledger`, `provider`, `tui`, `ratatui` or `crossterm`.

use serde::Serialize;

use crate::money::Usd;

/// Spend limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    pub daily: Usd,
    pub monthly: Usd,
}

/// What is spent and held right now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Spend {
    /// Settled costs.
    pub committed: Usd,
    /// Worst-case amounts held by requests still running (or orphaned).
    pub reserved: Usd,
}

impl Spend {
    pub fn total(&self) -> Usd {
        self.committed.saturating_add(self.reserved)
    }
}

/// The gauge's state: which colour, and how the router should behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Pressure {
    /// Below 50 %.
    Normal,
    /// 50 % – 80 %: cost weighs more.
    Elevated,
    /// 80 % – 95 %: cost weighs much more.
    High,
    /// 95 % – 100 %: only the emergency model is chosen automatically.
    Critical,
    /// 100 %: requests are refused.
    Exhausted,
}

impl Pressure {
    /// From the fraction of the daily limit used (committed + reserved).
    pub fn from_fraction(f: f64) -> Self {
        if f >= 1.0 {
            Pressure::Exhausted
        } else if f >= 0.95 {
            Pressure::Critical
        } else if f >= 0.80 {
            Pressure::High
        } else if f >= 0.50 {
            Pressure::Elevated
        } else {
            Pressure::Normal
        }
    }
}

/// Fraction of `limit` used by `spend` (1.0 when the limit is zero).
pub fn fraction_used(spend: Spend, limit: Usd) -> f64 {
    if limit.nanos() <= 0 {
        return 1.0;
    }
    spend.total().nanos() as f64 / limit.nanos() as f64
}

/// Prices of the model a reservation is for, USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Prices {
    pub prompt: f64,
    pub completion: f64,
}

/// Safety margin on our prompt-token estimate (the provider's tokenizer may count more).
pub const PROMPT_MARGIN: f64 = 1.25;
/// Fewest output tokens worth sending a request for.
pub const MIN_OUTPUT_TOKENS: u64 = 16;

/// Worst-case cost of a request: margin-padded prompt plus every allowed output token.
pub fn worst_case(prices: Prices, prompt_tokens: u64, max_tokens: u64) -> Usd {
    let padded = (prompt_tokens as f64 * PROMPT_MARGIN).ceil() as u64 + 16;
    Usd::for_tokens(padded, prices.prompt)
        .saturating_add(Usd::for_tokens(max_tokens, prices.completion))
}

/// Why a request cannot be sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "today's budget is used up: {spent} of {limit} spent or held. Raise it with `codeforge budget --daily <USD>` (or /budget in the TUI)"
    )]
    Daily { spent: Usd, limit: Usd },
    #[error(
        "this month's budget is used up: {spent} of {limit} spent or held. Raise it with `codeforge budget --monthly <USD>`"
    )]
    Monthly { spent: Usd, limit: Usd },
    #[error(
        "this request could cost up to {needed} but only {left} is left today. Pick a cheaper model, shorten the prompt, or raise the limit with `codeforge budget --daily <USD>`"
    )]
    TooExpensive { needed: Usd, left: Usd },
}

/// The admitted reservation: how much to hold and the `max_tokens` to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub reserve: Usd,
    pub max_tokens: u64,
}

/// Decide a reservation: cap `max_tokens` so the worst case fits what is left of both
/// limits, or refuse. `today` and `month` must include every open reservation.
pub fn admit(
    limits: Limits,
    today: Spend,
    month: Spend,
    prices: Prices,
    prompt_tokens: u64,
    wanted_max_tokens: u64,
) -> Result<Admission, Refusal> {
    let left_day = limits.daily.saturating_sub(today.total());
    let left_month = limits.monthly.saturating_sub(month.total());
    if left_day.nanos() <= 0 {
        return Err(Refusal::Daily {
            spent: today.total(),
            limit: limits.daily,
        });
    }
    if left_month.nanos() <= 0 {
        return Err(Refusal::Monthly {
            spent: month.total(),
            limit: limits.monthly,
        });
    }
    let left = left_day.min(left_month);
    let prompt_cost = worst_case(prices, prompt_tokens, 0);
    let per_output = prices.completion / 1e6 * 1e9; // nano-dollars per output token
    let mut max_tokens = wanted_max_tokens;
    if worst_case(prices, prompt_tokens, max_tokens) > left {
        let room = left.saturating_sub(prompt_cost).nanos();
        max_tokens = if per_output <= 0.0 {
            wanted_max_tokens
        } else {
            (room.max(0) as f64 / per_output).floor() as u64
        }
        .min(wanted_max_tokens);
    }
    // Rounding may leave the worst case a nano-dollar over: step down until it fits.
    while max_tokens > 0 && worst_case(prices, prompt_tokens, max_tokens) > left {
        max_tokens -= 1;
    }
    if max_tokens < MIN_OUTPUT_TOKENS.min(wanted_max_tokens) || prompt_cost > left {
        return Err(Refusal::TooExpensive {
            needed: worst_case(
                prices,
                prompt_tokens,
                MIN_OUTPUT_TOKENS.min(wanted_max_tokens),
            ),
            left,
        });
    }
    Ok(Admission {
        reserve: worst_case(prices, prompt_tokens, max_tokens),
        max_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const CLAUDE: Prices = Prices {
        prompt: 3.0,
        completion: 15.0,
    };

    fn limits(daily: f64) -> Limits {
        Limits {
            daily: Usd::from_dollars(daily),
            monthly: Usd::from_dollars(100.0),
        }
    }

    #[test]
    fn thresholds() {
        assert_eq!(Pressure::from_fraction(0.3), Pressure::Normal);
        assert_eq!(Pressure::from_fraction(0.5), Pressure::Elevated);
        assert_eq!(Pressure::from_fraction(0.85), Pressure::High);
        assert_eq!(Pressure::from_fraction(0.95), Pressure::Critical);
        assert_eq!(Pressure::from_fraction(1.0), Pressure::Exhausted);
    }

    #[test]
    fn plenty_of_budget_keeps_max_tokens() {
        let a = admit(
            limits(3.33),
            Spend::default(),
            Spend::default(),
            CLAUDE,
            1000,
            8192,
        )
        .unwrap();
        assert_eq!(a.max_tokens, 8192);
        assert_eq!(a.reserve, worst_case(CLAUDE, 1000, 8192));
    }

    #[test]
    fn little_budget_caps_max_tokens_to_fit() {
        // $0.01 left: prompt ~ (1266 tokens * $3/M) = $0.0038, leaves ~413 output tokens.
        let today = Spend {
            committed: Usd::from_dollars(3.32),
            reserved: Usd::ZERO,
        };
        let a = admit(limits(3.33), today, today, CLAUDE, 1000, 8192).unwrap();
        assert!(
            a.max_tokens < 8192 && a.max_tokens > 300,
            "{}",
            a.max_tokens
        );
        assert!(today.total().saturating_add(a.reserve) <= limits(3.33).daily);
    }

    #[test]
    fn exhausted_budget_is_refused_with_a_way_out() {
        let today = Spend {
            committed: Usd::from_dollars(3.0),
            reserved: Usd::from_dollars(0.33),
        };
        let e = admit(limits(3.33), today, today, CLAUDE, 10, 100).unwrap_err();
        assert!(matches!(e, Refusal::Daily { .. }));
        assert!(e.to_string().contains("codeforge budget --daily"));
    }

    proptest! {
        #[test]
        fn an_admitted_worst_case_always_fits(
            committed in 0i64..4_000_000_000,
            reserved in 0i64..1_000_000_000,
            prompt in 0u64..300_000,
            wanted in 1u64..100_000,
            pp in 0.0f64..20.0,
            cp in 0.0f64..80.0,
        ) {
            let today = Spend { committed: Usd::from_nanos(committed), reserved: Usd::from_nanos(reserved) };
            let l = limits(3.33);
            let prices = Prices { prompt: pp, completion: cp };
            if let Ok(a) = admit(l, today, today, prices, prompt, wanted) {
                prop_assert!(today.total().saturating_add(a.reserve) <= l.daily);
                prop_assert!(a.max_tokens <= wanted);
                prop_assert_eq!(a.reserve, worst_case(prices, prompt, a.max_tokens));
            }
        }
    }
}
