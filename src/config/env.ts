// The one place that reads process.env. Every variable has a default that works on one
// machine (see .env.example); a bad value stops the process with a line naming it.
import { z } from 'zod';
import { parseFollowedLogs, parseWitnesses } from '../anchors/witness/witness-config.ts';

const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();

const postgresUrl = z
  .string()
  .refine((v) => /^postgres(ql)?:\/\/[^\s]+$/.test(v) && URL.canParse(v), 'must be a postgresql:// URL');
const redisUrl = z
  .string()
  .refine((v) => /^rediss?:\/\/[^\s]+$/.test(v) && URL.canParse(v), 'must be a redis:// or rediss:// URL');
/** A list parsed by `parse`, whose Error message becomes the variable's problem. */
const parsedList = <T>(parse: (v: string) => T[]) =>
  z
    .string()
    .default('')
    .transform((v, ctx): T[] => {
      try {
        return parse(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    });
/** A comma-separated list; blanks around entries and empty entries dropped. */
const commaList = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
const httpUrl = z
  .string()
  .refine((v) => /^https?:\/\//.test(v) && URL.canParse(v), 'must be an http:// or https:// URL');

export const envSchema = z.object({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: port.default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** The runtime role (api, worker, sequencer). Default: see resolveDatabaseUrls. */
  DATABASE_URL: postgresUrl.optional(),
  /** The owner role `claimtrail db migrate` uses (creates the database, the runtime role, and
   * grants DATABASE_URL's role only what src/db/runtime-grants.ts lists). */
  MIGRATION_DATABASE_URL: postgresUrl.optional(),
  /** Connections each of a process's two Postgres pools (Prisma's, pg's) may open: a process
   * holds up to twice this, and max_connections must cover every process (see Deployment). */
  DATABASE_POOL_MAX: positiveInt.max(100).default(10),
  REDIS_URL: redisUrl.default('redis://127.0.0.1:6379'),
  /** Prefix of every BullMQ key: lets a test run share a Redis with a running service. */
  REDIS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits and _.:- only')
    .default('claimtrail'),
  /** Where evidence bytes live: a local directory (BLOB_DIR) or an S3-compatible bucket. */
  BLOB_STORE: z.enum(['local', 's3']).default('local'),
  /** The local store's directory; with BLOB_STORE=s3, scratch space for local copies (ffprobe). */
  BLOB_DIR: z.string().min(1).default('./.data/blobs'),
  /** A custom S3-compatible endpoint (MinIO, Ceph, R2…), addressed path-style; unset: AWS S3. */
  S3_ENDPOINT: httpUrl.optional(),
  S3_BUCKET: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name (3-63 of a-z 0-9 . -)')
    .optional(),
  S3_REGION: z
    .string()
    .regex(/^[a-z0-9-]{1,32}$/, 'a region name such as us-east-1')
    .default('us-east-1'),
  /** Key prefix inside the bucket (a trailing / is added): several deployments can share one. */
  S3_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*\/?$/, 'letters, digits, _ . - and / between names')
    .optional()
    .transform((v) => (v === undefined ? '' : v.endsWith('/') ? v : `${v}/`)),
  /** Credentials for S3 (unset: the SDK's default chain, e.g. an instance role). Never logged. */
  AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
  AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  AWS_SESSION_TOKEN: z.string().min(1).optional(),
  LOG_ORIGIN: z
    .string()
    .regex(/^[^\s+]+$/, 'a non-empty name without spaces or "+" (C2SP checkpoint origin / note key name)')
    .default('claimtrail.local/log'),
  LOG_SIGNING_KEY_FILE: z.string().min(1).default('./.data/log-signing.key'),
  FETCH_ALLOWLIST: commaList,
  FETCH_MAX_BYTES: positiveInt.default(1024 ** 3),
  X_SYNDICATION_URL: httpUrl.default('https://cdn.syndication.twimg.com'),
  /** Connect timeout of one outbound connection (and of one DNS lookup). */
  FETCH_CONNECT_TIMEOUT_MS: positiveInt.default(5_000),
  /** From sending a request to the end of the response headers. */
  FETCH_HEADERS_TIMEOUT_MS: positiveInt.default(15_000),
  /** Longest silence while a response body is read (no byte for this long fails the fetch). */
  FETCH_IDLE_TIMEOUT_MS: positiveInt.default(30_000),
  // A body slower than this on average over any idle-timeout-long window is dropped (too_slow).
  FETCH_MIN_BYTES_PER_SECOND: z.coerce.number().int().min(0).default(1024),
  /** Everything one fetch may take: DNS, redirects, and the body to its last byte. */
  FETCH_TIMEOUT_MS: positiveInt.default(15 * 60_000),
  /** Captures of one host running at once across every worker process (a Redis lease each). */
  CAPTURE_PER_HOST_CONCURRENCY: positiveInt.default(2),
  /** Captures of one investigation running at once across every worker process: many slow
   * hosts cited in one investigation cannot take every worker from the others. */
  CAPTURE_PER_INVESTIGATION_CONCURRENCY: positiveInt.default(3),
  /** Largest journalist upload (POST /v1/sources/:id/evidence), in bytes. */
  UPLOAD_MAX_BYTES: positiveInt.default(1024 ** 3),
  /** ffprobe binary: `auto` uses the one on PATH, else the copy installed from npm. */
  FFPROBE_PATH: z.string().min(1).default('auto'),
  /** ffmpeg for video frame hashing (PDQ a second): `auto` uses the one on PATH, else the
   * static copy from npm (@ffmpeg-installer/ffmpeg), else one next to ffprobe. */
  FFMPEG_PATH: z.string().min(1).default('auto'),
  /** Largest PDQ Hamming distance (of 256 bits) at which a capture records media `similarTo`
   * media of another source in its investigation; 31 is PDQ's recommended match threshold. */
  PDQ_MATCH_DISTANCE: z.coerce.number().int().min(0).max(63).default(31),
  /** Chromium for browser captures (screenshot, DOM, WACZ): `auto` looks where Debian and
   * Ubuntu install it; none found (or a path that is not executable) → `browser_unavailable`;
   * `off`: no browser step at all (pages captured as without issue 14, nothing recorded). */
  BROWSER_PATH: z.string().min(1).default('auto'),
  /** Browsers running at once per worker process (each is hundreds of MB). */
  BROWSER_CONCURRENCY: positiveInt.default(2),
  /** Navigation to screenshot; a page not settled by then is shot as it stands. */
  BROWSER_PAGE_TIMEOUT_MS: positiveInt.default(30_000),
  /** Response bodies kept in one page's WACZ; later responses are left out (and counted). */
  BROWSER_ARCHIVE_MAX_BYTES: positiveInt.default(256 * 1024 * 1024),
  /** yt-dlp for platform video (issue 14): `auto` uses the one on PATH, or a path to it; none
   * there (or not executable): no platform step, and the worker says so at start; `off`: no
   * platform step at all. */
  YTDLP_PATH: z.string().min(1).default('auto'),
  /** Recapture every captured source this often (0: only sources with their own interval). */
  RECAPTURE_EVERY_SECONDS: z.coerce.number().int().min(0).default(0),
  /** How often the capture sweep looks for due recaptures and captures left unqueued. */
  CAPTURE_SWEEP_INTERVAL_MS: positiveInt.default(60_000),
  /** How often the export sweep looks for exports left unqueued or left running by a lost job. */
  EXPORT_SWEEP_INTERVAL_MS: positiveInt.default(60_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Largest JSON request body, in bytes. */
  BODY_LIMIT_BYTES: positiveInt.default(1024 * 1024),
  /** How long an Idempotency-Key's record is kept: after this a retry runs as a new request. */
  IDEMPOTENCY_TTL_SECONDS: positiveInt.default(24 * 60 * 60),
  /** How long an API process may answer for a bearer token from its own memory (0: never; every
   * request looks the token up). Revocations reach every API process at once through Postgres
   * NOTIFY (src/users/auth-cache.ts); this bounds an entry's age whatever happens. */
  AUTH_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  /** How long a web app session lasts after sign-in (then the browser signs in again). */
  SESSION_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 24 * 3600)
    .default(8 * 60 * 60),
  /** Express "trust proxy" for the web app: which proxies' X-Forwarded-Proto to believe, so a
   * session cookie is `Secure` behind an https proxy. Empty: none (the connection decides);
   * a hop count (`1`), `true`, or addresses/subnets (`loopback`, `10.0.0.0/8`). */
  WEB_TRUST_PROXY: z
    .string()
    .default('')
    .transform((v): boolean | number | string =>
      v === '' || v === 'false' ? false : v === 'true' ? true : /^\d+$/.test(v) ? Number(v) : v,
    ),
  /** How long shutdown waits for in-flight requests and jobs before giving up. */
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(10_000),
  WORKER_CONCURRENCY: positiveInt.default(4),
  /** The sequencer integrates at least this often while events are pending... */
  SEQUENCER_INTERVAL_MS: positiveInt.default(500),
  /** ...or as soon as this many are waiting; also the largest batch. */
  SEQUENCER_BATCH_SIZE: positiveInt.default(2000),
  // RFC 3161 timestamps of signed checkpoints (issue 15, src/anchors/timestamp/).
  /** Time-stamping authorities, comma-separated http(s) URLs; empty: no timestamps. */
  TSA_URLS: commaList.pipe(z.array(httpUrl)),
  /** PEM file of the trust anchors the TSAs' certificates must chain to (needed with TSA_URLS). */
  TSA_CA_FILE: z.string().default(''),
  /** A grown checkpoint is timestamped by each TSA at most this often. */
  TIMESTAMP_EVERY_SECONDS: positiveInt.default(3600),
  // --- Witnesses (issue 15; src/anchors/witness) ---
  /** Witnesses the sequencer asks to cosign each new checkpoint (C2SP tlog-witness): entries
   * `<cosigner vkey> <url>` separated by commas or newlines; empty: none. */
  WITNESSES: parsedList(parseWitnesses),
  /** One add-checkpoint request to a witness, from connect to the last byte of the answer. */
  WITNESS_TIMEOUT_MS: positiveInt.default(10_000),
  /** `claimtrail witness`: its Ed25519 cosigner key (generated on first start, named WITNESS_NAME). */
  WITNESS_KEY_FILE: z.string().min(1).default('./.data/witness.key'),
  WITNESS_NAME: z
    .string()
    .regex(/^[^\s+]+$/, 'a non-empty name without spaces or "+" (note key name)')
    .default('claimtrail.local/witness'),
  /** 0: any free port (tests). */
  WITNESS_PORT: z.coerce.number().int().min(0).max(65535).default(3100),
  /** The logs `claimtrail witness` cosigns: entries `[<origin> ]<log vkey>`, comma or newline
   * separated (the origin defaults to the key's name); empty: none. */
  WITNESS_LOGS: parsedList(parseFollowedLogs),
  /** PEM file of the trust anchors a C2PA manifest's signer must chain to for `trusted`
   * (src/media/c2pa.ts); empty: manifests are verified, none is trusted. */
  C2PA_TRUST_ANCHORS: z.string().default(''),
});

export type Config = Omit<z.infer<typeof envSchema>, 'DATABASE_URL' | 'MIGRATION_DATABASE_URL'> & {
  DATABASE_URL: string;
  MIGRATION_DATABASE_URL: string;
};

/** The owner of the local default set-up (Debian's cluster superuser). */
export const DEFAULT_MIGRATION_DATABASE_URL = 'postgresql://postgres:postgres@127.0.0.1:5432/claimtrail';
/** The role the service runs as when DATABASE_URL is not set (created by `db migrate`). */
export const DEFAULT_RUNTIME_ROLE = { user: 'claimtrail_app', password: 'claimtrail_app' };

/** Least privilege by default: with neither URL set, migrations run as the owner and the
 * service as `claimtrail_app` on the same database; DATABASE_URL alone keeps the one-role set-up
 * of earlier versions (the owner runs the service, and startup warns); MIGRATION_DATABASE_URL
 * alone gives the service `claimtrail_app` on that server and database. */
function resolveDatabaseUrls(runtime: string | undefined, migration: string | undefined) {
  const owner = migration ?? runtime ?? DEFAULT_MIGRATION_DATABASE_URL;
  if (runtime) return { DATABASE_URL: runtime, MIGRATION_DATABASE_URL: owner };
  const url = new URL(owner);
  url.username = DEFAULT_RUNTIME_ROLE.user;
  url.password = DEFAULT_RUNTIME_ROLE.password;
  return { DATABASE_URL: url.toString(), MIGRATION_DATABASE_URL: owner };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/** Parses an environment (default: process.env). Empty strings count as unset. */
export function parseConfig(env: Record<string, string | undefined> = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`),
    );
  }
  if (result.data.TSA_URLS.length > 0 && !result.data.TSA_CA_FILE)
    throw new ConfigError([
      'TSA_CA_FILE: required with TSA_URLS (the anchors TSA certificates must chain to)',
    ]);
  const missing = storeProblems(result.data);
  if (missing.length > 0) throw new ConfigError(missing);
  return {
    ...result.data,
    ...resolveDatabaseUrls(result.data.DATABASE_URL, result.data.MIGRATION_DATABASE_URL),
  };
}

/** Settings that are required together (the schema checks each one alone). */
function storeProblems(env: z.infer<typeof envSchema>): string[] {
  const problems: string[] = [];
  if (env.BLOB_STORE === 's3' && env.S3_BUCKET === undefined)
    problems.push('S3_BUCKET: required when BLOB_STORE=s3');
  if ((env.AWS_ACCESS_KEY_ID === undefined) !== (env.AWS_SECRET_ACCESS_KEY === undefined))
    problems.push('AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY: set both or neither');
  return problems;
}

let cached: Config | undefined;

/** The process's configuration, parsed once. */
export function config(): Config {
  cached ??= parseConfig();
  return cached;
}

/** Names of every variable the service reads (for .env.example and docker-compose checks). */
export const configVariables = Object.keys(envSchema.shape);
