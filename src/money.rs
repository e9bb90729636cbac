//! Exact money arithmetic: amounts in integer nano-dollars.
//!
//! Budget checks compare integers, so `spent + reserved <= limit` never drifts the way
//! sums of floats do. Must not import any other CodeForge module.

use serde::{Deserialize, Serialize};

/// An amount of US dollars, stored as nano-dollars (1e-9 USD).
/// Serialises as a dollar amount (a JSON number), never as raw nano-dollars.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(i64);

impl Serialize for Usd {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.dollars())
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        f64::deserialize(d).map(Usd::from_dollars)
    }
}

impl Usd {
    pub const ZERO: Usd = Usd(0);

    pub const fn from_nanos(nanos: i64) -> Self {
        Usd(nanos)
    }

    pub const fn nanos(self) -> i64 {
        self.0
    }

    /// From a float dollar amount as reported by a provider (rounded to the nano-dollar).
    /// Non-finite or negative inputs become zero.
    pub fn from_dollars(d: f64) -> Self {
        if !d.is_finite() || d <= 0.0 {
            return Usd(0);
        }
        let n = (d * 1e9).round();
        if n >= i64::MAX as f64 {
            Usd(i64::MAX)
        } else {
            Usd(n as i64)
        }
    }

    pub fn dollars(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// Cost of `tokens` at `per_million` USD per million tokens.
    pub fn for_tokens(tokens: u64, per_million: f64) -> Self {
        Usd::from_dollars(tokens as f64 * per_million / 1e6)
    }

    pub fn saturating_add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }

    pub fn saturating_sub(self, other: Usd) -> Usd {
        Usd(self.0.saturating_sub(other.0))
    }
}

impl Usd {
    /// Every digit down to the nano-dollar, trailing zeros trimmed (at least cents):
    /// for limits the user set, which must read back as typed (`$0.00125`, `$2.345`).
    pub fn exact(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let n = self.0.unsigned_abs();
        let (whole, frac) = (n / 1_000_000_000, n % 1_000_000_000);
        let digits = format!("{frac:09}");
        let trimmed = digits.trim_end_matches('0');
        let cents = if trimmed.len() < 2 {
            &digits[..2]
        } else {
            trimmed
        };
        format!("{sign}${whole}.{cents}")
    }
}

impl std::fmt::Display for Usd {
    /// `$0.0123` style: four decimals below a dollar, two above.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = self.dollars();
        if d.abs() >= 1.0 {
            write!(f, "${d:.2}")
        } else if d == 0.0 {
            f.write_str("$0")
        } else if d.abs() >= 0.0001 {
            write!(f, "${d:.4}")
        } else {
            write!(f, "${d:.6}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_reads_back_as_typed() {
        for (d, shown) in [
            (0.00125, "$0.00125"),
            (2.345, "$2.345"),
            (3.0, "$3.00"),
            (0.1, "$0.10"),
            (0.000000001, "$0.000000001"),
            (100.5, "$100.50"),
        ] {
            assert_eq!(Usd::from_dollars(d).exact(), shown);
        }
    }

    #[test]
    fn provider_costs_round_to_the_nano_dollar() {
        assert_eq!(Usd::from_dollars(0.00000495).nanos(), 4950);
        assert_eq!(Usd::from_dollars(0.00333825).nanos(), 3_338_250);
        assert_eq!(Usd::from_dollars(f64::NAN), Usd::ZERO);
        assert_eq!(Usd::from_dollars(-1.0), Usd::ZERO);
    }

    #[test]
    fn token_cost_matches_openrouter_arithmetic() {
        // Grok 4 fixture: 187 completion tokens at $15/M = 0.002805.
        assert_eq!(Usd::for_tokens(187, 15.0), Usd::from_dollars(0.002805));
        assert_eq!(Usd::for_tokens(802, 5.0).nanos(), 4_010_000);
    }

    #[test]
    fn display_is_readable() {
        assert_eq!(Usd::from_dollars(3.333).to_string(), "$3.33");
        assert_eq!(Usd::from_dollars(0.0123).to_string(), "$0.0123");
        assert_eq!(Usd::from_dollars(0.00000495).to_string(), "$0.000005");
        assert_eq!(Usd::ZERO.to_string(), "$0");
    }
}
