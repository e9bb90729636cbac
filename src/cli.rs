//! Command-line interface (clap derive). Parsing only; the work is in `commands`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "codeforge",
    version,
    about = "Terminal coding assistant with a visible multi-model router and a hard daily budget",
    long_about = None
)]
pub struct Cli {
    /// Use the built-in simulator instead of OpenRouter (the default when no API key is set).
    #[arg(long, global = true)]
    pub demo: bool,

    /// Resume the last conversation (TUI).
    #[arg(long = "continue")]
    pub continue_last: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask one question without the TUI: routes, streams the answer to stdout.
    Ask(AskArgs),
    /// List the model catalog with prices.
    Models(ModelsArgs),
    /// Show the routing decision for a prompt (no network).
    Route(RouteArgs),
    /// Apply the edits the last `ask -f` answer proposed (each checked against the file).
    Apply {
        /// Show the proposed edits as diffs without applying them.
        #[arg(long)]
        show: bool,
    },
    /// Take back the last applied edit (repeat for earlier ones).
    Undo,
    /// Write a conversation as Markdown (the last one without an ID).
    Export {
        /// The conversation (each answer names it; `ask --json` prints conversation_id).
        id: Option<i64>,
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Spend per day, model and intent; latency, success rate, feedback and savings.
    Stats(StatsArgs),
    /// Show or set the daily and monthly limits.
    Budget(BudgetArgs),
    /// Rate an answer: thumbs up or down (feeds the router's learning).
    Feedback(FeedbackArgs),
    /// Offline evaluation: intent accuracy, training the intent model, routing replay.
    Eval(EvalArgs),
    /// Run the OpenRouter-compatible simulator on loopback.
    Simulate(SimulateArgs),
    /// A team's keys: one OpenRouter key per member, each with its own spending limit
    /// (needs a management key in OPENROUTER_MANAGEMENT_KEY).
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Show or create the config file.
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print shell completions.
    Completions {
        shell: clap_complete::Shell,
        /// Write into this directory instead of stdout.
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct AskArgs {
    /// Use this model (id or short name) instead of routing.
    #[arg(long, short)]
    pub model: Option<String>,
    /// Print one JSON object at the end instead of streaming text.
    #[arg(long)]
    pub json: bool,
    /// Quality ↔ cost preference for this prompt: 0 = cheapest that fits … 10 = best.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=10))]
    pub preference: Option<u8>,
    /// Continue the last conversation (its history is sent; a follow-up keeps its thread).
    #[arg(long = "continue", short = 'c', conflicts_with = "conversation")]
    pub continue_last: bool,
    /// Continue the conversation with this id (`codeforge history` lists them).
    #[arg(long)]
    pub conversation: Option<i64>,
    /// Attach a file (repeatable): sent with the prompt, fenced, under its name.
    #[arg(long = "file", short = 'f', value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Send attached files whole even over `attach_confirm_tokens`.
    #[arg(long, conflicts_with = "trim")]
    pub whole: bool,
    /// Send an excerpt of each attached file when they are over `attach_confirm_tokens`.
    #[arg(long)]
    pub trim: bool,
    /// Use a role from the config (`[roles.NAME]`: its system prompt, preference, model).
    #[arg(long)]
    pub role: Option<String>,
    /// Apply the edits the answer proposes to attached files right away (they are shown
    /// as diffs either way; without this, `codeforge apply` applies them).
    #[arg(long)]
    pub apply: bool,
    /// Print the answer as it arrives, its Markdown as written. On a terminal `ask`
    /// otherwise renders it (highlighted code, aligned tables) a finished line at a time;
    /// into a pipe or a file it is always raw.
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
    /// The prompt (the instruction); read from stdin when absent. Given with stdin, stdin
    /// is attached to it.
    pub prompt: Option<String>,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub action: EvalAction,
}

#[derive(Debug, Subcommand)]
pub enum EvalAction {
    /// Intent accuracy, macro-F1, per-class recall and confusion, per source.
    Intents {
        /// The shared eval-data directory (a checkout's `../shared/eval-data`).
        #[arg(long, env = "CODEFORGE_EVAL_DATA")]
        data: Option<PathBuf>,
        /// JSONL files of {prompt, intent} instead of the shared sources. Repeatable.
        #[arg(long)]
        file: Vec<PathBuf>,
        /// The project's realistic set (read with the shared sources).
        #[arg(long, default_value = crate::eval::routing::DEFAULT_DIR)]
        realistic: PathBuf,
        /// Every prompt, not only the frozen test split.
        #[arg(long)]
        all: bool,
        /// Also list the misclassified prompts of this source.
        #[arg(long)]
        errors: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Train the intent model on the non-test split and write it.
    Train {
        /// The shared eval-data directory (a checkout's `../shared/eval-data`).
        #[arg(long, env = "CODEFORGE_EVAL_DATA")]
        data: Option<PathBuf>,
        #[arg(long, default_value = "assets/intent_model.bin")]
        out: PathBuf,
        /// The project's realistic set (its train part and training files are learned from).
        #[arg(long, default_value = crate::eval::routing::DEFAULT_DIR)]
        realistic: PathBuf,
    },
    /// Routing on realistic prompts: acceptable-model rate, expensive and cheap misroutes,
    /// paraphrase consistency, shares and spend against baselines.
    Routing {
        /// JSONL files of {prompt, intent, acceptable: [model ids], group}; the project's
        /// realistic set when absent.
        files: Vec<PathBuf>,
        /// Which part of the project's realistic set: dev (never trained on), train or all.
        /// Files given on the command line are read whole.
        #[arg(long, default_value = "dev")]
        split: String,
        /// Where the project's realistic set is.
        #[arg(long, default_value = crate::eval::routing::DEFAULT_DIR)]
        realistic: PathBuf,
        /// Quality ↔ cost preference to route at.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(0..=10))]
        preference: u8,
        /// Also print the curve over every preference 0–10.
        #[arg(long)]
        sweep: bool,
        /// List the rows whose model was not acceptable.
        #[arg(long)]
        errors: bool,
        #[arg(long)]
        json: bool,
    },
    /// Routing replay: quality and cost vs single models, the oracle and an intent-only
    /// router, plus the learning curve.
    Replay {
        /// JSONL of {id, prompt, intent, models: {id: {score, cost_usd}}}.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Read the RouterBench subset CSV (gz) from the shared data directly.
        #[arg(long)]
        routerbench: Option<PathBuf>,
        /// The model the cost targets refer to.
        #[arg(long, default_value = "gpt-4-1106-preview")]
        reference: String,
        /// A catalog file (TOML `[[models]]` with `id`, optional `prior` and per-task
        /// `[models.tasks]`): only these models take part, and learning starts from their
        /// priors.
        #[arg(long)]
        catalog: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct RouteArgs {
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Route as if this model were chosen (id or short name).
    #[arg(long, short)]
    pub model: Option<String>,
    /// Quality ↔ cost preference for this prompt: 0 = cheapest that fits … 10 = best.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=10))]
    pub preference: Option<u8>,
    /// Attach a file (repeatable), as `ask -f` does.
    #[arg(long = "file", short = 'f', value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Apply the edits the answer proposes to attached files right away (they are shown
    /// as diffs either way; without this, `codeforge apply` applies them).
    #[arg(long)]
    pub apply: bool,
    /// The prompt; read from stdin when absent (attached to it when both are given).
    pub prompt: Option<String>,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// How many days back, today included.
    #[arg(long, default_value_t = 14)]
    pub days: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BudgetArgs {
    /// Set the daily limit in USD (takes effect at once, for every running codeforge).
    #[arg(long, conflicts_with = "optimize", allow_negative_numbers = true)]
    pub daily: Option<f64>,
    /// Set the monthly limit in USD.
    #[arg(long, conflicts_with = "optimize", allow_negative_numbers = true)]
    pub monthly: Option<f64>,
    /// Propose new per-model budget shares from the last `--days` of usage and feedback.
    #[arg(long)]
    pub optimize: bool,
    /// With --optimize: apply the proposal (otherwise it is only shown).
    #[arg(long, requires = "optimize")]
    pub apply: bool,
    /// Days of history for --optimize (1 to 3660; 14 when not given).
    #[arg(long, requires = "optimize", value_parser = clap::value_parser!(u64).range(1..=3660))]
    pub days: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FeedbackArgs {
    /// The request: ledger id or provider generation id (`request_id` from `ask --json`).
    pub request_id: String,
    /// `up` or `down`.
    pub rating: String,
}

#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// Read live prices and context lengths from `GET /models` into the local cache.
    #[arg(long)]
    pub refresh: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Port on 127.0.0.1 (0 = a free port, printed at start).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Inject a fault: MODEL=KIND[:ARG][xN], e.g. `x-ai/grok-4=503:5`, `kimi-k2=disconnect:20`,
    /// `o3=429:2x3`. Kinds: 401 402 403 429 500 502 503 refuse stall stall-mid:N
    /// disconnect:N error:N malformed:N no-usage huge:BYTES flood:TOKENS lines:N. Repeatable.
    #[arg(long = "fault", value_name = "MODEL=KIND")]
    pub faults: Vec<String>,
    /// Delay before the first token, in milliseconds.
    #[arg(long, default_value_t = 250)]
    pub ttft_ms: u64,
    /// Streaming speed in tokens per second (0 = unthrottled).
    #[arg(long, default_value_t = 180.0)]
    pub tps: f64,
    /// Stop listing this model in /models (and answer it with 404). Repeatable.
    #[arg(long = "unlist", value_name = "MODEL")]
    pub unlisted: Vec<String>,
    /// Give the key a daily spending limit in USD, enforced as OpenRouter does (403 once
    /// spent, 402 for a request whose worst case does not fit) and reported by `/key`.
    #[arg(long, value_name = "USD")]
    pub key_limit: Option<f64>,
    /// Serve and bill prices this many times the catalog's (e.g. 1.2: 20 % dearer).
    #[arg(long, default_value_t = 1.0, value_name = "FACTOR")]
    pub price_scale: f64,
    /// Serve requests whatever their `provider.max_price` (OpenRouter refuses ones no
    /// provider is cheap enough for; a server written elsewhere may not).
    #[arg(long)]
    pub ignore_max_price: bool,
    /// Accept this as an OpenRouter management key for `/keys` (`codeforge keys`).
    #[arg(long, value_name = "KEY")]
    pub management_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Create a key for a member with a spending limit; prints the key once.
    Create {
        /// The member's name (unique among the account's keys).
        name: String,
        /// Spending limit in USD.
        #[arg(long, value_name = "USD")]
        limit: f64,
        /// When the limit starts again (midnight UTC; weeks from Monday).
        #[arg(long, value_enum, default_value_t = KeyReset::Daily)]
        reset: KeyReset,
    },
    /// List the keys with their limits and what they spent.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Disable a member's key: OpenRouter refuses every request made with it.
    Disable { name: String },
    /// Enable a disabled key again.
    Enable { name: String },
}

/// When a key's limit resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KeyReset {
    Daily,
    Weekly,
    Monthly,
    /// A total that never resets.
    Never,
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the config file's path.
    Path,
    /// Print the resolved configuration (never the API key).
    Show,
    /// Write a documented default config file (mode 0600).
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn ask_parses_flags_and_prompt() {
        let cli = Cli::parse_from(["codeforge", "ask", "--demo", "--json", "-m", "o3", "hi"]);
        assert!(cli.demo);
        match cli.command {
            Some(Command::Ask(a)) => {
                assert!(a.json);
                assert_eq!(a.model.as_deref(), Some("o3"));
                assert_eq!(a.prompt.as_deref(), Some("hi"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
