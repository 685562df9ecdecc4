// The token cache's counters on /metrics (src/users/auth-cache.ts), read at scrape time from
// the process's own cache: each API process reports its own.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuthCache } from '../users/auth-cache.ts';

export function registerAuthCacheMetrics(registry: Registry, cache: AuthCache): void {
  const counter = (name: string, help: string, value: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(value());
      },
    });
  counter(
    'claimtrail_auth_cache_hits_total',
    'Bearer tokens answered from this process’s memory',
    () => cache.stats().hits,
  );
  counter(
    'claimtrail_auth_cache_misses_total',
    'Bearer tokens looked up in Postgres while the cache was in use (not cached yet, or expired)',
    () => cache.stats().misses,
  );
  counter(
    'claimtrail_auth_cache_bypasses_total',
    'Bearer tokens looked up in Postgres because the cache was not in use (AUTH_CACHE_SECONDS=0, or its LISTEN connection down)',
    () => cache.stats().bypasses,
  );
  new Counter({
    name: 'claimtrail_auth_cache_invalidations_total',
    help: 'Cached principals dropped: a user’s on a revocation notification or in the revoking process itself, all when the LISTEN connection was lost',
    labelNames: ['source'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [source, n] of Object.entries(cache.stats().invalidations)) this.inc({ source }, n);
    },
  });
  new Gauge({
    name: 'claimtrail_auth_cache_entries',
    help: 'Bearer tokens this process remembers',
    registers: [registry],
    collect() {
      this.set(cache.stats().entries);
    },
  });
  new Gauge({
    name: 'claimtrail_auth_cache_in_use',
    help: '1 while the token cache is used (on, and its LISTEN connection listening); 0: every request looks its token up',
    registers: [registry],
    collect() {
      this.set(cache.stats().inUse ? 1 : 0);
    },
  });
}
