-- CodeForge ledger, version 1: requests, conversations, feedback, settings, day totals.
CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL
);

CREATE TABLE requests (
    id                INTEGER PRIMARY KEY,
    created_ms        INTEGER NOT NULL,
    day               TEXT NOT NULL,      -- local day of the reservation, YYYY-MM-DD
    month             TEXT NOT NULL,      -- YYYY-MM
    conversation_id   INTEGER REFERENCES conversations(id),
    requested_model   TEXT NOT NULL,
    served_model      TEXT,
    routed_by         TEXT NOT NULL,
    intent            TEXT,
    complexity        TEXT,
    decision_json     TEXT,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens  INTEGER NOT NULL DEFAULT 0,
    cached_tokens     INTEGER NOT NULL DEFAULT 0,
    max_tokens        INTEGER NOT NULL,
    reserved_nanos    INTEGER NOT NULL,   -- worst case held while open
    cost_nanos        INTEGER,            -- settled cost
    cost_source       TEXT,               -- provider | estimate | generation | reservation
    ttft_ms           INTEGER,
    latency_ms        INTEGER,
    status            TEXT NOT NULL,      -- open | ok | error | cancelled | cut | orphaned
    error_kind        TEXT,
    generation_id     TEXT,
    owner_pid         INTEGER NOT NULL,
    owner_start_ms    INTEGER NOT NULL,
    settled_ms        INTEGER
);
CREATE INDEX requests_day ON requests(day);
CREATE INDEX requests_open ON requests(status) WHERE status IN ('open', 'orphaned');

CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    role             TEXT NOT NULL,
    content          TEXT NOT NULL,
    request_id       INTEGER REFERENCES requests(id),
    created_ms       INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, id);

CREATE TABLE feedback (
    request_id  INTEGER PRIMARY KEY REFERENCES requests(id),
    rating      INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    created_ms  INTEGER NOT NULL
);

CREATE TABLE settings (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- Running totals per local day, kept in the same transaction as every reserve and settle,
-- so today's spend and the month's are O(days), not O(requests).
CREATE TABLE daily_totals (
    day              TEXT PRIMARY KEY,
    month            TEXT NOT NULL,
    committed_nanos  INTEGER NOT NULL DEFAULT 0,
    reserved_nanos   INTEGER NOT NULL DEFAULT 0,
    requests         INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX daily_totals_month ON daily_totals(month);
