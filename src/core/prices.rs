//! Prices that cannot go stale: the catalog is read again from `GET /models` in the
//! background when the cached listing is over a day old, and at once when a bill disagrees
//! with the listed prices by more than a few percent; the session takes the new prices in
//! at its next turn (cache file, ledger, in-memory catalog).
//!
//! Must not import `tui`, `ratatui`, `crossterm` or `syntect`.

use crate::catalog::{CachedPrice, Catalog, PriceCache, RefreshReport};
use crate::provider::{OpenRouterClient, ProviderError};

/// A listing older than this is read again (seconds).
pub const PRICES_MAX_AGE_S: u64 = 24 * 3600;

/// A bill this far from what the listed prices say (either way) means they changed.
pub const PRICE_DISAGREEMENT: f64 = 0.03;

/// Unix seconds now.
pub fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Read `GET /models` into a price cache.
pub async fn fetch(client: &OpenRouterClient) -> Result<PriceCache, ProviderError> {
    let listed = client.list_models().await?;
    let mut cache = PriceCache {
        fetched_at: now_s(),
        models: Default::default(),
    };
    for m in &listed {
        if let Some((prompt_price, completion_price)) = m.prices_per_million() {
            cache.models.insert(
                m.id.clone(),
                CachedPrice {
                    prompt_price,
                    completion_price,
                    context_length: m.context_length,
                    max_output: m
                        .top_provider
                        .as_ref()
                        .and_then(|t| t.max_completion_tokens),
                },
            );
        }
    }
    Ok(cache)
}

/// The listing's prices as the ledger keeps them, beside the spend they explain.
pub fn ledger_rows(cache: &PriceCache) -> Vec<(String, f64, f64, Option<u64>)> {
    cache
        .models
        .iter()
        .map(|(id, p)| {
            (
                id.clone(),
                p.prompt_price,
                p.completion_price,
                p.context_length,
            )
        })
        .collect()
}

/// Whether a bill of `billed` USD disagrees with what `listed` USD (the catalog's prices
/// for the same tokens) says.
pub fn disagrees(billed: f64, listed: f64) -> bool {
    listed > 0.0 && billed.is_finite() && ((billed / listed) - 1.0).abs() > PRICE_DISAGREEMENT
}

/// One line for the user about what a refresh changed, if anything did.
pub fn describe(report: &RefreshReport) -> Option<String> {
    if report.price_changes.is_empty() && report.unlisted.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = report
        .price_changes
        .iter()
        .map(|c| {
            format!(
                "{} ${}/${} → ${}/${} per M",
                c.id, c.old.0, c.old.1, c.new.0, c.new.1
            )
        })
        .collect();
    parts.extend(
        report
            .unlisted
            .iter()
            .map(|(id, _)| format!("{id} no longer listed")),
    );
    Some(format!(
        "prices read again from /models: {}",
        parts.join("; ")
    ))
}

/// Apply a fresh listing to `catalog`, keeping its budget shares; what changed.
pub fn apply(catalog: &mut Catalog, cache: &PriceCache) -> RefreshReport {
    let report = catalog.refresh_report(cache);
    catalog.apply_cache(cache);
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bill_a_few_percent_off_the_listed_prices_disagrees() {
        assert!(!disagrees(1.02, 1.0));
        assert!(!disagrees(0.98, 1.0));
        assert!(disagrees(1.05, 1.0));
        assert!(disagrees(0.9, 1.0));
        // Nothing to compare with, or no number: no disagreement.
        assert!(!disagrees(1.0, 0.0));
        assert!(!disagrees(f64::NAN, 1.0));
    }
}
