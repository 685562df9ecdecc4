// Authenticated bearer tokens remembered by each API process (issue 12: the token lookup was
// the second of a POST claim's two round trips). What is remembered is identity only — the
// principal (id, name, role) a token's SHA-256 resolved to; membership and visibility are
// checked by each request's own statements, never cached.
//
// Why a revoked token cannot outlive its revocation here:
//   - every write that changes what a cached principal says (today only revokeLiveTokens:
//     users are never renamed, re-roled or removed) sends NOTIFY claimtrail_auth, '<user id>'
//     inside its own transaction, so the notification exists exactly if the change committed;
//   - each API process LISTENs on one dedicated connection (src/db/pg-listener.ts) and drops
//     that user's entries when the notification arrives; the revoking process also drops them
//     itself right after COMMIT, before it answers;
//   - the cache is used only while that connection is LISTENing: when it errors, ends or
//     misses a heartbeat, every entry is dropped and each request looks its token up again
//     until a new connection LISTENs. A notification can only be lost while no connection
//     listened, and then nothing was cached;
//   - a lookup that started before an invalidation is not stored (the epoch below): its row
//     may predate the revocation that the invalidation announced;
//   - whatever happens, an entry is used for at most AUTH_CACHE_SECONDS after its lookup.
// What this does not give: another process may still accept the token for the time the
// notification takes to reach it (Postgres signals every listener at COMMIT; milliseconds
// on a healthy server, see README "Operating it").
import type { Logger } from 'pino';
import type { Principal } from '../access/principal.ts';
import type { Config } from '../config/env.ts';
import { type ListenerHandlers, type PgListener, startListener } from '../db/pg-listener.ts';

/** The channel, and its payload: the id of the user whose cached principals are stale. */
export const AUTH_CHANNEL = 'claimtrail_auth';
/** Entries per process: ~200 bytes each, so ~2 MB at most. */
export const AUTH_CACHE_MAX_ENTRIES = 10_000;

/** Why entries were dropped: a notification, the revoking process itself, the listener lost. */
export type InvalidationSource = 'notification' | 'local' | 'listener';

export interface AuthCacheStats {
  /** Requests answered from memory. */
  hits: number;
  /** Requests that looked their token up while the cache was in use (absent or expired). */
  misses: number;
  /** Requests that looked their token up because the cache was not in use (off, or no listener). */
  bypasses: number;
  invalidations: Record<InvalidationSource, number>;
  entries: number;
  /** The cache is in use: AUTH_CACHE_SECONDS > 0 and the listener LISTENs. */
  inUse: boolean;
}

interface Entry {
  principal: Readonly<Principal>;
  expiresAt: number;
}

export interface AuthCacheOptions {
  /** 0: the cache is never used and no listener is opened. */
  ttlMs: number;
  maxEntries?: number;
  /** Opens the connection whose events drive the cache (start()). */
  listen?: (handlers: ListenerHandlers) => PgListener;
  now?: () => number;
}

export class AuthCache {
  /** Token SHA-256 (base64) → entry; Map order is recency: a hit moves its entry to the end,
   * and the first is evicted when full. */
  private readonly entries = new Map<string, Entry>();
  private readonly keysByUser = new Map<string, Set<string>>();
  /** Changes on every invalidation: a lookup stores its result only if it has not changed. */
  private epoch = 0;
  private listening = false;
  private listener: PgListener | undefined;
  private closed = false;
  private readonly counts = {
    hits: 0,
    misses: 0,
    bypasses: 0,
    invalidations: { notification: 0, local: 0, listener: 0 } as Record<InvalidationSource, number>,
  };
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(private readonly options: AuthCacheOptions) {
    this.ttlMs = options.ttlMs;
    this.maxEntries = options.maxEntries ?? AUTH_CACHE_MAX_ENTRIES;
    this.now = options.now ?? Date.now;
  }

  get inUse(): boolean {
    return this.ttlMs > 0 && this.listening;
  }

  /** Opens the listener (once; nothing when the cache is off). Until it LISTENs, every request
   * looks its token up. */
  start(): void {
    if (this.ttlMs === 0 || this.closed || this.listener || !this.options.listen) return;
    this.listener = this.options.listen({
      onListening: () => this.listenerUp(),
      onLost: () => this.listenerDown(),
      onNotification: (userId) => this.forgetUser(userId, 'notification'),
    });
  }

  /** Closes the listener for good (shutdown); the cache is then bypassed. */
  async close(): Promise<void> {
    this.closed = true;
    await this.listener?.close();
  }

  /** The listener's server process id, while it has a connection (tests). */
  get listenerPid(): number | undefined {
    return this.listener?.backendPid;
  }

  /**
   * The principal of the token with this SHA-256: from memory when the cache is in use and holds
   * it unexpired, else from `lookup` (stored when found and nothing was invalidated meanwhile).
   * Unknown tokens are never stored: a new token works at once, and guessing fills nothing.
   */
  async resolve(
    tokenHash: Buffer,
    lookup: () => Promise<Principal | undefined>,
  ): Promise<Readonly<Principal> | undefined> {
    if (!this.inUse) {
      this.counts.bypasses++;
      return lookup();
    }
    // A Map lookup is not constant-time, but its key is a SHA-256 of what the client sent:
    // timing could at most hint at hash prefixes of cached tokens, not at a token.
    const key = tokenHash.toString('base64');
    const started = this.now();
    const cached = this.entries.get(key);
    if (cached) {
      this.entries.delete(key);
      if (cached.expiresAt > started) {
        this.entries.set(key, cached);
        this.counts.hits++;
        return cached.principal;
      }
      this.unindex(key, cached.principal.id);
    }
    this.counts.misses++;
    const epoch = this.epoch;
    const found = await lookup();
    if (found && this.inUse && epoch === this.epoch) this.store(key, found, started + this.ttlMs);
    return found;
  }

  /** Drops every entry of the user (their tokens were revoked). */
  forgetUser(userId: string, source: InvalidationSource): void {
    this.epoch++;
    this.counts.invalidations[source]++;
    const keys = this.keysByUser.get(userId);
    if (!keys) return;
    for (const key of keys) this.entries.delete(key);
    this.keysByUser.delete(userId);
  }

  /** The listener LISTENs: entries may be kept from now on. */
  listenerUp(): void {
    this.listening = true;
  }

  /** The listener stopped: notifications may be lost from now on, so nothing cached is trusted. */
  listenerDown(): void {
    if (this.listening) this.counts.invalidations.listener++;
    this.listening = false;
    this.epoch++;
    this.entries.clear();
    this.keysByUser.clear();
  }

  stats(): AuthCacheStats {
    return {
      hits: this.counts.hits,
      misses: this.counts.misses,
      bypasses: this.counts.bypasses,
      invalidations: { ...this.counts.invalidations },
      entries: this.entries.size,
      inUse: this.inUse,
    };
  }

  private store(key: string, principal: Principal, expiresAt: number): void {
    this.entries.delete(key); // two concurrent lookups of one token: the later one stays
    if (this.entries.size >= this.maxEntries) {
      const [oldest, entry] = this.entries.entries().next().value as [string, Entry];
      this.entries.delete(oldest);
      this.unindex(oldest, entry.principal.id);
    }
    const frozen = Object.freeze({ id: principal.id, name: principal.name, role: principal.role });
    this.entries.set(key, { principal: frozen, expiresAt });
    const keys = this.keysByUser.get(principal.id);
    if (keys) keys.add(key);
    else this.keysByUser.set(principal.id, new Set([key]));
  }

  private unindex(key: string, userId: string): void {
    const keys = this.keysByUser.get(userId);
    keys?.delete(key);
    if (keys?.size === 0) this.keysByUser.delete(userId);
  }
}

/** The process's cache, its listener on DATABASE_URL (opened by start(), from createApp). */
export function createAuthCache(config: Pick<Config, 'AUTH_CACHE_SECONDS' | 'DATABASE_URL'>, log: Logger) {
  return new AuthCache({
    ttlMs: config.AUTH_CACHE_SECONDS * 1000,
    listen: (handlers) =>
      startListener(
        { url: config.DATABASE_URL, channel: AUTH_CHANNEL, log, applicationName: 'claimtrail auth listener' },
        handlers,
      ),
  });
}
