// What the pages say in words: checks ("declared 31 s · observed 31.0 s ✓"), sizes, times, and
// each custody event as a sentence. Pure functions (the templates only place their output).

export interface CheckLike {
  name: string;
  expected: unknown;
  observed: unknown;
  passed: boolean;
}

const checkLabels: Record<string, string> = {
  c2pa: 'C2PA manifest',
  durationSeconds: 'duration',
  mediaType: 'media type',
  sha256: 'sha256',
  postedAt: 'posted',
  publishedAt: 'published',
  capturedBefore: 'taken before',
  location: 'location',
  sameAs: 'same as',
  similarTo: 'similar to',
};

const shown = (name: string, value: unknown, observed: boolean): string => {
  if (value === null || value === undefined) return 'nothing';
  if (name === 'durationSeconds' && typeof value === 'number')
    // The declaration as typed; the measurement to a tenth (ffprobe says 31.022).
    return `${observed ? value.toFixed(1) : String(value)} s`;
  if (name === 'sha256' && typeof value === 'string') return shortHash(value);
  return typeof value === 'string' ? value : JSON.stringify(value);
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const num = (v: unknown) => (typeof v === 'number' ? v : Number.NaN);

/** The sentence of a check the capture found or a consistency check (issue 17), if it is one. */
function foundText(c: CheckLike): { text: string; evidenceId?: string } | undefined {
  const e = obj(c.expected);
  const o = obj(c.observed);
  switch (c.name) {
    case 'postedAt':
    case 'publishedAt': {
      const claimed = claimDate(typeof e.claimedAt === 'string' ? e.claimedAt : null);
      const within = typeof e.toleranceHours === 'number' ? ` ± ${e.toleranceHours} h` : '';
      const what = c.name === 'postedAt' ? 'posted' : 'page says';
      const at = typeof c.observed === 'string' ? c.observed : 'nothing';
      return { text: `claimed ${claimed}${within} (${str(e.timeZone) || 'UTC'}) · ${what} ${at}` };
    }
    case 'capturedBefore': {
      const taken =
        typeof c.observed !== 'string'
          ? 'no capture time in EXIF'
          : /(Z|[+-]\d{2}:\d{2})$/.test(c.observed)
            ? `EXIF says ${c.observed}`
            : `EXIF says ${c.observed} (zone unknown)`;
      return { text: `declared before ${str(c.expected)} · ${taken}` };
    }
    case 'location': {
      const declared = `declared within ${num(e.radiusMeters)} m of ${num(e.lat)}, ${num(e.lon)}`;
      if (c.observed === null) return { text: `${declared} · no GPS in EXIF` };
      return {
        text: `${declared} · EXIF GPS ${num(o.lat)}, ${num(o.lon)} (${num(o.distanceMeters)} m away)`,
      };
    }
    case 'c2pa': {
      // Observed, never declared: the file's own Content Credentials, if it has any.
      const reasons = Array.isArray(o.reasons) && o.reasons.length > 0 ? `: ${o.reasons.join(', ')}` : '';
      if (o.state === 'absent') return { text: 'no manifest in the file' };
      if (o.state === 'valid') return { text: 'the manifest verifies' };
      return { text: `the manifest does not verify${reasons}` };
    }
    case 'sameAs':
      return { text: `the same bytes as evidence ${shortId(e.evidenceId)}`, evidenceId: str(e.evidenceId) };
    case 'similarTo': {
      const video =
        o.matchedSeconds === undefined
          ? ''
          : ` · ${num(o.matchedSeconds)} of ${num(o.hashedSeconds)} s matched, offset ${num(o.offsetSeconds)} s`;
      return {
        text: `looks like evidence ${shortId(e.evidenceId)} · PDQ distance ${num(o.distance)} (≤ ${num(e.maxDistance)})${video}`,
        evidenceId: str(e.evidenceId),
      };
    }
    default:
      return undefined;
  }
}

const shortId = (id: unknown) => (typeof id === 'string' ? `${id.slice(0, 13)}…` : '?');

/** "duration: declared 31 s · observed 31.0 s ✓"; a match names the other item (`evidenceId`). */
export function checkWords(c: CheckLike): {
  label: string;
  text: string;
  mark: string;
  passed: boolean;
  evidenceId?: string;
} {
  const found = foundText(c);
  return {
    label: checkLabels[c.name] ?? c.name,
    text:
      found?.text ??
      `declared ${shown(c.name, c.expected, false)} · observed ${shown(c.name, c.observed, true)}`,
    mark: c.passed ? '✓' : '✗',
    passed: c.passed,
    ...(found?.evidenceId ? { evidenceId: found.evidenceId } : {}),
  };
}

export const shortHash = (hex: string | null | undefined) => (hex ? `${hex.slice(0, 12)}…` : '—');

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i++;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** "2024-12-17 10:00:03 UTC" (the ledger's times are UTC; so is every time shown). */
export function when(value: string | Date | null | undefined): string {
  if (!value) return '—';
  const d = typeof value === 'string' ? new Date(value) : value;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A claim's date: the day alone when it was given as midnight UTC (a date-only claim). */
export function claimDate(iso: string | null): string {
  if (!iso) return 'no date given';
  return /^\d{4}-\d{2}-\d{2}$/.test(iso) ? iso : when(iso); // a date as given, or a date-time
}

const str = (v: unknown) => (typeof v === 'string' ? v : v === null || v === undefined ? '' : String(v));

/** One custody event as a sentence (the actor is shown beside it, by name). */
export function eventWords(type: string, data: Record<string, unknown>): string {
  const d = (k: string) => str(data[k]);
  switch (type) {
    case 'source_cited':
      return `cited as ${d('relation')} by a claim: ${d('url')}`;
    case 'recapture_scheduled':
      return data.everySeconds === null
        ? 'own recapture schedule cleared'
        : `recapture scheduled every ${d('everySeconds')} s`;
    case 'capture_requested':
      return `capture requested (${d('reason')})`;
    case 'fetch_started':
      return `capture started by ${d('worker')}`;
    case 'fetched': {
      const redirects = Array.isArray(data.redirects) ? data.redirects.length : 0;
      return `fetched ${d('url')} → HTTP ${d('status')}, ${bytes(Number(data.bytes ?? 0))} from ${d('remoteAddress')}${
        redirects ? ` after ${redirects} redirect${redirects > 1 ? 's' : ''}` : ''
      }`;
    }
    case 'stored':
      return `stored ${d('kind')} (${d('mediaType')}, ${bytes(Number(data.size ?? 0))}), sha256 ${shortHash(d('sha256'))}`;
    case 'metadata_extracted':
      return `described with ${d('tool')} (sha256 ${shortHash(d('sha256'))})`;
    case 'check_passed':
    case 'check_failed': {
      const c = checkWords(data.check as CheckLike);
      return `check ${c.label}: ${c.text} ${c.mark}`;
    }
    case 'checks_updated':
      return `checks of the item recorded (${Array.isArray(data.checks) ? data.checks.length : 0})`;
    case 'capture_completed':
      return 'capture completed';
    case 'capture_failed':
      return `capture failed: ${d('code')} — ${d('detail')}${data.retryable ? ' (will be retried)' : ''}`;
    case 'fetch_failed':
      return `could not fetch ${d('url')}: ${d('code')} — ${d('detail')}`;
    case 'content_changed':
      return `content changed: sha256 ${shortHash(d('previousSha256'))} → ${shortHash(d('sha256'))}`;
    case 'source_gone':
      return `source gone: ${d('url')} answered HTTP ${d('status')}`;
    case 'browser_captured': {
      const b = (data.browser ?? {}) as { name?: unknown; version?: unknown };
      return `page captured in ${str(b.name)} ${str(b.version)}: screenshot, rendered DOM and web archive of ${d('finalUrl')}${
        data.settled === false ? ' (shot at the deadline, not settled)' : ''
      }`;
    }
    case 'browser_capture_failed':
      return `browser capture of ${d('url')} gave up: ${d('code')} — ${d('detail')}`;
    case 'platform_captured': {
      const t = (data.tool ?? {}) as { name?: unknown; version?: unknown };
      const declared = data.declaredDurationSeconds;
      return `platform video kept with ${str(t.name)} ${str(t.version)} (${d('extractor')})${
        typeof declared === 'number' ? `, declared ${declared} s` : ''
      }: ${d('webpageUrl')}`;
    }
    case 'platform_capture_failed':
      return `platform video of ${d('url')} not kept: ${d('code')} — ${d('detail')}`;
    case 'platform_no_video': {
      const t = (data.tool ?? {}) as { name?: unknown; version?: unknown };
      return `${str(t.name)} ${str(t.version)} found no video on ${d('url')} (not a video platform's page: nothing is missing)`;
    }
    case 'evidence_read':
      return `preserved bytes read (sha256 ${shortHash(d('sha256'))}, ${
        data.range ? d('range') : 'whole item'
      }, ${bytes(Number(data.bytes ?? 0))})`;
    default:
      return type.replaceAll('_', ' ');
  }
}

/** An event's actor in words: a user by name (the API's actorName), workers and the system by
 * what they are. */
export function actorLabel(actor: string, actorName: string): string {
  const [kind, ...rest] = actor.split(':');
  const what = rest.join(':');
  if (kind === 'user') return actorName !== actor ? actorName : `unknown user ${what.slice(0, 8)}`;
  if (kind === 'worker') return `worker ${what}`;
  return `${kind} ${what}`.trim();
}
