-- /metrics reads the latency of captures completed in the last minutes at every scrape
-- (src/http/pipeline-metrics.ts): without an index that is a scan of every capture ever made.
CREATE INDEX "captures_finished_at_idx" ON "captures"("finished_at");
