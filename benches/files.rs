//! Files in and edits out: `@` completion over a 100,000-file project (after the walk,
//! which runs once in the background), attaching a 1 MB file to a prompt, and proposing an
//! edit to it. Run: `cargo bench --bench files`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codeforge::project_files::FileIndex;

fn main() {
    divan::main();
}

/// 100,000 paths shaped like a big monorepo's.
fn paths() -> Vec<String> {
    let mut out = Vec::with_capacity(100_000);
    for i in 0..100_000 {
        out.push(format!(
            "services/svc{:03}/src/module{:02}/component_{i}.{}",
            i % 500,
            i % 37,
            ["rs", "ts", "py", "go"][i % 4]
        ));
    }
    out
}

#[divan::bench(args = ["payl", "svc042/comp", "module07/component_4242"])]
fn complete_in_100k_files(b: divan::Bencher, query: &str) {
    let index = FileIndex::from_paths(paths());
    b.bench(|| index.best(divan::black_box(query), 8));
}

#[divan::bench]
fn attach_a_1mb_file(b: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let line = "    let total: i64 = values.iter().map(|v| v * 2).sum(); // a line of code\n";
    std::fs::write(
        dir.path().join("big.rs"),
        line.repeat(1024 * 1024 / line.len()),
    )
    .unwrap();
    b.bench(|| codeforge::attach::mentions(divan::black_box("review @big.rs"), dir.path()));
}

#[divan::bench]
fn propose_an_edit_to_a_1mb_file(b: divan::Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let line = "    let total: i64 = values.iter().map(|v| v * 2).sum(); // a line of code\n";
    let mut text = line.repeat(1024 * 1024 / line.len());
    text.push_str("fn unique_marker() {}\n");
    std::fs::write(dir.path().join("big.rs"), &text).unwrap();
    let ws = codeforge::edits::Workspace::new(dir.path());
    let block = codeforge::edits::Block {
        path: "big.rs".into(),
        search: "fn unique_marker() {}\n".into(),
        replace: "fn renamed_marker() {}\n".into(),
    };
    b.bench(|| ws.propose(divan::black_box(&block), Some(&text)).unwrap());
}
