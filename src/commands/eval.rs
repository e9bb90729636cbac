//! `codeforge eval`: intent accuracy, training the shipped intent model, routing replay.

use std::path::{Path, PathBuf};

use super::{CommandError, Output};
use crate::cli::{EvalAction, EvalArgs};
use crate::eval::{self, data, replay};

fn usage(e: String) -> CommandError {
    CommandError::Usage(e)
}

pub fn run(args: &EvalArgs, out: &mut Output) -> Result<(), CommandError> {
    match &args.action {
        EvalAction::Intents {
            data,
            file,
            realistic,
            all,
            errors,
            json,
        } => intents(
            data.as_deref(),
            file,
            realistic,
            *all,
            errors.as_deref(),
            *json,
            out,
        ),
        EvalAction::Train {
            data,
            out: path,
            realistic,
        } => train(eval_data(data.as_deref())?, path, realistic, out),
        EvalAction::Routing {
            files,
            split,
            realistic,
            preference,
            sweep,
            errors,
            json,
        } => routing(
            files,
            split,
            realistic,
            RoutingOutput {
                preference: *preference,
                sweep: *sweep,
                errors: *errors,
                json: *json,
            },
            out,
        ),
        EvalAction::Replay {
            file,
            routerbench,
            reference,
            catalog,
            json,
        } => replay_cmd(
            file.as_deref(),
            routerbench.as_deref(),
            reference,
            catalog.as_deref(),
            *json,
            out,
        ),
    }
}

/// Where the shared evaluation data is: `--data` or `CODEFORGE_EVAL_DATA` (no path is
/// built into the binary: the data is a developer's checkout, not part of an install).
fn eval_data(dir: Option<&Path>) -> Result<&Path, CommandError> {
    dir.ok_or_else(|| {
        usage(
            "the shared evaluation data is not given: --data DIR or CODEFORGE_EVAL_DATA=DIR \
             (in a checkout: ../shared/eval-data), or --file F.jsonl for your own prompts"
                .into(),
        )
    })
}

/// `eval intents`: accuracy per source on the frozen test split (or all).
fn intents(
    dir: Option<&Path>,
    file: &[PathBuf],
    realistic: &Path,
    all: bool,
    errors: Option<&str>,
    json: bool,
    out: &mut Output,
) -> Result<(), CommandError> {
    let items = if file.is_empty() {
        eval::load_all(eval_data(dir)?, realistic).map_err(usage)?
    } else {
        let mut v = Vec::new();
        for f in file {
            v.extend(data::jsonl(f).map_err(usage)?);
        }
        v
    };
    let items: Vec<_> = items.into_iter().filter(|i| all || i.is_test()).collect();
    let reports = eval::evaluate(&items);
    if json {
        out.line(&serde_json::to_string(&reports).map_err(|e| usage(e.to_string()))?);
        return Ok(());
    }
    out.line(&format!(
        "intent classification on the {} split ({} prompts)",
        if all { "whole" } else { "frozen test" },
        items.len()
    ));
    for (source, r) in &reports {
        out.line(&format!("\n[{source}] {r}"));
    }
    if let Some(src) = errors {
        out.line(&format!("\nmisclassified in {src}:"));
        for it in items.iter().filter(|i| i.source == src) {
            let (pred, conf) = crate::router::classify(&it.prompt);
            if pred != it.intent {
                let head: String = it.prompt.chars().take(110).collect();
                out.line(&format!(
                    "  {} → {} ({conf:.2}): {}",
                    it.intent,
                    pred,
                    crate::sanitize::for_terminal(&head).replace('\n', " ")
                ));
            }
        }
    }
    Ok(())
}

/// `eval train`: the intent and complexity models, written beside each other.
fn train(dir: &Path, path: &Path, realistic: &Path, out: &mut Output) -> Result<(), CommandError> {
    let items = eval::load_all(dir, realistic).map_err(usage)?;
    let model = eval::train_model(&items);
    let test: Vec<_> = items.iter().filter(|i| i.is_test()).cloned().collect();
    let reports = eval::evaluate_with(&test, |p| eval::predict_with(&model, p));
    let dev = eval::cross_validate(&items, 4);
    let (temperature, before, after) = eval::calibrate(&items, 4);
    let cx = eval::train_complexity(&items);
    let cx_path = path.with_file_name("complexity_model.bin");
    std::fs::write(&cx_path, cx.to_bytes())
        .map_err(|e| CommandError::Io(format!("cannot write {}: {e}", cx_path.display())))?;
    let (cx_acc, cx_n) = eval::complexity_accuracy(&items, &cx);
    out.line(&format!(
        "wrote {}; complexity accuracy on the realistic test split {cx_acc:.3} (n {cx_n})",
        cx_path.display()
    ));
    std::fs::write(path, model.to_bytes())
        .map_err(|e| CommandError::Io(format!("cannot write {}: {e}", path.display())))?;
    out.line(&format!(
        "trained on {} prompts, wrote {} ({} bytes)",
        items.len() - test.len(),
        path.display(),
        model.to_bytes().len()
    ));
    out.line(&format!(
        "calibration: temperature {temperature:.2} (log-loss on out-of-fold realistic train rows {before:.3} → {after:.3}); the router uses {:.2} (router::TEMPERATURE)",
        crate::router::TEMPERATURE
    ));
    for k in ["all", "all-public", "arena-hard", "authored", "realistic"] {
        if let Some(r) = dev.get(k) {
            out.line(&format!(
                "dev (4-fold cross-validation on the train split) [{k}] accuracy {:.3} macro-F1 {:.3} (n {})",
                r.accuracy, r.macro_f1, r.n
            ));
        }
    }
    for k in ["all", "all-public", "arena-hard", "authored", "realistic"] {
        if let Some(r) = reports.get(k) {
            out.line(&format!(
                "test [{k}] accuracy {:.3} macro-F1 {:.3} (n {})",
                r.accuracy, r.macro_f1, r.n
            ));
        }
    }
    Ok(())
}

/// `eval replay`: routing replayed on rows with every model's result.
fn replay_cmd(
    file: Option<&Path>,
    routerbench: Option<&Path>,
    reference: &str,
    catalog: Option<&Path>,
    json: bool,
    out: &mut Output,
) -> Result<(), CommandError> {
    let (rows, mut models) = match (file, routerbench) {
        (Some(f), _) => {
            let rows = replay::read_jsonl(f).map_err(usage)?;
            let mut models: Vec<String> =
                rows.iter().flat_map(|r| r.models.keys().cloned()).collect();
            models.sort();
            models.dedup();
            (rows, models)
        }
        (None, Some(p)) => replay::from_routerbench(p).map_err(usage)?,
        (None, None) => {
            return Err(usage(
                "give --file F.jsonl or --routerbench F.csv.gz".into(),
            ));
        }
    };
    if rows.is_empty() {
        return Err(usage("no rows to replay".into()));
    }
    let priors = match catalog {
        Some(path) => {
            let (priors, ids) = eval::priors::Priors::load(path).map_err(usage)?;
            if let Some(missing) = ids.iter().find(|id| !models.contains(id)) {
                return Err(usage(format!(
                    "{}: {missing} has no results in the rows",
                    path.display()
                )));
            }
            models = ids;
            priors
        }
        None => eval::priors::Priors::uniform(),
    };
    let (train, test) = replay::split(&rows);
    if train.is_empty() || test.is_empty() {
        return Err(usage(format!(
            "the split gave {} train and {} test rows; the replay needs both \
             (about 3 ids in 10 hash into test; an id starting \"train:\" or \"test:\" \
             chooses its part)",
            train.len(),
            test.len()
        )));
    }
    if !models.iter().any(|m| m == reference) {
        return Err(usage(format!(
            "--reference {reference} is not one of the models taking part: {}",
            models.join(", ")
        )));
    }
    let report = replay::run(&rows, &models, reference, &priors);
    if json {
        out.line(&serde_json::to_string(&report).map_err(|e| usage(e.to_string()))?);
        return Ok(());
    }
    print_replay(&report, out);
    Ok(())
}

/// `eval replay`'s report as text.
fn print_replay(report: &replay::ReplayReport, out: &mut Output) {
    out.line(&format!(
        "routing replay: {} train, {} test prompts",
        report.train, report.test
    ));
    out.line("\nsingle models (test quality, cost):");
    for (m, q, c) in &report.single {
        out.line(&format!("  {m:<40} {q:.3}  ${c:.2}"));
    }
    out.line(&format!(
        "  {:<40} {:.3}  ${:.2}",
        "oracle (cheapest correct)", report.oracle.0, report.oracle.1
    ));
    out.line("\nknob   intent-only (q, $)   learned (q, $)   nearest-neighbour (q, $)");
    for ((a, b), c) in report
        .intent_only
        .iter()
        .zip(&report.learned)
        .zip(&report.knn)
    {
        out.line(&format!(
            "{:>5.2}  {:.3}  ${:>6.2}      {:.3}  ${:>6.2}      {:.3}  ${:>6.2}",
            a.knob, a.quality, a.cost_usd, b.quality, b.cost_usd, c.quality, c.cost_usd
        ));
    }
    let show = |label: &str, p: &Option<replay::Point>| match p {
        Some(p) => format!(
            "{label}: quality {:.3} at ${:.2} (knob {})",
            p.quality, p.cost_usd, p.knob
        ),
        None => format!("{label}: no point under that cost"),
    };
    out.line(&format!(
        "\n{}",
        show(
            &format!("best at <= 25% of {}'s cost", report.reference_model),
            &report.at_25pct
        )
    ));
    out.line(&show(
        &format!("best at <= 10% of {}'s cost", report.reference_model),
        &report.at_10pct,
    ));
    out.line(&format!(
        "\nlearning: per-task policy from N rated outcomes vs the best fixed per-task policy\n\
         (utility = quality - knob x relative cost, on quality's 0-1 scale: 0.014 is 1.4 points;\n\
         means over {} event orders;\n\
         gap = best fixed utility - learned utility: mean ± standard error / median / worst)",
        eval::curves::ORDERS
    ));
    for c in &report.learning {
        let b = &c.best_fixed;
        out.line(&format!(
            "\n knob {:.2}  best fixed (hindsight): quality {:.3} at ${:.2}, utility {:.3}",
            c.knob, b.quality, b.cost_usd, b.utility
        ));
        for (label, curve) in [
            ("passive (ratings of models tried in turn)", &c.passive),
            (
                "greedy (the router's own picks, explore = false)",
                &c.greedy,
            ),
            ("active (the router's own picks, explore = true)", &c.active),
        ] {
            out.line(&format!("   {label}"));
            for p in curve {
                out.line(&format!(
                    "   {:>6} events: quality {:.3} at ${:>5.2} · utility {:.3} · gap {:.3} ± {:.3} / {:.3} / {:.3}",
                    p.events,
                    p.mean.quality,
                    p.mean.cost_usd,
                    p.mean.utility,
                    p.gap_mean,
                    p.gap_se,
                    p.gap_median,
                    p.gap_worst
                ));
            }
        }
    }
}

/// What `eval routing` prints.
struct RoutingOutput {
    preference: u8,
    sweep: bool,
    errors: bool,
    json: bool,
}

fn routing(
    files: &[std::path::PathBuf],
    split: &str,
    realistic: &std::path::Path,
    o: RoutingOutput,
    out: &mut Output,
) -> Result<(), CommandError> {
    use crate::eval::routing;
    let RoutingOutput {
        preference,
        sweep,
        errors,
        json,
    } = o;
    let rows = if files.is_empty() {
        let all = routing::shipped(realistic).map_err(usage)?;
        match split {
            "dev" => all.into_iter().filter(|r| !r.is_train()).collect(),
            "train" => all.into_iter().filter(routing::Row::is_train).collect(),
            "all" => all,
            other => {
                return Err(usage(format!(
                    "--split must be dev, train or all, not `{other}`"
                )));
            }
        }
    } else {
        let mut v = Vec::new();
        for f in files {
            v.extend(routing::read(f).map_err(usage)?);
        }
        v
    };
    if rows.is_empty() {
        return Err(usage("no rows to route".into()));
    }
    let catalog = crate::catalog::Catalog::builtin()?;
    let routed = routing::route_all(&catalog, &rows, preference);
    let report = routing::report(&catalog, &rows, &routed, preference);
    let curve: Vec<routing::RoutingReport> = if sweep {
        (0..=10)
            .map(|p| routing::report(&catalog, &rows, &routing::route_all(&catalog, &rows, p), p))
            .collect()
    } else {
        Vec::new()
    };
    if json {
        let v = serde_json::json!({ "report": report, "sweep": curve });
        out.line(&v.to_string());
        return Ok(());
    }
    out.line(&report.to_string());
    if sweep {
        out.line("preference  acceptable  expensive  cheap  spend/1000");
        for r in &curve {
            out.line(&format!(
                "{:>10}  {:>10.3}  {:>9.3}  {:>5.3}  ${:.3}",
                r.preference,
                r.acceptable,
                r.expensive_misroutes,
                r.cheap_misroutes,
                r.spend_per_1000
            ));
        }
    }
    if errors {
        out.line("not acceptable:");
        for (row, r) in rows.iter().zip(&routed) {
            let Some(r) = r else { continue };
            if row.acceptable.contains(&r.model) {
                continue;
            }
            let head: String = row.prompt.chars().take(100).collect();
            out.line(&format!(
                "  [{}] {} {:?} → {} {} {:?}: {}",
                row.id,
                row.intent,
                row.complexity,
                r.intent,
                r.model,
                r.complexity,
                crate::sanitize::for_terminal(&head).replace('\n', " ")
            ));
        }
    }
    Ok(())
}
