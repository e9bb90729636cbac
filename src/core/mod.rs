//! The core: drives a turn (route → reserve → stream → settle → record) and talks to any
//! front end only through [`protocol::Event`]s.
//!
//! Must not import `tui`, `ratatui`, `crossterm` or `syntect`.

mod attempt;
mod driver;
mod ledger_handle;
pub mod prices;
pub mod protocol;
mod session;
mod turn;

pub use driver::{SYNC_EVERY, drive, recovery_notice};
pub use ledger_handle::LedgerHandle;
pub use protocol::{BudgetSnapshot, Event, LoadedMessage, Op, Overhead, TurnId, TurnOutcome};
pub use session::{
    Conversation, CoreError, DAILY_LIMIT_KEY, MONTHLY_LIMIT_KEY, Recovery, Session, learned_state,
    resolve_limits, share_key,
};
pub use turn::{Choice, EMERGENCY_MODEL, SYSTEM_PROMPT, fit_history, tokens_besides_prompt};
