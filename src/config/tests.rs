use super::*;

fn env_none(_: &str) -> Option<String> {
    None
}

fn write(dir: &Path, text: &str) -> Paths {
    let paths = Paths::under(dir);
    std::fs::write(paths.config_file(), text).unwrap();
    paths
}

#[test]
fn missing_file_gives_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let c = Config::load_from(Paths::under(dir.path()), env_none).unwrap();
    assert!(!c.config_file_exists);
    assert_eq!(c.base_url, DEFAULT_BASE_URL);
    assert_eq!(c.key_source, KeySource::None);
    assert_eq!(c.budget.daily_usd, 3.33);
    assert_eq!(c.timeouts, Timeouts::default());
}

#[test]
fn env_key_wins_over_file_and_base_url_is_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(
        dir.path(),
        "api_key = \"sk-file\"\nbase_url = \"http://127.0.0.1:9/api/v1/\"\n",
    );
    let c = Config::load_from(paths.clone(), |n| {
        (n == "OPENROUTER_API_KEY").then(|| "sk-env".to_string())
    })
    .unwrap();
    assert_eq!(c.api_key.as_ref().unwrap().expose(), "sk-env");
    assert_eq!(c.key_source, KeySource::Environment);
    assert_eq!(c.base_url, "http://127.0.0.1:9/api/v1");
    let c = Config::load_from(paths, env_none).unwrap();
    assert_eq!(c.api_key.unwrap().expose(), "sk-file");
}

#[test]
fn malformed_config_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), "# comment\n[budget]\ndaily_usd = \"lots\"\n");
    let err = Config::load_from(paths.clone(), env_none).unwrap_err();
    let msg = err.to_string();
    let file = paths.config_file().display().to_string();
    assert!(
        msg.starts_with(&format!("invalid config {file}:3:")),
        "{msg}"
    );
    assert!(msg.contains("key `budget.daily_usd`"), "{msg}");
}

#[test]
fn max_output_tokens_is_read_and_a_useless_one_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), "[budget]\nmax_output_tokens = 12000\n");
    let c = Config::load_from(paths, env_none).unwrap();
    assert_eq!(c.budget.max_output_tokens, Some(12_000));
    let paths = write(dir.path(), "[budget]\n\nmax_output_tokens = 3\n");
    let msg = Config::load_from(paths.clone(), env_none)
        .unwrap_err()
        .to_string();
    let file = paths.config_file().display().to_string();
    assert!(
        msg.starts_with(&format!("invalid config {file}:3:")),
        "{msg}"
    );
    assert!(msg.contains("key `budget.max_output_tokens`"), "{msg}");
    assert!(msg.contains("at least 16"), "{msg}");
}

#[test]
fn unknown_key_and_syntax_error_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), "[router]\npreferense = 3\n");
    let msg = Config::load_from(paths, env_none).unwrap_err().to_string();
    assert!(msg.contains(":2:"), "{msg}");
    assert!(msg.contains("router.preferense"), "{msg}");
    assert!(msg.contains("unknown field"), "{msg}");

    let paths = write(dir.path(), "base_url = \n");
    let msg = Config::load_from(paths, env_none).unwrap_err().to_string();
    assert!(msg.contains(":1:"), "{msg}");
}

#[test]
fn out_of_range_values_are_rejected_with_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), "[router]\npreference = 11\n");
    let msg = Config::load_from(paths, env_none).unwrap_err().to_string();
    assert!(msg.contains("router.preference"), "{msg}");
    let paths = write(dir.path(), "[timeouts]\nidle_ms = 0\n");
    let msg = Config::load_from(paths, env_none).unwrap_err().to_string();
    assert!(msg.contains("timeouts.idle_ms"), "{msg}");
    let paths = write(dir.path(), "base_url = \"ftp://x\"\n");
    assert!(Config::load_from(paths, env_none).is_err());
}

#[test]
fn show_never_prints_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), "api_key = \"sk-or-v1-secret-123\"\n");
    let c = Config::load_from(paths, env_none).unwrap();
    let shown = c.show();
    assert!(!shown.contains("secret-123"));
    assert!(shown.contains("set (from the config file)"));
    assert!(!format!("{c:?}").contains("secret-123"));
}

#[cfg(unix)]
#[test]
fn init_writes_a_private_parseable_file_and_refuses_to_overwrite() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("sub/config.toml");
    init_config_file(&file, false).unwrap();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(parse_config(&file, DEFAULT_CONFIG_TOML).is_ok());
    assert!(matches!(
        init_config_file(&file, false),
        Err(ConfigError::AlreadyExists { .. })
    ));
    init_config_file(&file, true).unwrap();
}

#[test]
fn user_models_extend_the_catalog() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(
        dir.path(),
        "[[models]]\nid = \"llama3\"\nbase_url = \"http://127.0.0.1:11434/v1\"\napi_key_env = \"OLLAMA_KEY\"\nprompt_price = 0.0\ncompletion_price = 0.0\ncontext_length = 8192\n",
    );
    let c = Config::load_from(paths, env_none).unwrap();
    let cat = crate::catalog::Catalog::load(&c.model_patches, None).unwrap();
    assert_eq!(cat.models().len(), 6);
    assert_eq!(
        cat.get("llama3").unwrap().api_key_env.as_deref(),
        Some("OLLAMA_KEY")
    );
}

#[test]
fn explore_is_off_by_default_and_read_from_the_router_section() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(dir.path(), "[router]\npreference = 3\n");
    let c = Config::load_from(paths, env_none).unwrap();
    assert!(!c.explore);
    assert!(c.show().contains("explore          off"), "{}", c.show());
    let paths = write(dir.path(), "[router]\nexplore = true\n");
    let c = Config::load_from(paths, env_none).unwrap();
    assert!(c.explore);
    let paths = write(dir.path(), "[router]\n\nexplore = \"yes\"\n");
    let msg = Config::load_from(paths, env_none).unwrap_err().to_string();
    assert!(
        msg.contains(":3:") && msg.contains("router.explore"),
        "{msg}"
    );
}

#[test]
fn an_unclosed_table_names_its_line_not_the_table_before() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(
        dir.path(),
        "[timeouts]\nidle_ms = 100\n\n[router\npreference = 3\n",
    );
    let msg = Config::load_from(paths, env_none).unwrap_err().to_string();
    assert!(msg.contains(":4:"), "{msg}");
    assert!(!msg.contains("timeouts"), "{msg}");
}

#[test]
fn a_value_out_of_range_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write(
        dir.path(),
        "# mine\n\n[router]\nexplore = true\npreference = 42\n",
    );
    let msg = Config::load_from(paths.clone(), env_none)
        .unwrap_err()
        .to_string();
    let file = paths.config_file().display().to_string();
    assert!(
        msg.starts_with(&format!("invalid config {file}:5: key `router.preference`")),
        "{msg}"
    );
    assert!(msg.contains("42 is out of range 0..=10"), "{msg}");
}

#[test]
fn line_of_finds_a_key_in_its_table_only() {
    let text =
        "preference = 1\n[router]\n# preference = 2\npreference = 3\n[keys]\n\"help\" = \"f1\"\n";
    assert_eq!(line_of(text, "router.preference"), Some(4));
    assert_eq!(line_of(text, "preference"), Some(1));
    assert_eq!(line_of(text, "keys.help"), Some(6));
    assert_eq!(line_of(text, "budget.daily_usd"), None);
    // What reading lines by hand got wrong: a dotted key, an inline table, and a
    // multi-line string that looks like a table header.
    let text =
        "router.preference = 7\nbase_url = \"\"\"\n[budget]\n\"\"\"\nbudget = { daily_usd = -1 }\n";
    assert_eq!(line_of(text, "router.preference"), Some(1));
    assert_eq!(line_of(text, "budget.daily_usd"), Some(5));
}

#[test]
fn plain_http_goes_only_to_this_machine_unless_allowed() {
    for url in [
        "http://127.0.0.1:8080/api/v1",
        "http://localhost:11434/v1",
        "http://[::1]:9/api",
        "https://openrouter.ai/api/v1",
        "https://10.0.0.5/api",
    ] {
        assert!(!insecure(url), "{url}");
    }
    for url in [
        "http://openrouter.ai/api/v1",
        "http://10.0.0.5:8080/v1",
        "http://user@192.168.1.2/v1",
        "http://127.0.0.1.evil.example/v1",
        "HTTP://openrouter.ai/api/v1",
        "http://evil.example\\@localhost/v1",
    ] {
        assert!(insecure(url), "{url}");
    }
    let dir = tempfile::tempdir().unwrap();
    // From the environment: refused, naming the key and the way out.
    let paths = Paths::under(dir.path());
    let err = Config::load_from(paths.clone(), |n| {
        (n == "OPENROUTER_BASE_URL").then(|| "http://10.0.0.5:8080/api/v1".to_string())
    })
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("base_url") && err.contains("clear text"),
        "{err}"
    );
    assert!(err.contains("allow_insecure_http = true"), "{err}");
    // A custom model's endpoint too.
    let paths = write(
        dir.path(),
        "[[models]]\nid = \"m\"\nprompt_price = 0.0\ncompletion_price = 0.0\ncontext_length = 8000\nbase_url = \"http://gpu-box:8000/v1\"\n",
    );
    let err = Config::load_from(paths, env_none).unwrap_err().to_string();
    assert!(err.contains("models.m.base_url"), "{err}");
    // Allowed in the config: loads, and the warning names the address.
    let paths = write(
        dir.path(),
        "allow_insecure_http = true\nbase_url = \"http://10.0.0.5:8080/api/v1\"\n",
    );
    let c = Config::load_from(paths, env_none).unwrap();
    let w = c.insecure_warning().unwrap();
    assert!(w.contains("http://10.0.0.5:8080/api/v1"), "{w}");
    assert!(!w.contains("sk-"), "{w}");
    // The default needs no warning.
    let c = Config::load_from(Paths::under(tempfile::tempdir().unwrap().path()), env_none).unwrap();
    assert_eq!(c.insecure_warning(), None);
}

#[test]
fn a_key_in_the_wrong_field_is_not_echoed() {
    let key = "sk-or-v1-0123456789abcdef0123456789abcdef";
    assert_eq!(
        redact_keys(&format!("`{key}` is not an http:// or https:// URL")),
        "`sk-…(hidden)` is not an http:// or https:// URL"
    );
    assert_eq!(
        redact_keys("task-list and sk-short stay"),
        "task-list and sk-short stay"
    );
    let dir = tempfile::tempdir().unwrap();
    for text in [
        format!("base_url = \"{key}\"\n"),
        format!("[router]\npreference = \"{key}\"\n"),
        format!("theme = \"{key}\"\n"),
    ] {
        let err = Config::load_from(write(dir.path(), &text), env_none)
            .unwrap_err()
            .to_string();
        assert!(!err.contains("0123456789abcdef"), "{err}");
    }
}
