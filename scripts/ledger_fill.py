#!/usr/bin/env python3
"""Grow a real CodeForge ledger to N requests, as a year of use would: for benchmarks of
start-up and `ask` against a large history (scripts/bench.sh).

The ledger must already exist and hold at least one settled request with its messages (run
one `codeforge ask` against it first): every added request copies that one's decision and
its exchange, with the model, intent, status and day varied over the 365 days before today,
one conversation per 4 requests, and the day totals rebuilt from the rows as the ledger keeps
them. Usage: scripts/ledger_fill.py LEDGER.db N
"""

import datetime
import sqlite3
import sys

MODELS = ["x-ai/grok-4", "anthropic/claude-sonnet-4", "moonshotai/kimi-k2",
          "google/gemini-2.5-flash", "openai/o3"]
INTENTS = ["code", "debug", "explain", "general", "math", "design"]
# Mostly answered; some failed, cancelled or cut, as real use has.
STATUSES = ["ok"] * 17 + ["error", "cancelled", "cut"]


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    seed = db.execute(
        "SELECT id, decision_json, prompt_tokens, completion_tokens, max_tokens, cost_nanos "
        "FROM requests WHERE status = 'ok' ORDER BY id LIMIT 1").fetchone()
    if seed is None:
        sys.exit("ledger_fill: the ledger has no settled request to copy; run one `ask` first")
    seed_id, decision, ptoks, ctoks, max_tokens, cost = seed
    msgs = db.execute("SELECT role, content FROM messages WHERE request_id = ? OR "
                      "conversation_id = (SELECT conversation_id FROM requests WHERE id = ?) "
                      "ORDER BY id", (seed_id, seed_id)).fetchall()
    # A realistic exchange is longer than a demo's "hello": pad to ~1.5 KB a message.
    msgs = [(r, (c + "\n") * max(1, 1500 // max(1, len(c) + 1))) for r, c in msgs]
    have = db.execute("SELECT COUNT(*) FROM requests").fetchone()[0]
    today = datetime.date.today()
    now_ms = int(datetime.datetime.now().timestamp() * 1000)
    db.execute("BEGIN")
    conv = None
    for i in range(have, n):
        back = 1 + (i % 365)  # never today: today's spend stays what the benchmark makes it
        day = today - datetime.timedelta(days=back)
        created = now_ms - back * 86_400_000 + i % 86_400_000
        if conv is None or i % 4 == 0:
            conv = db.execute(
                "INSERT INTO conversations (title, created_ms, updated_ms) VALUES (?, ?, ?)",
                (f"conversation {i // 4}", created, created)).lastrowid
        status = STATUSES[i % len(STATUSES)]
        settled = status == "ok"
        rid = db.execute(
            "INSERT INTO requests (created_ms, day, month, conversation_id, requested_model, "
            "served_model, routed_by, intent, complexity, decision_json, prompt_tokens, "
            "completion_tokens, max_tokens, reserved_nanos, cost_nanos, cost_source, ttft_ms, "
            "latency_ms, status, owner_pid, owner_start_ms, settled_ms, baseline_nanos) "
            "VALUES (?, ?, ?, ?, ?, ?, 'auto', ?, 'medium', ?, ?, ?, ?, 0, ?, 'provider', ?, ?, "
            "?, 1, 1, ?, ?)",
            (created, day.isoformat(), day.strftime("%Y-%m"), conv, MODELS[i % 5],
             MODELS[i % 5], INTENTS[i % 6], decision, ptoks, ctoks, max_tokens,
             cost if settled else 0, 200 + i % 900, 900 + i % 9000, status, created + 900,
             (cost or 0) * 3)).lastrowid
        for role, content in msgs:
            db.execute("INSERT INTO messages (conversation_id, role, content, request_id, "
                       "created_ms) VALUES (?, ?, ?, ?, ?)", (conv, role, content, rid, created))
    today_s = today.isoformat()
    db.execute("DELETE FROM daily_totals WHERE day <> ?", (today_s,))
    db.execute("DELETE FROM daily_model_totals WHERE day <> ?", (today_s,))
    db.execute(
        "INSERT INTO daily_totals (day, month, committed_nanos, reserved_nanos, requests, "
        "baseline_nanos) SELECT day, month, SUM(COALESCE(cost_nanos, 0)), 0, COUNT(*), "
        "SUM(baseline_nanos) FROM requests WHERE day <> ? GROUP BY day", (today_s,))
    db.execute(
        "INSERT INTO daily_model_totals (day, model, committed_nanos, reserved_nanos, requests) "
        "SELECT day, requested_model, SUM(COALESCE(cost_nanos, 0)), 0, COUNT(*) FROM requests "
        "WHERE day <> ? GROUP BY day, requested_model", (today_s,))
    db.execute("COMMIT")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    print(db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


if __name__ == "__main__":
    main()
