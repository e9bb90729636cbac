-- Version 3: what each request would have cost on the baseline model, kept with the day
-- totals so "saved today" is O(1).
ALTER TABLE requests ADD COLUMN baseline_nanos INTEGER NOT NULL DEFAULT 0;
ALTER TABLE daily_totals ADD COLUMN baseline_nanos INTEGER NOT NULL DEFAULT 0;
