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

/// The largest limit accepted (ten million dollars): beyond it nano-dollar sums could
/// overflow, and no real budget is that large.
pub const MAX_LIMIT_USD: f64 = 10_000_000.0;

/// Whether `usd` can be a daily or monthly limit: a finite amount from 0 up to (not
/// including) [`MAX_LIMIT_USD`].
pub fn valid_limit(usd: f64) -> bool {
    usd.is_finite() && (0.0..MAX_LIMIT_USD).contains(&usd)
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
        "the OpenRouter key's {} limit of {limit} is used up (by every machine sharing the key, requests in flight included). It starts again at its reset (midnight UTC); the key's owner can raise it in the OpenRouter settings",
        reset.as_str()
    )]
    Key { limit: Usd, reset: KeyReset },
    #[error(
        "this request could cost up to {needed} but only {left} is left of the OpenRouter key's {} limit of {limit} (shared by everyone using the key; requests in flight count until they end). Wait for them, pick a cheaper model or a shorter prompt, or ask the key's owner to raise its limit",
        reset.as_str()
    )]
    KeyTooSmall {
        needed: Usd,
        left: Usd,
        limit: Usd,
        reset: KeyReset,
        /// Held by this machine's requests in progress.
        held: Usd,
    },
    #[error("{}", too_expensive(*needed, *left, *held))]
    TooExpensive {
        needed: Usd,
        left: Usd,
        /// Held by requests still in progress (released, less their cost, when they end).
        held: Usd,
    },
}

impl Refusal {
    /// A request that needs `needed` where only `left` is left (`held` by requests in
    /// progress): naming the key's limit when that is the one that binds, not "today's".
    pub fn too_expensive(needed: Usd, left: Usd, held: Usd, key: Option<KeyStanding>) -> Self {
        match key.filter(|k| k.left <= left) {
            Some(k) => Refusal::KeyTooSmall {
                needed,
                left,
                limit: k.limit,
                reset: k.reset,
                held,
            },
            None => Refusal::TooExpensive { needed, left, held },
        }
    }

    /// What requests in progress hold (and give back, less their cost, when they end):
    /// a refusal with something held may pass once they have.
    pub fn held(&self) -> Usd {
        match self {
            Refusal::TooExpensive { held, .. } | Refusal::KeyTooSmall { held, .. } => *held,
            _ => Usd::ZERO,
        }
    }
}

fn too_expensive(needed: Usd, left: Usd, held: Usd) -> String {
    let held = if held > Usd::ZERO {
        format!(
            " ({held} more is held by requests in progress and comes back, less what they cost, when they end)"
        )
    } else {
        String::new()
    };
    format!(
        "this request could cost up to {needed} but only {left} is left today{held}. Pick a cheaper model, shorten the prompt, or raise the limit with `codeforge budget --daily <USD>` (or /budget in the TUI)"
    )
}

/// The admitted reservation: how much to hold and the `max_tokens` to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub reserve: Usd,
    pub max_tokens: u64,
}

/// Share of what is left that one request may hold when the budget is tight (or its fair
/// part, if that is more). An eighth: with the default $3.33 day that is ~27,000 output tokens
/// of claude-sonnet-4, and ten requests running together on a small day still all get one.
pub const FAIR_SHARE: f64 = 0.125;

/// When a key's spending limit starts again (OpenRouter resets at midnight UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyReset {
    Daily,
    Weekly,
    Monthly,
    /// A total limit that never resets.
    Never,
}

impl KeyReset {
    /// From `GET /key`'s `limit_reset` ("daily", "weekly", "monthly" or null).
    pub fn parse(s: Option<&str>) -> Self {
        match s.map(str::to_ascii_lowercase).as_deref() {
            Some("daily") => KeyReset::Daily,
            Some("weekly") => KeyReset::Weekly,
            Some("monthly") => KeyReset::Monthly,
            _ => KeyReset::Never,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            KeyReset::Daily => "daily",
            KeyReset::Weekly => "weekly",
            KeyReset::Monthly => "monthly",
            KeyReset::Never => "total",
        }
    }
}

/// What the OpenRouter key's own limit leaves (shared by every machine using the key):
/// the server's `limit_remaining`, less what this ledger spent since it was read and what
/// its requests hold in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeyStanding {
    pub limit: Usd,
    pub left: Usd,
    pub reset: KeyReset,
    /// When the server's figure was read (ms since the epoch).
    pub fetched_ms: i64,
}

/// Everything a reservation is admitted against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    pub limits: Limits,
    /// Today's spend, open reservations included.
    pub today: Spend,
    /// This month's spend, open reservations included.
    pub month: Spend,
    /// The key's limit, when it has one.
    pub key: Option<KeyStanding>,
}

impl Standing {
    /// What may still be spent: the least of today's, this month's and the key's.
    pub fn left(&self) -> Usd {
        let local = self
            .limits
            .daily
            .saturating_sub(self.today.total())
            .min(self.limits.monthly.saturating_sub(self.month.total()));
        match self.key {
            Some(k) => local.min(k.left),
            None => local,
        }
    }

    /// Why nothing at all can be sent, if so.
    pub fn exhausted(&self) -> Option<Refusal> {
        if self.today.total() >= self.limits.daily {
            return Some(Refusal::Daily {
                spent: self.today.total(),
                limit: self.limits.daily,
            });
        }
        if self.month.total() >= self.limits.monthly {
            return Some(Refusal::Monthly {
                spent: self.month.total(),
                limit: self.limits.monthly,
            });
        }
        match self.key {
            Some(k) if k.left.nanos() <= 0 => Some(Refusal::Key {
                limit: k.limit,
                reset: k.reset,
            }),
            _ => None,
        }
    }
}

/// What a request asks to hold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Want {
    pub prices: Prices,
    pub prompt_tokens: u64,
    pub max_tokens: u64,
    /// The fair part's `max_tokens` (see [`admit`]); `None` holds up to everything left.
    pub fair_max_tokens: Option<u64>,
}

/// Decide a reservation: cap `max_tokens` so the worst case fits what is left of both
/// limits and of the key's, or refuse. `standing` must include every open reservation.
///
/// When the budget is tight (the wanted worst case is more than [`FAIR_SHARE`] of what is
/// left), a request holds [`FAIR_SHARE`] of what is left, or its fair part
/// (`fair_max_tokens`: the caller's expected answer with a margin) when that is more, instead
/// of everything that is left: requests running together each get a part, rather than the
/// first taking it all and the rest being refused, and a long answer still gets as much room
/// as that share of the day allows. The cap falls smoothly as the day is spent.
pub fn admit(standing: &Standing, want: Want) -> Result<Admission, Refusal> {
    if let Some(refusal) = standing.exhausted() {
        return Err(refusal);
    }
    let Want {
        prices,
        prompt_tokens,
        max_tokens: wanted_max_tokens,
        fair_max_tokens,
    } = want;
    let today = standing.today;
    let left = standing.left();
    let prompt_cost = worst_case(prices, prompt_tokens, 0);
    let per_output = prices.completion / 1e6 * 1e9; // nano-dollars per output token
    let mut max_tokens = wanted_max_tokens;
    if let Some(fair) = fair_max_tokens {
        let tight = worst_case(prices, prompt_tokens, wanted_max_tokens).nanos() as f64
            > left.nanos() as f64 * FAIR_SHARE;
        if tight {
            let share = left.nanos() as f64 * FAIR_SHARE - prompt_cost.nanos() as f64;
            let in_share = if per_output > 0.0 {
                (share.max(0.0) / per_output).floor() as u64
            } else {
                max_tokens
            };
            max_tokens = max_tokens.min(fair.max(in_share).max(MIN_OUTPUT_TOKENS));
        }
    }
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
        let needed = worst_case(
            prices,
            prompt_tokens,
            MIN_OUTPUT_TOKENS.min(wanted_max_tokens),
        );
        return Err(Refusal::too_expensive(
            needed,
            left,
            today.reserved,
            standing.key,
        ));
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

    fn standing(limits: Limits, today: Spend, month: Spend) -> Standing {
        Standing {
            limits,
            today,
            month,
            key: None,
        }
    }

    fn want(prices: Prices, prompt_tokens: u64, max_tokens: u64, fair: Option<u64>) -> Want {
        Want {
            prices,
            prompt_tokens,
            max_tokens,
            fair_max_tokens: fair,
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
    fn a_refusal_says_how_much_is_held_by_requests_in_progress() {
        // Almost everything left is held by another request: the refusal says so.
        let today = Spend {
            committed: Usd::from_dollars(0.5),
            reserved: Usd::from_dollars(0.4999),
        };
        let e = admit(
            &standing(limits(1.0), today, today),
            want(CLAUDE, 1000, 8192, None),
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("$0.4999 more is held by requests in progress"),
            "{text}"
        );
        // Nothing held: no such clause.
        let today = Spend {
            committed: Usd::from_dollars(0.9999),
            reserved: Usd::ZERO,
        };
        let text = admit(
            &standing(limits(1.0), today, today),
            want(CLAUDE, 1000, 8192, None),
        )
        .unwrap_err()
        .to_string();
        assert!(!text.contains("held"), "{text}");
    }

    #[test]
    fn plenty_of_budget_keeps_max_tokens() {
        let a = admit(
            &standing(limits(3.33), Spend::default(), Spend::default()),
            want(CLAUDE, 1000, 8192, Some(600)),
        )
        .unwrap();
        // Plenty left: the fair part does not apply.
        assert_eq!(a.max_tokens, 8192);
        assert_eq!(a.reserve, worst_case(CLAUDE, 1000, 8192));
    }

    #[test]
    fn a_tight_budget_holds_an_eighth_of_what_is_left_or_the_fair_part() {
        let spent = |dollars: f64| {
            let today = Spend {
                committed: Usd::from_dollars(dollars),
                reserved: Usd::ZERO,
            };
            standing(limits(3.33), today, today)
        };
        // The whole $3.33 left: 64,000 tokens ($0.96) is more than an eighth ($0.42), so the
        // request holds an eighth, ~27,500 tokens, far more than its fair part of 600.
        let a = admit(&spent(0.0), want(CLAUDE, 1000, 64_000, Some(600))).unwrap();
        assert!(
            a.max_tokens > 27_000 && a.max_tokens < 28_000,
            "{}",
            a.max_tokens
        );
        assert!(a.reserve.nanos() as f64 <= Usd::from_dollars(3.33).nanos() as f64 * FAIR_SHARE);
        // $0.33 left: an eighth is ~2,500 tokens.
        let b = admit(&spent(3.0), want(CLAUDE, 1000, 64_000, Some(600))).unwrap();
        assert!(
            b.max_tokens > 2_300 && b.max_tokens < 2_600,
            "{}",
            b.max_tokens
        );
        // $0.03 left: an eighth is less than the fair part, which it keeps.
        let c = admit(&spent(3.30), want(CLAUDE, 1000, 64_000, Some(600))).unwrap();
        assert_eq!(c.max_tokens, 600);
        // Less left, never more held: the cap falls smoothly as the day is spent.
        let mut last = u64::MAX;
        for cents in (0..=330).step_by(10) {
            let m = admit(
                &spent(cents as f64 / 100.0),
                want(CLAUDE, 1000, 64_000, Some(600)),
            )
            .map_or(0, |a| a.max_tokens);
            assert!(m <= last, "{cents} cents spent: {m} after {last}");
            last = m;
        }
    }

    #[test]
    fn little_budget_caps_max_tokens_to_fit() {
        // $0.01 left: prompt ~ (1266 tokens * $3/M) = $0.0038, leaves ~413 output tokens.
        let today = Spend {
            committed: Usd::from_dollars(3.32),
            reserved: Usd::ZERO,
        };
        let a = admit(
            &standing(limits(3.33), today, today),
            want(CLAUDE, 1000, 8192, None),
        )
        .unwrap();
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
        let e = admit(
            &standing(limits(3.33), today, today),
            want(CLAUDE, 10, 100, None),
        )
        .unwrap_err();
        assert!(matches!(e, Refusal::Daily { .. }));
        assert!(e.to_string().contains("codeforge budget --daily"));
    }

    fn key(left: f64) -> Option<KeyStanding> {
        Some(KeyStanding {
            limit: Usd::from_dollars(0.05),
            left: Usd::from_dollars(left),
            reset: KeyReset::Daily,
            fetched_ms: 0,
        })
    }

    #[test]
    fn the_keys_limit_caps_a_reservation_and_refuses_when_spent() {
        // Plenty left locally, $0.01 left on the shared key: the worst case fits the key.
        let mut s = standing(limits(10.0), Spend::default(), Spend::default());
        s.key = key(0.01);
        let a = admit(&s, want(CLAUDE, 1000, 8192, None)).unwrap();
        assert!(a.reserve <= Usd::from_dollars(0.01), "{}", a.reserve);
        assert!(
            a.max_tokens < 8192 && a.max_tokens > 100,
            "{}",
            a.max_tokens
        );
        // Nothing left on the key: a refusal that names the key, not today's budget.
        s.key = key(0.0);
        let e = admit(&s, want(CLAUDE, 10, 100, None)).unwrap_err();
        assert!(matches!(e, Refusal::Key { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("OpenRouter key's daily limit of $0.0500"),
            "{text}"
        );
        // A key without a limit (None) leaves the local budget in charge.
        s.key = None;
        assert_eq!(
            admit(&s, want(CLAUDE, 1000, 8192, None))
                .unwrap()
                .max_tokens,
            8192
        );
    }

    proptest! {
        #[test]
        fn a_worst_case_admitted_under_a_key_fits_the_key(
            key_left in 0i64..50_000_000,
            prompt in 0u64..100_000,
            wanted in 1u64..100_000,
            cp in 0.0f64..80.0,
        ) {
            let mut s = standing(limits(10.0), Spend::default(), Spend::default());
            s.key = Some(KeyStanding { limit: Usd::from_dollars(0.05), left: Usd::from_nanos(key_left), reset: KeyReset::Daily, fetched_ms: 0 });
            let prices = Prices { prompt: 1.0, completion: cp };
            if let Ok(a) = admit(&s, want(prices, prompt, wanted, None)) {
                prop_assert!(a.reserve <= Usd::from_nanos(key_left));
            }
        }

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
            if let Ok(a) = admit(&standing(l, today, today), want(prices, prompt, wanted, Some(prompt))) {
                prop_assert!(today.total().saturating_add(a.reserve) <= l.daily);
                prop_assert!(a.max_tokens <= wanted);
                prop_assert_eq!(a.reserve, worst_case(prices, prompt, a.max_tokens));
            }
        }
    }
}

/// One model's recent record, for share tuning.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelUsage {
    pub model: String,
    pub spend: Usd,
    pub requests: i64,
    pub ok: i64,
    pub thumbs_up: i64,
    pub thumbs_down: i64,
}

/// A proposed budget share and the reason for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShareProposal {
    pub model: String,
    pub old: f64,
    pub new: f64,
    pub why: String,
}

/// Smallest share any model keeps, so the router can still learn about it.
pub const MIN_SHARE: f64 = 0.02;

/// Propose per-model budget shares from what the ledger measured: each model's quality
/// (successes and 👍 against failures and 👎, Laplace-smoothed) per dollar it cost per
/// answer, relative to the other measured models, moves its *default* share (the catalog's,
/// `defaults`) up or down by at most half. The proposal depends on the defaults and the
/// ledger only, never on shares applied before, so `--apply` twice proposes the same again
/// (no ratchet); spend does not enter it except as cost per answer, so overspending never
/// raises a share; a model with no requests keeps its default (nothing was measured, no
/// quality is assumed). Shares are then normalised; each keeps at least [`MIN_SHARE`].
/// `current` gives the "old" column (the shares in force).
pub fn propose_shares(
    defaults: &[(String, f64)],
    current: &[(String, f64)],
    usage: &[ModelUsage],
) -> Vec<ShareProposal> {
    // Quality and quality per dollar of each measured model.
    let measured: Vec<(String, f64, f64)> = usage
        .iter()
        .filter(|u| u.requests > 0)
        .map(|u| {
            let good = (u.ok + u.thumbs_up) as f64 + 1.0;
            let all = (u.requests + u.thumbs_up + u.thumbs_down) as f64 + 2.0;
            let quality = good / all;
            let per_answer = u.spend.dollars() / u.requests as f64;
            (u.model.clone(), quality, quality / per_answer.max(1e-9))
        })
        .collect();
    // Geometric mean of quality per dollar: models a hundred times cheaper do not swamp it.
    let log_mean = measured.iter().map(|m| m.2.ln()).sum::<f64>() / measured.len().max(1) as f64;
    let rows: Vec<(String, f64, f64, String)> = defaults
        .iter()
        .map(|(model, default)| {
            let old = current
                .iter()
                .find(|(m, _)| m == model)
                .map_or(*default, |(_, s)| *s);
            let u = usage.iter().find(|u| &u.model == model);
            match (u, measured.iter().find(|m| &m.0 == model)) {
                (Some(u), Some((_, quality, value))) => {
                    // Within ×0.5 … ×1.5 of the default, by quality per dollar (log scale).
                    let factor = (1.0 + 0.25 * (value.ln() - log_mean)).clamp(0.5, 1.5);
                    let why = format!(
                        "quality {:.2} at ${:.4} an answer ({}/{} ok, {}👍 {}👎): ×{factor:.2} of the default {:.0}%",
                        quality,
                        u.spend.dollars() / u.requests as f64,
                        u.ok,
                        u.requests,
                        u.thumbs_up,
                        u.thumbs_down,
                        default * 100.0
                    );
                    (model.clone(), old, default * factor, why)
                }
                _ => (
                    model.clone(),
                    old,
                    *default,
                    format!(
                        "no requests in the period: the default {:.0}% is kept",
                        default * 100.0
                    ),
                ),
            }
        })
        .collect();
    let sum: f64 = rows.iter().map(|r| r.2).sum::<f64>().max(1e-12);
    let mut shares: Vec<f64> = rows.iter().map(|r| (r.2 / sum).max(MIN_SHARE)).collect();
    let norm: f64 = shares.iter().sum();
    for s in &mut shares {
        *s /= norm;
    }
    rows.into_iter()
        .zip(shares)
        .map(|((model, old, _, why), new)| ShareProposal {
            model,
            old,
            new: (new * 1000.0).round() / 1000.0,
            why,
        })
        .collect()
}

#[cfg(test)]
mod share_tests {
    use super::*;

    fn usage(model: &str, spend: f64, requests: i64, ok: i64, up: i64, down: i64) -> ModelUsage {
        ModelUsage {
            model: model.into(),
            spend: Usd::from_dollars(spend),
            requests,
            ok,
            thumbs_up: up,
            thumbs_down: down,
        }
    }

    fn defaults() -> Vec<(String, f64)> {
        vec![
            ("a".to_string(), 0.4),
            ("b".to_string(), 0.3),
            ("c".to_string(), 0.3),
        ]
    }

    #[test]
    fn shares_follow_quality_per_dollar_and_sum_to_one() {
        let used = vec![
            // a: expensive and badly rated; b: cheap and well rated.
            usage("a", 0.5, 10, 5, 0, 4),
            usage("b", 0.05, 30, 30, 6, 0),
        ];
        let p = propose_shares(&defaults(), &defaults(), &used);
        let sum: f64 = p.iter().map(|s| s.new).sum();
        assert!((sum - 1.0).abs() < 0.01, "{sum}");
        assert!(p[1].new > p[1].old, "good value gains: {p:?}");
        assert!(p[0].new < p[0].old, "poor value loses: {p:?}");
        // Nothing measured: the default is kept (before normalising), no quality assumed.
        assert!(p[2].why.contains("no requests"), "{}", p[2].why);
        assert!(p.iter().all(|s| s.new >= MIN_SHARE - 0.001));
    }

    #[test]
    fn applying_twice_proposes_the_same_and_overspending_raises_nothing() {
        let used = vec![usage("a", 0.2, 10, 10, 0, 0), usage("b", 0.2, 10, 10, 0, 0)];
        let first = propose_shares(&defaults(), &defaults(), &used);
        let applied: Vec<(String, f64)> = first.iter().map(|p| (p.model.clone(), p.new)).collect();
        let second = propose_shares(&defaults(), &applied, &used);
        let new = |v: &[ShareProposal]| v.iter().map(|p| p.new).collect::<Vec<_>>();
        assert_eq!(new(&first), new(&second), "no ratchet");
        // Spending three times more for the same answers and quality: a worse value.
        let over = vec![usage("a", 0.6, 10, 10, 0, 0), usage("b", 0.2, 10, 10, 0, 0)];
        let p = propose_shares(&defaults(), &defaults(), &over);
        assert!(p[0].new <= first[0].new, "{p:?} vs {first:?}");
    }
}
