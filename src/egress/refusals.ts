// Reading a session's record for why a tool's request failed: a tool behind the proxy sees a
// refused CONNECT only as a failed tunnel (and a refused plain request as a 403 it may not
// report), so whether the proxy refused the tool's own target for good is read here.
import type { EgressSessionSummary } from './egress-proxy.ts';

/** Refusals no retry heals: the address policy said no, or the URL is not one to fetch. */
const PERMANENT_REFUSALS = new Set(['forbidden_address', 'unresolvable', 'bad_url', 'bad_scheme']);

/** The proxy's permanent refusal of a connection to `url`'s host and port, if it refused one. */
export function permanentRefusal(summary: EgressSessionSummary, url: string): string | undefined {
  let target: URL;
  try {
    target = new URL(url);
  } catch {
    return undefined;
  }
  const port = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const hit = summary.connections.find(
    (c) =>
      c.host === target.hostname && c.port === port && c.refused && PERMANENT_REFUSALS.has(c.refused.code),
  );
  return hit?.refused?.reason;
}
