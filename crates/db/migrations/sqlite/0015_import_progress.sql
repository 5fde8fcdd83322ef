-- Import progress lives in the database, so every node shows how far an import has got, not
-- only the node running it. The running import writes, from a connection of its own (its
-- transaction is not visible until it commits): the rows written and the rows to write, and
-- when it last reported (`progress_at`, also a heartbeat while it waits for its turn or reads
-- the file). A running job whose last report (or start) is older than half an hour was left by
-- a stopped node.
ALTER TABLE import_job ADD COLUMN rows_done INTEGER;
ALTER TABLE import_job ADD COLUMN rows_to_write INTEGER;
ALTER TABLE import_job ADD COLUMN progress_at INTEGER;
-- (On SQLite the import's transaction holds the database's only write lock: the rows are
-- reported only on PostgreSQL, the heartbeat before the transaction on both.)
