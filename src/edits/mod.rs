//! Edits the model proposes to the user's files, and what the user does with them: parsed
//! from an answer (search/replace blocks), previewed as a unified diff, applied atomically
//! only when the user says so, and undone. Owns the edit format and the undo log. Must not
//! import `tui`, `core`, `provider` or `ledger`: the front ends hand it text and paths.
//!
//! The format is aider's search/replace block: aider's published edit-format results found
//! it the most reliable for most models (a whole-file rewrite costs every token of the file;
//! unified diffs are misnumbered by models far more often), and a block that does not match
//! the file exactly is refused, never half-applied.

mod apply;
pub mod git;
mod parse;

pub use apply::{Applied, EditError, Proposal, UndoLog, Workspace};
pub use parse::{Block, Parsed, ends_block, parse};

/// What the model is told when files are attached (appended to the system prompt).
pub const EDIT_FORMAT: &str = "\n\nWhen you change an attached file, give each change as a \
search/replace block: the file's path on its own line, then a fenced block holding\n\
<<<<<<< SEARCH\n(the exact lines to replace, copied from the file)\n=======\n(the new lines)\n\
>>>>>>> REPLACE\nThe SEARCH part must match the file exactly, once; keep it short but unique. \
To create a file, leave SEARCH empty. The user reviews each block before it is applied.";
