// Gauges of the pipeline behind the API, read from Postgres at scrape time (the workers and
// the sequencer serve no /metrics of their own; what they did is in the database): how far the
// sequencer is behind, how old the latest signed checkpoint is, and how long captures took.
import type pg from 'pg';
import { Gauge, type Registry } from 'prom-client';

interface Snapshot {
  pending: number;
  oldestPendingSeconds: number | null;
  checkpointAgeSeconds: number | null;
  captureP50: number | null;
  captureP95: number | null;
  capturesFinished: number;
}

/** Captures that ended this long ago or less make up the latency gauge. */
const CAPTURE_WINDOW = '15 minutes';

const SNAPSHOT_SQL = `
  SELECT
    (SELECT count(*) FROM log_pending)::int AS pending,
    (SELECT extract(epoch FROM now() - created_at) FROM ledger_events
      WHERE id = (SELECT min(event_id) FROM log_pending))::float8 AS "oldestPendingSeconds",
    (SELECT extract(epoch FROM now() - created_at) FROM log_checkpoints
      ORDER BY size DESC LIMIT 1)::float8 AS "checkpointAgeSeconds",
    c.p[1] AS "captureP50", c.p[2] AS "captureP95", c.n AS "capturesFinished"
  FROM (
    SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - requested_at)) AS p,
           count(*)::int AS n
    FROM captures WHERE finished_at > now() - interval '${CAPTURE_WINDOW}' AND status = 'completed'
  ) c`;

export function registerPipelineGauges(registry: Registry, pool: Pick<pg.Pool, 'query'>): void {
  // One query per scrape, shared by the gauges (each one's collect() asks for it).
  let taken: { at: number; snapshot: Promise<Snapshot | undefined> } | undefined;
  const snapshot = () => {
    if (!taken || Date.now() - taken.at > 1_000) {
      taken = {
        at: Date.now(),
        // Postgres being down must not fail the whole scrape: these gauges are simply absent.
        snapshot: pool.query<Snapshot>(SNAPSHOT_SQL).then(
          (r) => r.rows[0],
          () => undefined,
        ),
      };
    }
    return taken.snapshot;
  };
  const gauge = (
    name: string,
    help: string,
    value: (s: Snapshot) => number | null,
    labelNames: string[] = [],
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        const s = await snapshot();
        const v = s && value(s);
        if (v !== undefined && v !== null) this.set(v);
      },
    });
  gauge(
    'claimtrail_log_pending_events',
    'Ledger events appended but not yet in the Merkle log',
    (s) => s.pending,
  );
  gauge(
    'claimtrail_log_pending_oldest_seconds',
    'Age of the oldest event waiting for the sequencer (sequencer lag; absent when none waits)',
    (s) => s.oldestPendingSeconds,
  );
  gauge(
    'claimtrail_log_checkpoint_age_seconds',
    'Age of the latest signed checkpoint (grows while nothing is appended)',
    (s) => s.checkpointAgeSeconds,
  );
  new Gauge({
    name: 'claimtrail_capture_latency_seconds',
    help: `Request-to-completion time of captures completed in the last ${CAPTURE_WINDOW}, by quantile`,
    labelNames: ['quantile'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const s = await snapshot();
      if (s?.captureP50 != null) this.set({ quantile: '0.5' }, s.captureP50);
      if (s?.captureP95 != null) this.set({ quantile: '0.95' }, s.captureP95);
    },
  });
  gauge(
    'claimtrail_captures_completed_recent',
    `Captures completed in the last ${CAPTURE_WINDOW}`,
    (s) => s.capturesFinished,
  );
}
