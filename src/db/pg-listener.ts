// One dedicated connection LISTENing on one channel (never a pool client: a pooled connection
// is handed to other work and its LISTEN would end with it). It says when it is listening and
// when it stops, so whoever relies on its notifications can stop relying on them: a
// notification sent while no connection listened is lost for good. It reconnects with backoff,
// and a heartbeat notices a connection that died without a word (a network partition sends no
// FIN), which TCP keepalive alone would take minutes to report.
import pg from 'pg';
import type { Logger } from 'pino';

export interface ListenerHandlers {
  /** LISTEN has completed on a new connection: every notification committed from now on arrives. */
  onListening(): void;
  /** The connection failed, ended or stopped answering (or close() was called): notifications
   * committed since may never arrive. */
  onLost(reason: string): void;
  onNotification(payload: string): void;
}

export interface ListenerOptions {
  url: string;
  channel: string;
  log: Logger;
  /** Shown in pg_stat_activity, unless PGAPPNAME names the process's sessions. */
  applicationName: string;
  /** A `SELECT 1` this often; no answer within the same time ends the connection. */
  heartbeatMs?: number;
  /** First reconnect delay, doubled per failed attempt up to maxRetryMs (±50 % jitter). */
  firstRetryMs?: number;
  maxRetryMs?: number;
}

export interface PgListener {
  readonly listening: boolean;
  /** The server process of the current connection (tests terminate it to simulate a loss). */
  readonly backendPid: number | undefined;
  /** Ends the connection and stops reconnecting. */
  close(): Promise<void>;
}

export function startListener(options: ListenerOptions, handlers: ListenerHandlers): PgListener {
  const { url, channel, log, applicationName } = options;
  const heartbeatMs = options.heartbeatMs ?? 5_000;
  const firstRetryMs = options.firstRetryMs ?? 100;
  const maxRetryMs = options.maxRetryMs ?? 10_000;
  let client: pg.Client | undefined;
  let ended: Promise<void> = Promise.resolve();
  let listening = false;
  let closed = false;
  let failures = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let heartbeat: NodeJS.Timeout | undefined;

  /** Drops `c` (once, whichever of error, end or heartbeat comes first) and schedules a new one. */
  const lose = (c: pg.Client, reason: string) => {
    if (c !== client) return;
    client = undefined;
    clearInterval(heartbeat);
    const wasListening = listening;
    listening = false;
    ended = c.end().catch(() => undefined); // with a query in flight pg destroys the socket
    handlers.onLost(reason);
    if (closed) return;
    if (wasListening || failures === 0) log.warn({ channel, reason }, 'LISTEN connection lost; reconnecting');
    const delay = Math.min(maxRetryMs, firstRetryMs * 2 ** failures) * (0.5 + Math.random() / 2);
    failures++;
    retryTimer = setTimeout(connect, delay);
    retryTimer.unref();
  };

  /** One `SELECT 1` at a time; no answer within heartbeatMs loses the connection. */
  const heartbeatOf = (c: pg.Client) => {
    let inFlight = false;
    return () => {
      if (inFlight) return;
      inFlight = true;
      const timer = setTimeout(
        () => lose(c, `no answer to a heartbeat within ${heartbeatMs} ms`),
        heartbeatMs,
      );
      timer.unref();
      c.query('SELECT 1')
        .catch((err: Error) => lose(c, err.message))
        .finally(() => {
          clearTimeout(timer);
          inFlight = false;
        });
    };
  };

  const connect = () => {
    if (closed) return;
    const c = new pg.Client({
      connectionString: url,
      fallback_application_name: applicationName,
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    client = c;
    c.on('error', (err) => lose(c, err.message));
    c.on('end', () => lose(c, 'connection ended'));
    c.on('notification', (n) => {
      // Also before onListening: acting on a notification is always safe.
      if (c === client && n.channel === channel) handlers.onNotification(n.payload ?? '');
    });
    c.connect()
      .then(() => c.query(`LISTEN ${c.escapeIdentifier(channel)}`))
      .then(() => {
        if (c !== client) return; // lost or closed meanwhile
        if (failures > 0) log.info({ channel, attempts: failures }, 'LISTEN connection restored');
        failures = 0;
        listening = true;
        heartbeat = setInterval(heartbeatOf(c), heartbeatMs);
        heartbeat.unref();
        handlers.onListening();
      })
      .catch((err: Error) => lose(c, err.message));
  };

  connect();
  return {
    get listening() {
      return listening;
    },
    get backendPid() {
      return (client as { processID?: number | null } | undefined)?.processID ?? undefined;
    },
    async close() {
      closed = true;
      clearTimeout(retryTimer);
      if (client) lose(client, 'closed');
      await ended;
    },
  };
}
