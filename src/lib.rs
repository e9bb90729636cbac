//! CodeForge: a terminal coding assistant whose multi-model router shows which model
//! answers and why, with every request in a local ledger and a hard daily budget.
//!
//! Layers, bottom up: `task`, `money`, `catalog`, `config` (plain data); `router` (pure
//! decisions, no IO); `provider` (OpenRouter HTTP + SSE); `simulator` (the loopback
//! OpenRouter double); `backend` (which endpoint); `commands` (the CLI surface).

pub mod attach;
pub mod backend;
pub mod budget;
pub mod calendar;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod core;
pub mod edits;
pub mod eval;
pub mod export;
pub mod instructions;
pub mod ledger;
pub mod money;
pub mod project_files;
pub mod provider;
pub mod router;
pub mod sanitize;
pub mod shell;
pub mod simulator;
pub mod task;
pub mod tokens;
pub mod tui;
