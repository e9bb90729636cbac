//! Conversations and their messages, so a conversation can be resumed.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Ledger, LedgerError};

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredMessage {
    pub role: String,
    pub content: String,
    pub request_id: Option<i64>,
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
    pub fn new_conversation(&mut self, title: &str, now_ms: i64) -> Result<i64, LedgerError> {
        let title: String = title.chars().take(80).collect();
        self.conn
            .execute(
                "INSERT INTO conversations (title, created_ms, updated_ms) VALUES (?1, ?2, ?2)",
                params![title, now_ms],
            )
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn add_message(
        &mut self,
        conversation_id: i64,
        role: &str,
        content: &str,
        request_id: Option<i64>,
        now_ms: i64,
    ) -> Result<(), LedgerError> {
        let path = self.path.clone();
        let sql = |e| LedgerError::from_sql(&path, e);
        let tx = self.conn.transaction().map_err(sql)?;
        tx.execute(
            "INSERT INTO messages (conversation_id, role, content, request_id, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![conversation_id, role, content, request_id, now_ms],
        )
        .map_err(sql)?;
        tx.execute(
            "UPDATE conversations SET updated_ms = ?2 WHERE id = ?1",
            params![conversation_id, now_ms],
        )
        .map_err(sql)?;
        tx.commit().map_err(sql)
    }

    pub fn messages(&self, conversation_id: i64) -> Result<Vec<StoredMessage>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT role, content, request_id FROM messages
                 WHERE conversation_id = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([conversation_id], |r| {
                Ok(StoredMessage {
                    role: r.get(0)?,
                    content: r.get(1)?,
                    request_id: r.get(2)?,
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
}
