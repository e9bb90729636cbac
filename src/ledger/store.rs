//! Conversations and their messages, so a conversation can be resumed.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Ledger, LedgerError};

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMessage {
    pub role: super::Role,
    /// Shared with whatever takes it up (a resumed history, the transcript), not copied.
    pub content: std::sync::Arc<str>,
    pub request_id: Option<i64>,
    /// For an answer: how its request went, to show its route card again.
    pub request: Option<StoredRequest>,
}

/// What the ledger holds about the request behind an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredRequest {
    pub requested_model: String,
    pub served_model: Option<String>,
    pub decision_json: Option<String>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub reasoning_tokens: i64,
    pub cached_tokens: i64,
    pub cost_nanos: Option<i64>,
    pub cost_source: Option<super::CostSource>,
    pub ttft_ms: Option<i64>,
    pub latency_ms: Option<i64>,
    pub status: super::RequestStatus,
    pub generation_id: Option<String>,
}

/// A conversation in the list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationSummary {
    pub id: i64,
    pub title: String,
    pub updated_ms: i64,
    pub messages: i64,
}

impl Ledger {
    /// One exchange, in one transaction: the conversation (created, titled by the prompt,
    /// when `conversation_id` is `None`), the prompt and the answer of request
    /// `request_id`. All of it is kept, or none. Returns the conversation's id.
    pub fn record_exchange(
        &mut self,
        conversation_id: Option<i64>,
        prompt: &str,
        answer: &str,
        request_id: i64,
        now_ms: i64,
    ) -> Result<i64, LedgerError> {
        let path = self.path.clone();
        let sql = |e| LedgerError::from_sql(&path, e);
        // IMMEDIATE: a deferred transaction that reads then writes gets SQLITE_BUSY at once
        // (no busy wait) when another process wrote in between.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sql)?;
        let id = match conversation_id {
            Some(id) => id,
            None => {
                let title: String = prompt.chars().take(80).collect();
                tx.execute(
                    "INSERT INTO conversations (title, created_ms, updated_ms) VALUES (?1, ?2, ?2)",
                    params![title, now_ms],
                )
                .map_err(sql)?;
                tx.last_insert_rowid()
            }
        };
        for (role, content, request) in [
            ("user", prompt, None),
            ("assistant", answer, Some(request_id)),
        ] {
            tx.execute(
                "INSERT INTO messages (conversation_id, role, content, request_id, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id, role, content, request, now_ms],
            )
            .map_err(sql)?;
        }
        tx.execute(
            "UPDATE conversations SET updated_ms = ?2 WHERE id = ?1",
            params![id, now_ms],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)?;
        Ok(id)
    }

    pub fn messages(&self, conversation_id: i64) -> Result<Vec<StoredMessage>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.role, m.content, m.request_id, r.id, r.requested_model,
                        r.served_model, r.decision_json, r.prompt_tokens, r.completion_tokens,
                        r.reasoning_tokens, r.cached_tokens, r.cost_nanos, r.cost_source,
                        r.ttft_ms, r.latency_ms, r.status, r.generation_id
                 FROM messages m LEFT JOIN requests r ON r.id = m.request_id
                 WHERE m.conversation_id = ?1 ORDER BY m.id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([conversation_id], |r| {
                let found: Option<i64> = r.get(3)?;
                let request = match found {
                    Some(_) => Some(StoredRequest {
                        requested_model: r.get(4)?,
                        served_model: r.get(5)?,
                        decision_json: r.get(6)?,
                        prompt_tokens: r.get(7)?,
                        completion_tokens: r.get(8)?,
                        reasoning_tokens: r.get(9)?,
                        cached_tokens: r.get(10)?,
                        cost_nanos: r.get(11)?,
                        cost_source: r.get(12)?,
                        ttft_ms: r.get(13)?,
                        latency_ms: r.get(14)?,
                        status: r.get(15)?,
                        generation_id: r.get(16)?,
                    }),
                    None => None,
                };
                Ok(StoredMessage {
                    role: r.get(0)?,
                    content: r.get(1)?,
                    request_id: r.get(2)?,
                    request,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>();
        rows.map_err(|e| self.err(e))
    }

    /// Most recently updated first.
    pub fn conversations(&self, limit: usize) -> Result<Vec<ConversationSummary>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.id, c.title, c.updated_ms,
                        (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id)
                 FROM conversations c ORDER BY c.updated_ms DESC, c.id DESC LIMIT ?1",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(ConversationSummary {
                    id: r.get(0)?,
                    title: r.get(1)?,
                    updated_ms: r.get(2)?,
                    messages: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?
            .collect::<Result<Vec<_>, _>>();
        rows.map_err(|e| self.err(e))
    }

    pub fn last_conversation(&self) -> Result<Option<i64>, LedgerError> {
        self.conn
            .query_row(
                "SELECT id FROM conversations ORDER BY updated_ms DESC, id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// A conversation's title, `None` if there is no such conversation.
    pub fn conversation_title(&self, id: i64) -> Result<Option<String>, LedgerError> {
        self.conn
            .query_row("SELECT title FROM conversations WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Conversation `id` (the last one when `None`) as Markdown, or `None` if there is none.
    pub fn export(&self, id: Option<i64>) -> Result<Option<(i64, String)>, LedgerError> {
        let Some(id) = (match id {
            Some(id) => Some(id),
            None => self.last_conversation()?,
        }) else {
            return Ok(None);
        };
        let Some(title) = self.conversation_title(id)? else {
            return Ok(None);
        };
        let messages = self.messages(id)?;
        Ok(Some((id, crate::export::markdown(id, &title, &messages))))
    }
}
