//! `codeforge route`: the routing decision for a prompt, with no network.

use serde_json::json;

use super::{CommandError, Output};
use crate::budget::{Limits, Spend, Standing};
use crate::calendar;
use crate::catalog::{Catalog, PriceCache};
use crate::cli::RouteArgs;
use crate::config::Config;
use crate::core::{learned_state, resolve_limits};
use crate::ledger::Ledger;
use crate::money::Usd;
use crate::router::{self, Breakers, BudgetView, RouteRequest, Signals, UserChoice};

pub fn run(config: &Config, args: &RouteArgs, out: &mut Output) -> Result<(), CommandError> {
    let composed = super::attach::compose(args.prompt.as_deref(), &args.files)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| std::path::PathBuf::from("."));
    let base = crate::instructions::system_prompt(
        crate::core::SYSTEM_PROMPT,
        config.system_prompt.as_deref(),
        &cwd,
    );
    let (prompt, system) = (composed.prompt.clone(), composed.system(&base.text));
    let cache = PriceCache::load(&config.paths.models_cache_file())?;
    let mut catalog = Catalog::load(&config.model_patches, cache.as_ref())?;
    // What was learned (ratings, performance) and the budget shares, as a session would
    // see them: `route` shows the decision `ask` would make.
    let mut signals = Signals::new();
    // The budget as it stands, when a ledger exists; routing never creates one.
    let ledger_file = config.paths.ledger_file();
    let mut model_spend: Vec<(String, Usd)> = Vec::new();
    let standing = if ledger_file.exists() {
        let l = Ledger::open(&ledger_file)?;
        let ids: Vec<String> = catalog.models().iter().map(|m| m.id.clone()).collect();
        let (shares, learned) = learned_state(&l, &ids)?;
        for (id, share) in shares {
            catalog.set_share(&id, share);
        }
        signals = learned;
        let tz =
            calendar::time_zone(config.budget.timezone.as_deref()).map_err(CommandError::Usage)?;
        let now = calendar::now_ms();
        let day = calendar::local_day(now, &tz);
        let limits = resolve_limits(&l, config.budget.daily_usd, config.budget.monthly_usd)?;
        model_spend = l
            .model_spend(&day.day)?
            .into_iter()
            .map(|m| (m.model, m.spend.total()))
            .collect();
        l.standing(limits, &day, now)?
    } else {
        Standing {
            limits: Limits {
                daily: Usd::from_dollars(config.budget.daily_usd),
                monthly: Usd::from_dollars(config.budget.monthly_usd),
            },
            today: Spend::default(),
            month: Spend::default(),
            key: None,
        }
    };
    let budget = BudgetView::of(&standing, crate::core::EMERGENCY_MODEL, &model_spend);
    let choice = match &args.model {
        Some(m) => UserChoice::Override(m),
        None => UserChoice::None,
    };
    let breakers = Breakers::new();
    let d = router::decide(
        &catalog,
        &RouteRequest {
            prompt: &prompt,
            // What `ask` sends besides the prompt (system prompt, message overhead).
            history_tokens: crate::core::tokens_besides_prompt(&system, &[]),
            trimmable_tokens: 0,
            previous_intent: None,
            choice,
            budget,
            preference: args.preference.unwrap_or(config.preference).min(10),
            explore: config.explore,
            signals: &signals,
            breakers: &breakers,
            now_ms: calendar::now_ms(),
        },
    )?;
    if args.json {
        let mut v = serde_json::to_value(&d).unwrap_or_else(|_| json!({}));
        v["context_tokens"] = json!(d.context_tokens);
        out.line(&v.to_string());
        return Ok(());
    }
    out.line(&d.reason);
    for c in &d.candidates {
        out.line(&format!(
            "  {:<28} {:>5.2}  {}",
            c.model,
            c.score,
            c.excluded.as_deref().unwrap_or("")
        ));
    }
    Ok(())
}
