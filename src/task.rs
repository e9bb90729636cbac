//! The shared vocabulary of task types: intents and complexity.
//!
//! Plain data used by the catalog (model strengths), the router and the ledger.
//! Must not import any other CodeForge module.

use serde::{Deserialize, Serialize};

/// What a prompt asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Intent {
    /// Write, refactor, document or test code.
    Code,
    /// Errors, stack traces, failing tests, wrong behaviour.
    Debug,
    /// Explain code or a concept.
    Explain,
    /// Architecture, system design, trade-offs, multi-step reasoning.
    Reasoning,
    /// Math, proofs, algorithm complexity and optimisation.
    Math,
    /// Everything else: chat, writing, quick facts.
    General,
}

impl Intent {
    pub const ALL: [Intent; 6] = [
        Intent::Code,
        Intent::Debug,
        Intent::Explain,
        Intent::Reasoning,
        Intent::Math,
        Intent::General,
    ];

    /// Position in [`Intent::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Code => "code",
            Intent::Debug => "debug",
            Intent::Explain => "explain",
            Intent::Reasoning => "reasoning",
            Intent::Math => "math",
            Intent::General => "general",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

impl std::fmt::Display for Intent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How hard a prompt looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Complexity {
    Simple,
    Medium,
    High,
}

impl Complexity {
    pub fn as_str(self) -> &'static str {
        match self {
            Complexity::Simple => "simple",
            Complexity::Medium => "medium",
            Complexity::High => "high",
        }
    }
}

impl std::fmt::Display for Complexity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
