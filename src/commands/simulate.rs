//! `codeforge simulate`: the OpenRouter-compatible simulator, standalone.

use std::net::SocketAddr;
use std::time::Duration;

use super::{CommandError, Output};
use crate::catalog::Catalog;
use crate::cli::SimulateArgs;
use crate::config::Config;
use crate::simulator::{Behaviour, Simulator, parse_fault};

pub async fn run(args: &SimulateArgs, out: &mut Output) -> Result<(), CommandError> {
    let config = Config::load()?;
    let catalog = Catalog::load(&config.model_patches, None)?;
    let mut faults = Vec::new();
    for spec in &args.faults {
        let (model, kind) = spec
            .split_once('=')
            .ok_or_else(|| CommandError::Usage(format!("--fault `{spec}`: expected MODEL=KIND")))?;
        let id = catalog.find(model).map(|m| m.id.clone()).ok_or_else(|| {
            CommandError::Usage(format!("--fault `{spec}`: unknown model `{model}`"))
        })?;
        let plan =
            parse_fault(kind).map_err(|e| CommandError::Usage(format!("--fault `{spec}`: {e}")))?;
        faults.push((id, plan));
    }
    if !(args.tps.is_finite() && args.tps >= 0.0) {
        return Err(CommandError::Usage("--tps must be a number >= 0".into()));
    }
    if !(args.price_scale.is_finite() && args.price_scale > 0.0) {
        return Err(CommandError::Usage(
            "--price-scale must be a number > 0".into(),
        ));
    }
    if args.key_limit.is_some_and(|l| !(l.is_finite() && l >= 0.0)) {
        return Err(CommandError::Usage(
            "--key-limit must be an amount in USD >= 0".into(),
        ));
    }
    let behaviour = Behaviour {
        ttft: Duration::from_millis(args.ttft_ms),
        tokens_per_sec: args.tps,
        max_answer_tokens: None,
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let sim = Simulator::bind(addr, catalog, behaviour)
        .await
        .map_err(|e| CommandError::Io(format!("cannot listen on {addr}: {e}")))?;
    for (id, plan) in faults {
        sim.set_fault(&id, plan);
    }
    for id in &args.unlisted {
        sim.unlist(id);
    }
    sim.set_key_limit(args.key_limit);
    sim.set_price_scale(args.price_scale);
    sim.set_honour_max_price(!args.ignore_max_price);
    // A server left running for benchmarks: nobody reads its request log.
    sim.keep_no_requests();
    if let Some(k) = &args.management_key {
        sim.set_management_key(k);
    }
    out.line(&format!("simulator listening on {}", sim.url()));
    out.line(&format!(
        "use it with: OPENROUTER_BASE_URL={} OPENROUTER_API_KEY=any codeforge ask \"...\"",
        sim.url()
    ));
    out.flush();
    tokio::select! {
        _ = sim.wait() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
