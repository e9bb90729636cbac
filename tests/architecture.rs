//! The layering rules, checked on the source: the pure and IO layers below the UI never
//! name the terminal crates or the TUI, and the router does no IO.

use std::path::Path;

fn sources(dir: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(_) => continue,
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&p).unwrap_or_default();
                out.push((p.display().to_string(), text));
            }
        }
    }
    out
}

fn code_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
}

#[test]
fn lower_layers_never_import_the_terminal() {
    for layer in ["router", "provider", "ledger", "core", "config", "eval"] {
        let files = sources(layer);
        assert!(!files.is_empty(), "no sources found for {layer}");
        for (path, text) in files {
            for line in code_lines(&text) {
                for banned in ["crate::tui", "ratatui", "crossterm", "syntect"] {
                    assert!(!line.contains(banned), "{path} names {banned}: {line}");
                }
            }
        }
    }
}

#[test]
fn the_router_does_no_io() {
    for (path, text) in sources("router") {
        for line in code_lines(&text) {
            for banned in [
                "std::fs",
                "std::net",
                "reqwest",
                "tokio",
                "rusqlite",
                "crate::ledger",
                "crate::provider",
            ] {
                // The shipped model is embedded at compile time, never read from disk.
                assert!(
                    !line.contains(banned),
                    "{path} does IO via {banned}: {line}"
                );
            }
        }
    }
}

#[test]
fn the_provider_knows_nothing_of_routing_or_money_storage() {
    for (path, text) in sources("provider") {
        for line in code_lines(&text) {
            for banned in ["crate::router", "crate::ledger", "crate::core"] {
                assert!(!line.contains(banned), "{path} names {banned}: {line}");
            }
        }
    }
}

#[test]
fn the_core_never_reaches_into_the_simulator() {
    // The turn engine works against any endpoint: the demo's simulator is chosen by the
    // backend, never named by the core (token estimates live in `tokens`).
    for (path, text) in sources("core") {
        for line in code_lines(&text) {
            assert!(
                !line.contains("crate::simulator"),
                "{path} names the simulator: {line}"
            );
        }
    }
}

#[test]
fn the_tui_knows_the_core_only_through_its_protocol() {
    // Route cards, outcomes and conversations arrive as `core::protocol` types: the TUI
    // never reads the router's, the ledger's or the budget's own.
    for (path, text) in sources("tui") {
        for line in code_lines(&text) {
            for banned in [
                "crate::router",
                "crate::ledger",
                "crate::budget",
                "crate::provider",
            ] {
                assert!(!line.contains(banned), "{path} names {banned}: {line}");
            }
        }
    }
}
