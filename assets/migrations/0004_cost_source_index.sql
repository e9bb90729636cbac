-- Version 4: the requests whose cost is still an estimate or a worst case are looked up at
-- every start (to reconcile them with the provider's bill); without an index that read the
-- whole table (a 100,000-request ledger: ~150 ms of every `ask`).
CREATE INDEX requests_cost_source ON requests(cost_source, id);
