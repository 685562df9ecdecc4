// C2PA (Content Credentials) manifests, read with the Content Authenticity Initiative's own
// reader, @contentauth/c2pa-wasm (pinned exactly: another version may judge the same bytes
// differently, so its version is stored with the result). The one place that touches the wasm.
//
// Nothing here reaches the network: every read runs with remote manifest fetching and OCSP
// fetching off and an empty host allow-list (c2pa-rs then blocks any request it would make),
// so no manifest can make the server fetch past the guarded fetcher. The wasm is compiled from
// the package's own file on disk, never fetched.
import { readFile, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { errorText, recordedError } from '../lib/error-text.ts';
import type { JsonObject, JsonValue } from './json.ts';

type C2paModule = typeof import('@contentauth/c2pa-wasm');

const PACKAGE = '@contentauth/c2pa-wasm';
const require = createRequire(import.meta.url);
let loading: Promise<C2paModule> | undefined;

/** The wasm module, instantiated once per process on first use. */
export function loadC2pa(): Promise<C2paModule> {
  loading ??= (async () => {
    const mod: C2paModule = await import(PACKAGE);
    const wasm = await readFile(require.resolve(`${PACKAGE}/c2pa.wasm`));
    mod.initSync({ module: wasm });
    return mod;
  })();
  loading.catch(() => {
    loading = undefined;
  });
  return loading;
}

export const C2PA_TOOL = `${PACKAGE} ${(require(`${PACKAGE}/package.json`) as { version: string }).version}`;

/** Media types whose containers c2pa-rs reads a manifest from (images and video). Anything
 * else is not opened at all. */
const FORMATS = new Set([
  'image/jpeg',
  'image/png',
  'image/webp',
  'image/gif',
  'image/tiff',
  'image/avif',
  'image/heic',
  'image/heif',
  'image/jxl',
  'image/svg+xml',
  'video/mp4',
  'video/quicktime',
  'video/x-m4v',
]);

export const c2paReadable = (mediaType: string) => FORMATS.has(mediaType);

/** Files larger than this are not read: the wasm takes the whole file into its linear memory,
 * which grows to fit and never shrinks for the life of the worker process. */
export const C2PA_MAX_BYTES = 128 * 1024 * 1024;
/** The reader runs on the event loop; past this the result is recorded as a timeout. */
export const C2PA_TIMEOUT_MS = 30_000;

export interface C2paOptions {
  /** PEM bundle of trust anchors (C2PA_TRUST_ANCHORS' contents); empty: nothing is trusted,
   * a valid signature is then `valid` but not `trusted`. */
  trustAnchorsPem: string;
  maxBytes?: number;
  timeoutMs?: number;
}

/** The reader's settings: every network path closed; trust anchors as configured. */
export function readerSettings(trustAnchorsPem: string): string {
  return JSON.stringify({
    version: 1,
    core: { allowed_network_hosts: [] },
    verify: {
      verify_after_reading: true,
      verify_trust: true,
      remote_manifest_fetch: false,
      ocsp_fetch: false,
    },
    ...(trustAnchorsPem.trim() ? { trust: { trust_anchors: trustAnchorsPem } } : {}),
  });
}

/** What is stored as `metadata.c2pa`: `absent` (no manifest), `valid` (it verifies: `trusted`
 * when its signer chains to a configured anchor), `invalid` (with the failure codes), or
 * `unread` (too large, a timeout, an error of the reader itself). */
export type C2paState = 'valid' | 'invalid' | 'absent' | 'unread';

/**
 * Reads the manifest store embedded in a file. Never throws: a file the reader cannot parse is
 * a recorded outcome. Returns undefined for media types it does not read.
 */
export async function readC2pa(
  path: string,
  mediaType: string,
  opts: C2paOptions,
): Promise<JsonObject | undefined> {
  if (!c2paReadable(mediaType)) return undefined;
  const tool = C2PA_TOOL;
  const maxBytes = opts.maxBytes ?? C2PA_MAX_BYTES;
  try {
    const { size } = await stat(path);
    if (size > maxBytes) return { tool, state: 'unread', error: `larger than ${maxBytes} bytes` };
    const c2pa = await loadC2pa();
    const bytes = await readFile(path);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), opts.timeoutMs ?? C2PA_TIMEOUT_MS);
    });
    const reader = await Promise.race([
      c2pa.WasmReader.fromBytes(mediaType, bytes, readerSettings(opts.trustAnchorsPem)),
      timeout,
    ]).finally(() => clearTimeout(timer));
    try {
      return { tool, ...summarize(JSON.parse(reader.json()) as ManifestStore) };
    } finally {
      reader.free();
    }
  } catch (err) {
    const message = errorText(err);
    // c2pa-rs says so in words when there is simply no manifest in the file.
    if (/^C2pa\((JumbfNotFound|ProvenanceMissing)\)$/.test(message)) return { tool, state: 'absent' };
    // A manifest kept at a URL (not embedded): recorded with its URL, never fetched.
    const remote = /RemoteManifestUrl\("([^"]{1,2000})"\)/.exec(message)?.[1];
    if (remote)
      return {
        tool,
        state: 'unread',
        remoteManifestUrl: remote,
        error: 'manifest kept at a remote URL, not fetched',
      };
    return { tool, state: 'unread', error: recordedError(err) };
  }
}

// --- the parts of c2pa-rs's manifest store JSON used here
interface StatusEntry {
  code: string;
  url?: string;
  explanation?: string;
}
interface Manifest {
  claim_generator?: string;
  claim_generator_info?: { name?: string; version?: string }[];
  title?: string;
  instance_id?: string;
  assertions?: { label: string; data?: { actions?: Record<string, unknown>[] } }[];
  ingredients?: {
    title?: string;
    format?: string;
    relationship?: string;
    instance_id?: string;
    active_manifest?: string;
  }[];
  signature_info?: {
    alg?: string;
    issuer?: string;
    common_name?: string;
    cert_serial_number?: string;
    time?: string;
  };
}
interface ManifestStore {
  active_manifest?: string;
  manifests?: Record<string, Manifest>;
  validation_state?: string;
  validation_status?: StatusEntry[];
  validation_results?: { activeManifest?: { failure?: StatusEntry[]; success?: StatusEntry[] } };
}

const str = (v: unknown): JsonValue => (typeof v === 'string' ? v.slice(0, 500) : null);

/** The active manifest's facts and the validation outcome, bounded in size. */
function summarize(store: ManifestStore): JsonObject {
  const active = store.active_manifest ? store.manifests?.[store.active_manifest] : undefined;
  if (!active) return { state: 'absent' };
  const failures = store.validation_results?.activeManifest?.failure ?? store.validation_status ?? [];
  const codes = [...new Set(failures.map((f) => f.code))];
  // An untrusted signer is not a broken manifest: `trusted` says it, the state stays valid.
  const reasons = codes.filter((c) => c !== 'signingCredential.untrusted');
  const generator =
    active.claim_generator ??
    (active.claim_generator_info ?? [])
      .map((g) => [g.name, g.version].filter(Boolean).join(' '))
      .filter(Boolean)
      .join(', ');
  const sig = active.signature_info ?? {};
  return {
    state: reasons.length > 0 ? 'invalid' : 'valid',
    trusted: store.validation_state === 'Trusted',
    validationState: str(store.validation_state),
    reasons,
    statusCodes: codes,
    activeManifest: str(store.active_manifest),
    claimGenerator: str(generator || null),
    title: str(active.title),
    signer: {
      issuer: str(sig.issuer),
      commonName: str(sig.common_name),
      serialNumber: str(sig.cert_serial_number),
      alg: str(sig.alg),
    },
    signedAt: str(sig.time),
    actions: (active.assertions ?? [])
      .filter((a) => a.label.startsWith('c2pa.actions'))
      .flatMap((a) => a.data?.actions ?? [])
      .slice(0, 100)
      .map((a) => ({
        action: str(a.action),
        when: str(a.when),
        softwareAgent: str(
          typeof a.softwareAgent === 'object'
            ? (a.softwareAgent as { name?: string })?.name
            : a.softwareAgent,
        ),
        digitalSourceType: str(a.digitalSourceType),
      })),
    ingredients: (active.ingredients ?? []).slice(0, 100).map((i) => ({
      title: str(i.title),
      format: str(i.format),
      relationship: str(i.relationship),
      instanceId: str(i.instance_id),
      activeManifest: str(i.active_manifest),
    })),
  };
}
