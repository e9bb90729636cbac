//! The words the ledger stores for a request's cost and a message's author, as types: each
//! compared and spelled only here (and in the ledger's own SQL). Stored as text; read back
//! leniently, so a row from an older or newer version never makes history unreadable.
//! Pure data: must not import `core` or `tui`.

use rusqlite::types::{FromSql, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use super::money_ops::Status;

/// Where a request's cost comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostSource {
    /// The usage chunk of the stream: the provider's bill.
    Provider,
    /// Read afterwards from OpenRouter's `/generation`: the bill too.
    Generation,
    /// Counted from the streamed text at catalog prices, until a bill replaces it.
    Estimate,
    /// The reservation held while a bill is awaited (hidden reasoning may be billed).
    WorstCase,
    /// The reservation, kept for a request no bill will ever come for.
    Reservation,
}

impl CostSource {
    pub const ALL: [CostSource; 5] = [
        CostSource::Provider,
        CostSource::Generation,
        CostSource::Estimate,
        CostSource::WorstCase,
        CostSource::Reservation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Provider => "provider",
            CostSource::Generation => "generation",
            CostSource::Estimate => "estimate",
            CostSource::WorstCase => "worst_case",
            CostSource::Reservation => "reservation",
        }
    }

    /// The stored word; anything else reads as an estimate (not a bill).
    pub fn parse(s: &str) -> CostSource {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .unwrap_or(CostSource::Estimate)
    }

    /// The cost is what the provider billed.
    pub fn is_bill(self) -> bool {
        matches!(self, CostSource::Provider | CostSource::Generation)
    }

    /// Not (yet) a bill: shown with a "~" or "(estimated)".
    pub fn is_estimate(self) -> bool {
        !self.is_bill()
    }
}

/// Where a request is in its life, as stored: open (its money held), orphaned (its process
/// died before settling), or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    Open,
    Orphaned,
    Ended(Status),
}

impl RequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Open => "open",
            RequestStatus::Orphaned => "orphaned",
            RequestStatus::Ended(s) => s.as_str(),
        }
    }

    /// The stored word; an unknown one reads as an ended request that failed.
    pub fn parse(s: &str) -> RequestStatus {
        match s {
            "open" => RequestStatus::Open,
            "orphaned" => RequestStatus::Orphaned,
            _ => RequestStatus::Ended(
                Status::ALL
                    .into_iter()
                    .find(|x| x.as_str() == s)
                    .unwrap_or(Status::Error),
            ),
        }
    }

    /// Ended (its cost settled), whichever way.
    pub fn is_settled(self) -> bool {
        matches!(self, RequestStatus::Ended(_))
    }

    /// Ended with a complete answer.
    pub fn is_ok(self) -> bool {
        self == RequestStatus::Ended(Status::Ok)
    }
}

/// Written as its stored word.
impl serde::Serialize for RequestStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Who wrote a stored message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    User,
    Assistant,
    System,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::System => "system",
        }
    }

    /// The stored word; anything unknown is read as the assistant's (never as the user's
    /// own words).
    pub fn parse(s: &str) -> Role {
        match s {
            "user" => Role::User,
            "system" => Role::System,
            _ => Role::Assistant,
        }
    }
}

macro_rules! stored_as_text {
    ($t:ty) => {
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }
        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                value.as_str().map(<$t>::parse)
            }
        }
    };
}

stored_as_text!(CostSource);
stored_as_text!(Role);
stored_as_text!(RequestStatus);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_as_itself_and_unknown_ones_are_not_bills() {
        for c in CostSource::ALL {
            assert_eq!(CostSource::parse(c.as_str()), c);
        }
        assert_eq!(CostSource::parse("from-the-future"), CostSource::Estimate);
        assert!(CostSource::Generation.is_bill() && !CostSource::WorstCase.is_bill());
        for r in [Role::User, Role::Assistant, Role::System] {
            assert_eq!(Role::parse(r.as_str()), r);
        }
        assert_eq!(Role::parse("tool"), Role::Assistant);
        for s in [RequestStatus::Open, RequestStatus::Orphaned]
            .into_iter()
            .chain(Status::ALL.map(RequestStatus::Ended))
        {
            assert_eq!(RequestStatus::parse(s.as_str()), s);
        }
        assert_eq!(
            RequestStatus::parse("exploded"),
            RequestStatus::Ended(Status::Error)
        );
        assert!(RequestStatus::parse("ok").is_ok() && !RequestStatus::parse("cut").is_ok());
    }

    #[test]
    fn stored_and_read_through_sqlite() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        db.execute_batch("CREATE TABLE t (c TEXT, r TEXT)").unwrap();
        db.execute(
            "INSERT INTO t VALUES (?1, ?2)",
            (CostSource::WorstCase, Role::User),
        )
        .unwrap();
        let raw: (String, String) = db
            .query_row("SELECT c, r FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(raw, ("worst_case".into(), "user".into()));
        let typed: (CostSource, Role) = db
            .query_row("SELECT c, r FROM t", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        assert_eq!(typed, (CostSource::WorstCase, Role::User));
    }
}
