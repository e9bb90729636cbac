-- Version 2: per-model day totals (sidebar and budget shares) and the price cache.
CREATE TABLE daily_model_totals (
    day              TEXT NOT NULL,
    model            TEXT NOT NULL,
    committed_nanos  INTEGER NOT NULL DEFAULT 0,
    reserved_nanos   INTEGER NOT NULL DEFAULT 0,
    requests         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, model)
);

INSERT INTO daily_model_totals (day, model, committed_nanos, reserved_nanos, requests)
SELECT day, requested_model,
       COALESCE(SUM(cost_nanos), 0),
       COALESCE(SUM(CASE WHEN status IN ('open', 'orphaned') THEN reserved_nanos ELSE 0 END), 0),
       COUNT(*)
FROM requests GROUP BY day, requested_model;

CREATE TABLE price_cache (
    model             TEXT PRIMARY KEY,
    prompt_price      REAL NOT NULL,
    completion_price  REAL NOT NULL,
    context_length    INTEGER,
    fetched_ms        INTEGER NOT NULL
);
