//! The project's realistic prompts (`assets/eval/realistic/*.jsonl`, what people type), for
//! the benches that time routing decisions on them.

/// Every prompt, in file order.
pub fn prompts() -> Vec<String> {
    let mut files: Vec<_> = std::fs::read_dir("assets/eval/realistic")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut prompts = Vec::new();
    for f in files {
        for l in std::fs::read_to_string(&f).unwrap().lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            if let Some(s) = v["prompt"].as_str() {
                prompts.push(s.to_string());
            }
        }
    }
    prompts
}
