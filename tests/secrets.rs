//! No API key in anything the project commits as expected output: the snapshots and the
//! recorded fixtures carry no `sk-or-…` key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[test]
fn no_key_in_snapshots_or_fixtures() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scanned = 0;
    for dir in ["tests/snapshots", "tests/fixtures/openrouter"] {
        for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            scanned += 1;
            assert!(
                !text.contains("sk-or-v1-") || text.contains("sk-or-v1-sim..."),
                "a key-shaped string in {}",
                e.path().display()
            );
            assert!(
                !text.to_lowercase().contains("authorization: bearer sk-"),
                "{}",
                e.path().display()
            );
        }
    }
    assert!(scanned > 10);
}
