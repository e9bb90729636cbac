use super::*;

fn catalog() -> Catalog {
    Catalog::builtin().unwrap()
}

/// Signals in which `model`'s last `n` code requests failed (and nothing is rated).
fn failures(model: &str, n: usize) -> Signals {
    let mut s = Signals::new();
    for _ in 0..n {
        s.observe(&Outcome {
            model: model.into(),
            intent: Intent::Code,
            ok: false,
            ttft_ms: None,
            latency_ms: None,
            completion_tokens: 0,
            at_ms: 0,
        });
    }
    s
}

fn decide_simple(c: &Catalog, prompt: &str) -> Decision {
    let (s, b) = (Signals::new(), Breakers::new());
    decide(c, &RouteRequest::simple(prompt, &s, &b)).unwrap()
}

#[test]
fn everyday_work_goes_cheap_and_hard_work_goes_to_a_strong_model() {
    let c = catalog();
    let cheap = ["moonshotai/kimi-k2", "google/gemini-2.5-flash"];
    for prompt in [
        "write a rust function that adds two numbers",
        "thanks",
        "what's the capital of peru?",
        "how do I squash my last 4 commits",
        "Write a friendly two-paragraph welcome message for new members of our hiking club. Mention the monthly meetups on the first Saturday, the shared gear library in the community centre, the carpool list, and how to suggest new trails or weekend trips to the organisers by email or at the meetups.",
    ] {
        let d = decide_simple(&c, prompt);
        assert!(cheap.contains(&d.model.as_str()), "{prompt}: {}", d.reason);
        assert_eq!(d.routed_by, RoutedBy::Auto);
        assert!(!d.learned);
    }
    for prompt in [
        "prove that the square root of 2 is irrational, step by step",
        "Design a lock-free ring buffer for a single producer and many consumers: explain the memory orderings, how slow consumers are detected and how sequence numbers wrap",
    ] {
        let d = decide_simple(&c, prompt);
        assert!(!cheap.contains(&d.model.as_str()), "{prompt}: {}", d.reason);
    }
}

#[test]
fn the_reason_reads_at_a_glance() {
    let d = decide_simple(&catalog(), "write a rust function that adds two numbers");
    assert!(
        d.reason.starts_with("code · ") && d.reason.contains(" · kimi-k2: cheaper"),
        "{}",
        d.reason
    );
    assert!(
        d.reason
            .ends_with("· 0% of today's budget used · pref 5/10"),
        "{}",
        d.reason
    );
    assert_eq!(d.candidates.len(), 5);
    assert!(d.candidates.windows(2).all(|w| w[0].score >= w[1].score));
    // Chat says it took the fast path.
    let d = decide_simple(&catalog(), "cool, that worked");
    assert!(d.reason.contains("chat: fast path"), "{}", d.reason);
    assert!(d.chat);
}

#[test]
fn decisions_are_deterministic() {
    let c = catalog();
    let a = decide_simple(&c, "explain how closures capture variables in rust");
    let b = decide_simple(&c, "explain how closures capture variables in rust");
    assert_eq!(a, b);
}

#[test]
fn the_preference_knob_trades_quality_for_cost() {
    let c = catalog();
    let (s, b) = (Signals::new(), Breakers::new());
    let mut req = RouteRequest::simple(
        "implement an LRU cache in rust with O(1) get and put, generic over key and value, with tests",
        &s,
        &b,
    );
    req.preference = 0;
    let cheap = decide(&c, &req).unwrap();
    req.preference = 10;
    let best = decide(&c, &req).unwrap();
    let cost = |d: &Decision| d.estimated_cost;
    assert!(
        cost(&cheap) < cost(&best),
        "{} vs {}",
        cheap.model,
        best.model
    );
    assert_eq!(cheap.model, "moonshotai/kimi-k2");
    assert!(cheap.reason.ends_with("pref 0/10"));
}

#[test]
fn budget_pressure_weighs_cost_and_excludes_with_reasons() {
    let c = catalog();
    let (s, b) = (Signals::new(), Breakers::new());
    let mut req = RouteRequest::simple("write a rust function that adds two numbers", &s, &b);
    req.budget.pressure = Pressure::High;
    req.budget.fraction_used = 0.85;
    let d = decide(&c, &req).unwrap();
    assert_ne!(
        d.model, "anthropic/claude-sonnet-4",
        "cost weighs more at 80 %"
    );
    req.budget.pressure = Pressure::Critical;
    req.budget.fraction_used = 0.96;
    let d = decide(&c, &req).unwrap();
    assert_eq!(d.model, "google/gemini-2.5-flash");
    let claude = d
        .candidates
        .iter()
        .find(|x| x.model == "anthropic/claude-sonnet-4")
        .unwrap();
    assert_eq!(
        claude.excluded.as_deref(),
        Some("96% of today's budget used: only the emergency model is chosen")
    );
    req.budget.pressure = Pressure::Normal;
    req.budget.remaining = Usd::from_dollars(0.0003);
    let d = decide(&c, &req).unwrap();
    let grok = d
        .candidates
        .iter()
        .find(|x| x.model == "x-ai/grok-4")
        .unwrap();
    assert!(
        grok.excluded
            .as_deref()
            .unwrap()
            .starts_with("cannot be afforded")
    );
    req.budget.remaining = Usd::from_dollars(0.00001);
    assert!(matches!(decide(&c, &req), Err(RouteError::Budget(_))));
}

#[test]
fn an_open_breaker_excludes_the_model_until_its_cooldown() {
    let c = catalog();
    let s = Signals::new();
    let mut b = Breakers::new();
    for _ in 0..breaker::FAILURES_TO_OPEN {
        b.on_failure("moonshotai/kimi-k2", None, 1_000);
    }
    let mut req = RouteRequest::simple("write a rust function that adds two numbers", &s, &b);
    req.now_ms = 2_000;
    let d = decide(&c, &req).unwrap();
    assert_ne!(d.model, "moonshotai/kimi-k2");
    let kimi = d
        .candidates
        .iter()
        .find(|x| x.model == "moonshotai/kimi-k2")
        .unwrap();
    assert_eq!(
        kimi.excluded.as_deref(),
        Some("circuit open after 3 failures (retry in 29 s)")
    );
    // Pinned or chosen for the next message: no request either, and the user is told.
    for choice in [
        UserChoice::Pinned("kimi-k2"),
        UserChoice::Override("kimi-k2"),
    ] {
        req.choice = choice;
        let e = decide(&c, &req).unwrap_err();
        assert_eq!(
            e.to_string(),
            "kimi-k2 is unavailable: circuit open after 3 failures, retry in 29 s. Unpin it (/auto) or pick another (Ctrl-O)"
        );
    }
    req.choice = UserChoice::None;
    req.now_ms = 1_000 + breaker::COOLDOWN_MS;
    assert_eq!(
        decide(&c, &req).unwrap().model,
        "moonshotai/kimi-k2",
        "half-open probe"
    );
}

#[test]
fn learning_changes_the_choice_and_says_so() {
    let c = catalog();
    let mut s = Signals::new();
    for _ in 0..12 {
        s.rate("moonshotai/kimi-k2", Intent::Code, false, 1.0);
        s.rate("anthropic/claude-sonnet-4", Intent::Code, true, 1.0);
    }
    let b = Breakers::new();
    let d = decide(
        &c,
        &RouteRequest::simple("write a rust function that adds two numbers", &s, &b),
    )
    .unwrap();
    assert_ne!(d.model, "moonshotai/kimi-k2");
    assert!(d.learned);
    assert!(
        d.reason.contains("your ratings: preferred over kimi-k2"),
        "{}",
        d.reason
    );
    // Other intents move less: they share the model's record (partial pooling), not the
    // intent's own ratings.
    let moved = |intent: Intent| 0.9 - s.posterior("moonshotai/kimi-k2", intent, 0.9).mean();
    assert!(moved(Intent::Code) > moved(Intent::Math) + 0.1);
    assert!(moved(Intent::Math) > 0.0);
}

#[test]
fn exploring_tries_the_model_the_ratings_know_least_about() {
    let c = catalog();
    let b = Breakers::new();
    let prompt = "write a rust function that adds two numbers";
    let mut s = Signals::new();
    // The usual pick for code has a long, good record; the others have none.
    let usual = decide(&c, &RouteRequest::simple(prompt, &s, &b))
        .unwrap()
        .model;
    for _ in 0..200 {
        s.rate(&usual, Intent::Code, true, 1.0);
    }
    let greedy = decide(&c, &RouteRequest::simple(prompt, &s, &b)).unwrap();
    assert_eq!(greedy.model, usual, "{}", greedy.reason);
    let mut req = RouteRequest::simple(prompt, &s, &b);
    req.explore = true;
    let exploring = decide(&c, &req).unwrap();
    assert_ne!(exploring.model, usual, "{}", exploring.reason);
    assert!(
        exploring.reason.contains(&format!(
            "exploring: tried instead of {}",
            greedy.model_name
        )),
        "{}",
        exploring.reason
    );
    // The fit shown is the estimate, never the optimistic bound.
    for cand in &exploring.candidates {
        let fit = cand.components.fit;
        assert!((0.0..=1.0).contains(&fit), "{fit}");
        assert!(cand.components.optimism > 0.0);
    }
    // Deterministic for the same inputs.
    assert_eq!(decide(&c, &req).unwrap().model, exploring.model);
}

#[test]
fn slow_or_failing_models_lose_ground() {
    let c = catalog();
    // Kimi's last ten requests failed; nobody rated anything.
    let s = failures("moonshotai/kimi-k2", 10);
    let b = Breakers::new();
    let d = decide(
        &c,
        &RouteRequest::simple("write a rust function that adds two numbers", &s, &b),
    )
    .unwrap();
    assert_ne!(d.model, "moonshotai/kimi-k2");
    // Measured failures are not called learning from ratings; the reason names them.
    assert!(!d.learned, "{}", d.reason);
    assert!(!d.reason.contains("your ratings"), "{}", d.reason);
    assert!(
        d.reason
            .contains("kimi-k2 skipped: failing lately (success "),
        "{}",
        d.reason
    );
    let kimi = d
        .candidates
        .iter()
        .find(|x| x.model == "moonshotai/kimi-k2")
        .unwrap();
    assert!(kimi.components.success < 0.2);
}

#[test]
fn override_and_pin_keep_what_the_router_would_pick() {
    let c = catalog();
    let (s, b) = (Signals::new(), Breakers::new());
    let mut req = RouteRequest::simple("write a python script", &s, &b);
    req.choice = UserChoice::Override("claude-sonnet-4");
    let d = decide(&c, &req).unwrap();
    assert_eq!(
        (d.model.as_str(), d.routed_by),
        ("anthropic/claude-sonnet-4", RoutedBy::Override)
    );
    assert_eq!(d.auto_choice, "moonshotai/kimi-k2");
    assert!(
        d.reason
            .contains("chosen by you (router would pick kimi-k2)")
    );
    req.choice = UserChoice::Pinned("o3");
    let d = decide(&c, &req).unwrap();
    assert_eq!(d.routed_by, RoutedBy::Pinned);
    assert!(
        d.reason
            .contains("pinned by you (router would pick kimi-k2)")
    );
    // Choosing what the router would pick anyway says so.
    req.choice = UserChoice::Override("kimi-k2");
    let d = decide(&c, &req).unwrap();
    assert!(
        d.reason.contains("chosen by you, the router's pick too"),
        "{}",
        d.reason
    );
    req.choice = UserChoice::Override("nope");
    assert!(matches!(decide(&c, &req), Err(RouteError::UnknownModel(_))));
}

#[test]
fn too_small_context_windows_are_excluded_with_a_reason() {
    let c = catalog();
    let (s, b) = (Signals::new(), Breakers::new());
    let mut req = RouteRequest::simple("write code", &s, &b);
    req.history_tokens = 150_000;
    let d = decide(&c, &req).unwrap();
    let kimi = d
        .candidates
        .iter()
        .find(|x| x.model == "moonshotai/kimi-k2")
        .unwrap();
    assert!(
        kimi.excluded
            .as_deref()
            .unwrap()
            .starts_with("context window 131072")
    );
    assert_ne!(d.model, "moonshotai/kimi-k2");
    // A pinned model that cannot hold it is refused, not sent a request it must reject.
    req.choice = UserChoice::Pinned("kimi-k2");
    let e = decide(&c, &req).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("kimi-k2 is unavailable: context window 131072 <"),
        "{e}"
    );
}

#[test]
fn the_reason_names_what_the_pick_traded_the_best_fit_for() {
    let c = catalog();
    // A quick question: Kimi K2 fits general prompts best, Gemini Flash answers them sooner.
    let d = decide_simple(&c, "what's the capital of France?");
    let fittest = d
        .candidates
        .iter()
        .max_by(|a, b| a.components.fit.total_cmp(&b.components.fit))
        .unwrap();
    assert_ne!(fittest.model, d.model, "{}", d.reason);
    let chosen = d.candidates.iter().find(|x| x.model == d.model).unwrap();
    assert!(
        d.reason.contains(&format!(
            "faster than {} for general (fit {:.2} vs {:.2})",
            c.get(&fittest.model).unwrap().name,
            chosen.components.fit,
            fittest.components.fit
        )),
        "{}",
        d.reason
    );
    assert!(!d.reason.contains("best fit"), "{}", d.reason);
    // Everyday code: the cheaper model, with the fit it traded for the saving.
    let d = decide_simple(&c, "write a rust function that adds two numbers");
    assert!(
        d.reason.contains("cheaper and faster than grok-4 for code"),
        "{}",
        d.reason
    );
}

#[test]
fn the_reason_says_when_only_the_emergency_model_may_run() {
    let c = catalog();
    let (s, b) = (Signals::new(), Breakers::new());
    let mut req = RouteRequest::simple("write a rust function that adds two numbers", &s, &b);
    req.budget.pressure = Pressure::Critical;
    req.budget.fraction_used = 0.97;
    let d = decide(&c, &req).unwrap();
    assert_eq!(d.model, "google/gemini-2.5-flash");
    assert_eq!(d.reason.matches("97%").count(), 1, "{}", d.reason);
    assert!(
        d.reason
            .contains("gemini-2.5-flash: emergency model only, from 95% of the daily budget"),
        "{}",
        d.reason
    );
}

#[test]
fn a_long_history_is_trimmed_to_fit_rather_than_refused() {
    let c = catalog();
    let (s, b) = (Signals::new(), Breakers::new());
    let mut req = RouteRequest::simple("write a rust function that adds two numbers", &s, &b);
    // 1.2 M tokens of history: more than any window, all of it trimmable.
    req.history_tokens = 1_200_000;
    req.trimmable_tokens = 1_199_000;
    let d = decide(&c, &req).unwrap();
    assert!(d.candidates.iter().all(|x| x.excluded.is_none()), "{d:?}");
    // The estimate is for what fits the chosen model's window, not the whole history.
    let chosen = c.get(&d.model).unwrap();
    assert!(
        d.estimated_cost
            <= chosen.expected_cost(
                chosen.context_length,
                expected_completion_tokens(d.complexity)
            )
    );
    // What cannot be trimmed (the prompt itself) still has to fit: see
    // too_small_context_windows_are_excluded_with_a_reason.
}

/// The examples of issue #11, each routed as a cost-aware expert would.
mod issue_examples {
    use super::*;

    const CHEAP: [&str; 2] = ["moonshotai/kimi-k2", "google/gemini-2.5-flash"];

    fn after(prompt: &str, previous: Option<Intent>) -> Decision {
        let (s, b) = (Signals::new(), Breakers::new());
        let mut req = RouteRequest::simple(prompt, &s, &b);
        req.previous_intent = previous;
        decide(&catalog(), &req).unwrap()
    }

    #[test]
    fn acknowledgements_take_the_fast_path_and_never_inherit_the_thread() {
        for (prompt, previous) in [
            ("cool, that worked", None),
            ("yes", None),
            ("go ahead", None),
            ("thanks", Some(Intent::Math)),
            ("hi", Some(Intent::Debug)),
        ] {
            let d = after(prompt, previous);
            assert!(d.chat, "{prompt}: {}", d.reason);
            assert_eq!(d.intent, Intent::General, "{prompt}");
            assert!(CHEAP.contains(&d.model.as_str()), "{prompt}: {}", d.reason);
            assert!(!d.reason.contains("follow-up"), "{}", d.reason);
        }
        // A real follow-up still keeps its thread.
        let d = after("now make it faster", Some(Intent::Code));
        assert_eq!(d.intent, Intent::Code, "{}", d.reason);
    }

    #[test]
    fn everyday_code_requests_are_code_on_a_cheap_model() {
        for prompt in [
            "Write a Rust trait for a key value store",
            "Write a SQL query for the second highest salary",
            "Generate a regex for email validation",
            "帮我写一个Python函数，读取CSV文件并按日期列排序",
        ] {
            let d = after(prompt, None);
            assert_eq!(d.intent, Intent::Code, "{prompt}: {}", d.reason);
            assert!(CHEAP.contains(&d.model.as_str()), "{prompt}: {}", d.reason);
        }
    }

    #[test]
    fn quick_questions_are_not_maths_and_stay_cheap() {
        for prompt in [
            "SELECT * FROM users WHERE id = 1 is slow, how do I index it?",
            "how many bytes in a kibibyte",
            "how do I squash my last 4 commits",
        ] {
            let d = after(prompt, None);
            assert_ne!(d.intent, Intent::Math, "{prompt}: {}", d.reason);
            assert!(CHEAP.contains(&d.model.as_str()), "{prompt}: {}", d.reason);
        }
        assert_eq!(
            after("how do I squash my last 4 commits", None).intent,
            Intent::General
        );
    }

    #[test]
    fn the_instruction_carries_the_intent_and_the_paste_its_kind() {
        let decorator = "what does this do\n\ndef retry(times):\n    def wrap(f):\n        @functools.wraps(f)\n        def inner(*args, **kwargs):\n            for attempt in range(times):\n                try:\n                    return f(*args, **kwargs)\n                except Exception:\n                    if attempt == times - 1:\n                        raise\n        return inner\n    return wrap\n";
        let d = after(decorator, None);
        assert_eq!(d.intent, Intent::Explain, "{}", d.reason);
        assert_eq!(d.payload, PayloadKind::Code);
        assert!(CHEAP.contains(&d.model.as_str()), "{}", d.reason);
        let valgrind = "==31337== Invalid read of size 8\n==31337==    at 0x10A2F3: list_pop (list.c:88)\n==31337==    by 0x10A5C1: worker (pool.c:142)\n==31337==  Address 0x4a8e0c8 is 8 bytes inside a block of size 24 free'd\n==31337==    at 0x483CA3F: free (vg_replace_malloc.c:540)\n==31337==    by 0x10A31B: list_remove (list.c:97)\n==31337== ERROR SUMMARY: 3 errors from 3 contexts";
        let d = after(valgrind, None);
        assert_eq!(d.intent, Intent::Debug, "{}", d.reason);
        assert_eq!(d.payload, PayloadKind::Trace);
    }

    #[test]
    fn hard_work_still_reaches_a_strong_model() {
        for prompt in [
            "Design a lock-free ring buffer for a single producer and many consumers; every consumer must see every message and slow consumers must not block the producer. Explain the memory orderings.",
            "plan the migration of a 2 TB postgres database to a new cluster with no downtime: replication, cut-over, rollback",
            "prove that there are infinitely many primes of the form 4k+3",
        ] {
            let d = after(prompt, None);
            assert_ne!(d.complexity, Complexity::Simple, "{prompt}: {}", d.reason);
            assert!(!CHEAP.contains(&d.model.as_str()), "{prompt}: {}", d.reason);
        }
    }

    /// Signals after `model` failed (and then, when `recovered`, answered once).
    fn transient(model: &str, failures: usize, recovered: bool) -> Signals {
        let mut s = Signals::new();
        let outcome = |ok: bool, at_ms: i64| Outcome {
            model: model.into(),
            intent: Intent::Code,
            ok,
            ttft_ms: ok.then_some(1000.0),
            latency_ms: Some(1500.0),
            completion_tokens: 100,
            at_ms,
        };
        for i in 0..failures {
            s.observe(&outcome(false, i as i64));
        }
        if recovered {
            s.observe(&outcome(true, 10));
        }
        s
    }

    #[test]
    fn transient_failures_change_no_choice_once_the_model_answers_again() {
        let c = catalog();
        let b = Breakers::new();
        let prompt = "write a rust function that adds two numbers";
        let fresh = decide(&c, &RouteRequest::simple(prompt, &Signals::new(), &b)).unwrap();
        for failures in [1, 2] {
            let s = transient(&fresh.model, failures, true);
            let mut req = RouteRequest::simple(prompt, &s, &b);
            req.now_ms = 20;
            let d = decide(&c, &req).unwrap();
            assert_eq!(d.model, fresh.model, "{failures}: {}", d.reason);
            // Nor is the failure held against its answers' quality.
            assert_eq!(s.quality(&fresh.model, Intent::Code).ratings(), 0.0);
        }
    }

    #[test]
    fn one_quick_answer_does_not_replace_a_latency_prior() {
        let c = catalog();
        let b = Breakers::new();
        let mut s = Signals::new();
        s.observe(&Outcome {
            model: "openai/o3".into(),
            intent: Intent::Explain,
            ok: true,
            ttft_ms: Some(150.0),
            latency_ms: Some(400.0),
            completion_tokens: 50,
            at_ms: 0,
        });
        let d = decide(&c, &RouteRequest::simple("hi", &s, &b)).unwrap();
        assert_ne!(d.model, "openai/o3", "{}", d.reason);
        let o3 = d
            .candidates
            .iter()
            .find(|x| x.model == "openai/o3")
            .unwrap();
        assert!(o3.components.latency_ms > 4000.0, "{:?}", o3.components);
    }

    #[test]
    fn a_budget_that_cannot_finish_the_answer_is_said_before_sending() {
        let c = catalog();
        let (s, b) = (Signals::new(), Breakers::new());
        let prompt = "Write a Rust trait for a key value store with get, put, delete and a range scan, and an in-memory implementation with tests";
        let mut req = RouteRequest::simple(prompt, &s, &b);
        // Enough for every model to finish: no cap.
        req.budget.remaining = Usd::from_dollars(1.0);
        assert_eq!(decide(&c, &req).unwrap().budget_cap, None);
        // $0.004 left: a cheap model can still finish, the dear ones are left out.
        req.budget.remaining = Usd::from_dollars(0.004);
        let d = decide(&c, &req).unwrap();
        let claude = d
            .candidates
            .iter()
            .find(|x| x.model == "anthropic/claude-sonnet-4")
            .unwrap();
        assert!(
            claude
                .excluded
                .as_deref()
                .is_some_and(|e| e.starts_with("cannot finish a ~")),
            "{:?}",
            claude.excluded
        );
        // $0.0002 left: nobody can finish, so the answer is capped and the card says so.
        req.budget.remaining = Usd::from_dollars(0.0002);
        let d = decide(&c, &req).unwrap();
        let cap = d.budget_cap.expect("capped");
        assert!(cap >= MIN_OUTPUT_TOKENS && cap < expected_completion_tokens(d.complexity));
        assert!(
            d.reason
                .contains(&format!("answer capped at ~{cap} tokens by today's budget")),
            "{}",
            d.reason
        );
        assert!(d.estimated_cost <= req.budget.remaining, "{}", d.reason);
    }
}

#[test]
fn budget_shares_pull_a_model_down_and_leave_it_out_at_its_share() {
    let c = catalog();
    let (s, b) = (Signals::new(), Breakers::new());
    let prompt = "write a rust function that adds two numbers";
    let usual = decide_simple(&c, prompt).model;
    let share = c.get(&usual).unwrap().budget_share;
    let limit = Usd::from_dollars(3.33);
    let at = |fraction: f64| vec![(usual.clone(), Usd::from_dollars(3.33 * share * fraction))];
    let with = |spend: &[(String, Usd)]| {
        let mut req = RouteRequest::simple(prompt, &s, &b);
        req.budget.daily_limit = limit;
        req.budget.model_spend = spend;
        decide(&c, &req).unwrap()
    };
    // Under half of its share nothing changes; the pull then grows smoothly.
    let fresh = with(&at(0.0));
    let half = with(&at(0.5));
    assert_eq!(fresh, half);
    let near = with(&at(0.9));
    let pull = |d: &Decision| {
        d.candidates
            .iter()
            .find(|x| x.model == usual)
            .unwrap()
            .components
            .share_overuse
    };
    assert!(pull(&near) > 0.5 && pull(&near) < 1.0, "{}", pull(&near));
    // At 130 % of its share it is left out, with the reason.
    let over = with(&at(1.3));
    assert_ne!(over.model, usual, "{}", over.reason);
    let left_out = over.candidates.iter().find(|x| x.model == usual).unwrap();
    assert!(
        left_out
            .excluded
            .as_deref()
            .is_some_and(|e| e.starts_with("at its budget share")),
        "{left_out:?}"
    );
    // Unless nothing else fits: every model over its share still gets an answer.
    let all: Vec<(String, Usd)> = c
        .models()
        .iter()
        .map(|m| (m.id.clone(), Usd::from_dollars(3.33 * m.budget_share * 1.3)))
        .collect();
    assert!(with(&all).candidates.iter().all(|x| x.excluded.is_none()));
}
