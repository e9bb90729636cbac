//! `codeforge stats`, `codeforge budget` and `codeforge feedback`: the ledger from the
//! command line (no network).

use serde_json::json;

use super::{CommandError, Output};
use crate::budget::{ModelUsage, Pressure, fraction_used, propose_shares};
use crate::calendar;
use crate::catalog::{Catalog, PriceCache};
use crate::cli::{BudgetArgs, FeedbackArgs, StatsArgs};
use crate::config::Config;
use crate::core::{DAILY_LIMIT_KEY, MONTHLY_LIMIT_KEY, resolve_limits, share_key};
use crate::ledger::Ledger;

fn open(config: &Config) -> Result<Ledger, CommandError> {
    Ok(Ledger::open(&config.paths.ledger_file())?)
}

fn tz(config: &Config) -> Result<jiff::tz::TimeZone, CommandError> {
    calendar::time_zone(config.budget.timezone.as_deref()).map_err(CommandError::Usage)
}

pub fn stats(config: &Config, args: &StatsArgs, out: &mut Output) -> Result<(), CommandError> {
    if args.days == 0 || args.days > 3660 {
        return Err(CommandError::Usage(
            "--days must be between 1 and 3660".into(),
        ));
    }
    let ledger = open(config)?;
    let tz = tz(config)?;
    let now = calendar::now_ms();
    let days = calendar::last_days(now, args.days, &tz);
    let today = calendar::local_day(now, &tz);
    let cache = PriceCache::load(&config.paths.models_cache_file())?;
    let catalog = Catalog::load(&config.model_patches, cache.as_ref())?;
    let baseline = catalog
        .find(&config.budget.baseline_model)
        .map(|m| (m.prompt_price, m.completion_price))
        .unwrap_or((3.0, 15.0));
    let report = ledger.stats(&days, baseline)?;
    let limits = resolve_limits(&ledger, config.budget.daily_usd, config.budget.monthly_usd)?;
    let spend = ledger.day_spend(&today.day)?;
    let v = StatsView {
        spend,
        month: ledger.month_spend(&today.month)?,
        key: ledger.key_standing(now)?,
        saved: report.baseline_cost.saturating_sub(report.spend),
        remaining: limits.daily.saturating_sub(spend.total()),
        report,
        limits,
        today,
        now,
        days: args.days,
        baseline_model: &config.budget.baseline_model,
    };
    if args.json {
        out.line(&stats_json(&v).to_string());
    } else {
        print_stats(&v, out);
    }
    Ok(())
}

/// What `stats` reports, read once.
struct StatsView<'a> {
    report: crate::ledger::StatsReport,
    limits: crate::budget::Limits,
    today: calendar::LocalDay,
    spend: crate::budget::Spend,
    month: crate::budget::Spend,
    key: Option<crate::budget::KeyStanding>,
    saved: crate::money::Usd,
    /// What is left of today's limit.
    remaining: crate::money::Usd,
    now: i64,
    days: usize,
    baseline_model: &'a str,
}

/// `stats --json`.
fn stats_json(v: &StatsView<'_>) -> serde_json::Value {
    let days_json: Vec<_> = v.report
        .days
        .iter()
        .map(|d| {
            json!({
                "date": d.date,
                "spend_usd": d.spend.committed.dollars(),
                "reserved_usd": d.spend.reserved.dollars(),
                "requests": d.requests,
                "by_model": d.by_model.iter().map(|(k, v)| (k.clone(), json!(v.dollars()))).collect::<serde_json::Map<_, _>>(),
            })
        })
        .collect();
    let v = json!({
        "days": days_json,
        "today": {
            "date": v.today.day,
            "spend_usd": v.spend.committed.dollars(),
            "reserved_usd": v.spend.reserved.dollars(),
            "limit_usd": v.limits.daily.dollars(),
            "remaining_usd": v.remaining.dollars(),
            "pressure": Pressure::from_fraction(fraction_used(v.spend, v.limits.daily)),
        },
        "month": {
            "spend_usd": v.month.committed.dollars(),
            "reserved_usd": v.month.reserved.dollars(),
            "limit_usd": v.limits.monthly.dollars(),
        },
        "key": v.key.map(|k| json!({
            "limit_usd": k.limit.dollars(),
            "left_usd": k.left.dollars(),
            "reset": k.reset.as_str(),
            "read_ms": k.fetched_ms,
        })),
        "models": v.report.models,
        "by_intent": v.report.by_intent,
        "requests": v.report.requests,
        "positive_feedback_rate": v.report.positive_feedback_rate,
        "savings": {
            "baseline_model": v.baseline_model,
            "baseline_cost_usd": v.report.baseline_cost.dollars(),
            "spend_usd": v.report.spend.dollars(),
            "saved_usd": v.saved.dollars(),
        },
    });
    v
}

/// `stats` as text: today, the key, the period, per model, per intent, per day.
fn print_stats(v: &StatsView<'_>, out: &mut Output) {
    out.line(&format!(
        "today {}: {} spent, {} held, {} left of {} · month {} of {}",
        v.today.day,
        v.spend.committed,
        v.spend.reserved,
        v.remaining,
        v.limits.daily,
        v.month.total(),
        v.limits.monthly
    ));
    if let Some(k) = v.key {
        out.line(&format!(
            "key: {} of {} left ({} limit of the OpenRouter key, shared by everyone using it; read {} s ago)",
            k.left,
            k.limit,
            k.reset.as_str(),
            ((v.now - k.fetched_ms) / 1000).max(0)
        ));
    }
    out.line(&format!(
        "last {} days: {} requests, {} spent · saved {} vs always-{}",
        v.days, v.report.requests, v.report.spend, v.saved, v.baseline_model
    ));
    if let Some(r) = v.report.positive_feedback_rate {
        out.line(&format!("positive feedback: {:.0}%", r * 100.0));
    }
    out.line("");
    out.line(&format!(
        "{:<28} {:>6} {:>8} {:>10} {:>11} {:>9} {:>9} {:>14}",
        "model", "reqs", "success", "spend", "1st tok p50", "p50 ms", "p95 ms", "est. error"
    ));
    for m in &v.report.models {
        let success = if m.finished > 0 {
            format!("{:.0}%", m.success_rate * 100.0)
        } else {
            "-".into()
        };
        // How far the router's cost estimate was from the bill, and which way.
        let est = match (m.estimate_error, m.billed_over_estimate) {
            (Some(e), Some(r)) => format!(
                "{:.0}% {}",
                e * 100.0,
                if r >= 1.0 { "low" } else { "high" }
            ),
            _ => "-".into(),
        };
        out.line(&format!(
            "{:<28} {:>6} {:>8} {:>10} {:>11} {:>9} {:>9} {:>14}",
            m.model,
            m.requests,
            success,
            m.spend.to_string(),
            m.ttft_p50_ms.map_or("-".into(), |v| v.to_string()),
            m.latency_p50_ms.map_or("-".into(), |v| v.to_string()),
            m.latency_p95_ms.map_or("-".into(), |v| v.to_string()),
            est,
        ));
    }
    if !v.report.by_intent.is_empty() {
        out.line("");
        for (intent, usd) in &v.report.by_intent {
            out.line(&format!("{intent:<10} {usd}"));
        }
    }
    out.line("");
    // Days with requests only; the quiet ones are counted, not listed.
    let quiet = v.report.days.iter().filter(|d| d.requests == 0).count();
    for d in v.report.days.iter().filter(|d| d.requests > 0) {
        out.line(&format!(
            "{}  {:>10}  {:>4} requests",
            d.date,
            d.spend.committed.to_string(),
            d.requests
        ));
    }
    if quiet > 0 {
        out.line(&format!(
            "({quiet} day{} without requests)",
            if quiet == 1 { "" } else { "s" }
        ));
    }
}

fn parse_usd(flag: &str, v: f64) -> Result<f64, CommandError> {
    if crate::budget::valid_limit(v) {
        Ok(v)
    } else {
        Err(CommandError::Usage(format!(
            "{flag} must be an amount in USD from 0 up to (not including) {}",
            crate::budget::MAX_LIMIT_USD
        )))
    }
}

fn optimize(config: &Config, args: &BudgetArgs, out: &mut Output) -> Result<(), CommandError> {
    let mut ledger = open(config)?;
    let tz = tz(config)?;
    let n_days = args.days.unwrap_or(14) as usize;
    let days = calendar::last_days(calendar::now_ms(), n_days, &tz);
    let cache = PriceCache::load(&config.paths.models_cache_file())?;
    let catalog = Catalog::load(&config.model_patches, cache.as_ref())?;
    let current: Vec<(String, f64)> = catalog
        .models()
        .iter()
        .map(|m| {
            let s = ledger
                .setting(&share_key(&m.id))
                .ok()
                .flatten()
                .and_then(|v| v.parse().ok())
                .unwrap_or(m.budget_share);
            (m.id.clone(), s)
        })
        .collect();
    let report = ledger.stats(&days, (3.0, 15.0))?;
    let usage: Vec<ModelUsage> = report
        .models
        .iter()
        .map(|m| ModelUsage {
            model: m.model.clone(),
            spend: m.spend,
            requests: m.requests,
            ok: m.ok,
            thumbs_up: m.feedback_up,
            thumbs_down: m.feedback_down,
        })
        .collect();
    let defaults: Vec<(String, f64)> = catalog
        .models()
        .iter()
        .map(|m| (m.id.clone(), m.budget_share))
        .collect();
    let proposal = propose_shares(&defaults, &current, &usage);
    // The table first, then (with --apply) the change: what is applied is what was shown.
    if args.json {
        out.line(&json!({ "days": n_days, "applied": args.apply, "shares": proposal }).to_string());
    } else {
        out.line(&format!("budget shares from the last {n_days} days:"));
        out.line(&format!("{:<28} {:>6} {:>6}  why", "model", "old", "new"));
        for p in &proposal {
            out.line(&format!(
                "{:<28} {:>5.0}% {:>5.0}%  {}",
                p.model,
                p.old * 100.0,
                p.new * 100.0,
                p.why
            ));
        }
    }
    if args.apply {
        for p in &proposal {
            ledger.set_setting(&share_key(&p.model), &p.new.to_string())?;
        }
    }
    if !args.json {
        out.line(if args.apply {
            "applied: the router and the sidebar use the new shares from now on"
        } else {
            "not applied: run again with --apply to use these shares"
        });
    }
    Ok(())
}

pub fn budget(config: &Config, args: &BudgetArgs, out: &mut Output) -> Result<(), CommandError> {
    if args.optimize {
        return optimize(config, args, out);
    }
    let mut ledger = open(config)?;
    if let Some(d) = args.daily {
        let d = parse_usd("--daily", d)?;
        ledger.set_setting(DAILY_LIMIT_KEY, &d.to_string())?;
    }
    if let Some(m) = args.monthly {
        let m = parse_usd("--monthly", m)?;
        ledger.set_setting(MONTHLY_LIMIT_KEY, &m.to_string())?;
    }
    let tz = tz(config)?;
    let today = calendar::local_day(calendar::now_ms(), &tz);
    let limits = resolve_limits(&ledger, config.budget.daily_usd, config.budget.monthly_usd)?;
    let spend = ledger.day_spend(&today.day)?;
    let month = ledger.month_spend(&today.month)?;
    let frac = fraction_used(spend, limits.daily);
    if args.json {
        out.line(
            &json!({
                "daily_limit_usd": limits.daily.dollars(),
                "monthly_limit_usd": limits.monthly.dollars(),
                "today_spend_usd": spend.committed.dollars(),
                "today_reserved_usd": spend.reserved.dollars(),
                "month_spend_usd": month.total().dollars(),
                "pressure": Pressure::from_fraction(frac),
            })
            .to_string(),
        );
        return Ok(());
    }
    out.line(&format!(
        "daily limit   {}  ({} used today, {:.0}%)",
        limits.daily.exact(),
        spend.total(),
        frac * 100.0
    ));
    out.line(&format!(
        "monthly limit {}  ({} used this month)",
        limits.monthly.exact(),
        month.total()
    ));
    if limits.monthly < limits.daily {
        out.err_line(&format!(
            "note: the monthly limit ({}) is below the daily one ({}): the monthly limit stops requests first",
            limits.monthly.exact(),
            limits.daily.exact()
        ));
    }
    Ok(())
}

pub fn feedback(
    config: &Config,
    args: &FeedbackArgs,
    out: &mut Output,
) -> Result<(), CommandError> {
    let mut ledger = open(config)?;
    let id = match args.request_id.parse::<i64>() {
        Ok(id) => id,
        Err(_) => ledger
            .request_by_generation(&args.request_id)?
            .ok_or_else(|| {
                CommandError::Usage(format!("no request `{}` in the ledger", args.request_id))
            })?,
    };
    let up = match args.rating.as_str() {
        "up" | "+" | "+1" => true,
        "down" | "-" | "-1" => false,
        other => {
            return Err(CommandError::Usage(format!(
                "rating `{other}`: use up or down"
            )));
        }
    };
    ledger
        .set_feedback(id, up, calendar::now_ms())
        .map_err(|e| match e {
            // A wrong id is the user's to fix, like a wrong generation id (exit 2).
            crate::ledger::LedgerError::UnknownRequest(_) => {
                CommandError::Usage(format!("no request `{}` in the ledger", args.request_id))
            }
            other => other.into(),
        })?;
    out.line(&format!(
        "recorded {} for request {id}",
        if up { "👍" } else { "👎" }
    ));
    Ok(())
}
