//! `codeforge models [--refresh] [--json]`.

use serde_json::json;

use super::{CommandError, Output};
use crate::backend::Backend;
use crate::catalog::Catalog;
use crate::cli::ModelsArgs;
use crate::config::Config;

pub async fn run(
    config: &Config,
    args: &ModelsArgs,
    demo: bool,
    out: &mut Output,
) -> Result<(), CommandError> {
    let backend = Backend::connect(config, demo).await?;
    let mut catalog = backend.catalog.clone();
    if args.refresh {
        let cache = crate::core::prices::fetch(&backend.client).await?;
        // Compare against the un-cached catalog so the report shows real changes.
        let base = Catalog::load(&config.model_patches, None)?;
        let report = base.refresh_report(&cache);
        if !backend.demo {
            cache
                .save(&config.paths.models_cache_file())
                .map_err(|e| CommandError::Io(e.to_string()))?;
            // The ledger keeps the prices too, beside the spend they explain.
            crate::ledger::Ledger::open(&config.paths.ledger_file())?.save_prices(
                &crate::core::prices::ledger_rows(&cache),
                crate::calendar::now_ms(),
            )?;
        }
        catalog = base;
        catalog.apply_cache(&cache);
        if !args.json {
            out.line(&format!(
                "refreshed from {}/models: {} models listed{}",
                backend.client.base_url(),
                cache.models.len(),
                if backend.demo {
                    " (demo: cache not written)"
                } else {
                    ""
                }
            ));
            for c in &report.price_changes {
                out.line(&format!(
                    "  price change {}: ${}/${} → ${}/${} per M",
                    c.id, c.old.0, c.old.1, c.new.0, c.new.1
                ));
            }
            for (id, alt) in &report.unlisted {
                match alt {
                    Some(a) => out.line(&format!(
                        "  no longer listed: {id} (alternate {a} will be used)"
                    )),
                    None => out.line(&format!("  no longer listed: {id} (no listed alternate)")),
                }
            }
        }
    }
    if args.json {
        let models: Vec<_> = catalog
            .models()
            .iter()
            .map(|m| {
                json!({
                    "id": m.id, "name": m.name, "role": m.role,
                    "prompt_price_per_m": m.prompt_price,
                    "completion_price_per_m": m.completion_price,
                    "context_length": m.context_length, "max_output": m.max_output,
                    "latency_target_ms": m.latency_target_ms, "budget_share": m.budget_share,
                    "strengths": m.strengths, "alternates": m.alternates, "listed": m.listed,
                    "base_url": m.base_url,
                })
            })
            .collect();
        out.line(&json!({ "models": models }).to_string());
        return Ok(());
    }
    out.line(&format!(
        "{:<28} {:>9} {:>9} {:>9} {:>7} {:>6}  {}",
        "model", "in $/M", "out $/M", "context", "target", "share", "role"
    ));
    for m in catalog.models() {
        let flag = if m.listed { "" } else { "  [not listed]" };
        out.line(&format!(
            "{:<28} {:>9.2} {:>9.2} {:>9} {:>5}ms {:>5.0}%  {}{flag}",
            m.id,
            m.prompt_price,
            m.completion_price,
            m.context_length,
            m.latency_target_ms,
            m.budget_share * 100.0,
            m.role
        ));
    }
    Ok(())
}
