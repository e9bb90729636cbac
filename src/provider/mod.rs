//! OpenRouter (and any OpenAI-compatible endpoint): HTTP requests and SSE streams.
//!
//! Owns the wire protocol only. Knows nothing of routing, budgets, the ledger or the
//! terminal: must not import `router`, `ledger`, `tui`, `ratatui`, `crossterm` or `syntect`.

mod client;
mod completion;
mod error;
mod keys;
pub mod sse;
mod types;

pub use client::{
    APP_REFERER, APP_TITLE, ChatStream, GenerationInfo, KeyInfo, OpenRouterClient,
    install_crypto_provider,
};
pub use completion::{Completion, Failed, Pump, StreamEnd, StreamLimits, collect, slack};
pub use error::{ErrorKind, ProviderError, TimeoutPhase, parse_retry_after};
pub use keys::{CreatedKey, KeyChange, ManagedKey};
pub use types::{
    ChatRequest, ListedModel, ListedPricing, MaxPrice, Message, Role, StreamEvent, Usage,
};
