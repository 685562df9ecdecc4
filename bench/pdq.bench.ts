// `npm run bench pdq`: where to search PDQ hashes by Hamming distance (issue 17). Over
// `--hashes` stored hashes (videos of 31 seconds, neighbouring seconds 20–60 bits apart, and
// single images; the real media_hashes table, with its evidence rows in two investigations),
// `--queries` searches within `--distance` bits (half near a stored hash, half anywhere), by:
//   1. baseline: a brute-force scan in JavaScript over the hashes packed in one Uint32Array;
//   2. an in-memory multi-index (16 × 16-bit segments, probe tokens in a CSR table);
//   3. Postgres, brute force: bit_count(hash # query) over every row;
//   4. Postgres, multi-index: the GIN index over media_hashes.segments, then bit_count
//      (findSimilarHashes, what ships), without and with the caller's-investigations filter.
// Each is printed next to the baseline as a ratio; every option must return exactly the
// baseline's neighbours. Target (issue 17): a similarity query over 1,000,000 stored hashes
// p99 ≤ 50 ms. `bench media` runs this search part (searchBench) after its hashing figures.
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { newId } from '../src/db/ids.ts';
import { popcount32 } from '../src/media/pdq.ts';
import { probeTokens, SEGMENTS, segmentTokens } from '../src/media/pdq-multi-index.ts';
import { findSimilarHashes, type SearchOptions, similarHashesQuery } from '../src/media/pdq-store.ts';
import { mulberry32 } from '../test/helpers/prng.ts';
import { type BenchRun, runBench } from './lib/bench-run.ts';
import { type NumberOption, usage } from './lib/options.ts';
import { latencyLine, mib, ms, num, type Result, ratio, summarize, times, verdict } from './lib/stats.ts';

export const searchSpec = {
  hashes: { name: 'hashes', full: 1_000_000, quick: 50_000, help: 'stored hashes' },
  queries: { name: 'queries', full: 200, quick: 40, help: 'searches per option' },
  distance: { name: 'distance', full: 31, quick: 31, help: 'largest Hamming distance searched for' },
  plans: {
    name: 'plans',
    full: 0,
    quick: 0,
    help: 'EXPLAIN (ANALYZE, BUFFERS) of this many slowest queries of each postgres multi-index search',
  },
} satisfies Record<string, NumberOption>;
const spec = searchSpec;
type SearchSizes = { [K in keyof typeof searchSpec]: number };

export const help = `npm run bench pdq [-- --quick] [options]\n${usage(Object.values(spec))}`;

const P99_TARGET_MS = 50;
const say = (line = '') => console.log(line);
const section = (title: string) => say(`\n=== ${title}`);
const secs = (s: number) => `${num(s, s < 10 ? 2 : 1)} s`;
const seconds = (since: number) => (performance.now() - since) / 1000;

/** Hashes as 8 words each, row i at words[8i…8i+7] (hex order, as hashWords). */
type Packed = Uint32Array;

function toHex(words: Packed, row: number): string {
  let hex = '';
  for (let w = 0; w < 8; w++) hex += words[row * 8 + w]!.toString(16).padStart(8, '0');
  return hex;
}

function distanceAt(words: Packed, row: number, q: Packed): number {
  let d = 0;
  for (let w = 0; w < 8; w++) d += popcount32(words[row * 8 + w]! ^ q[w]!);
  return d;
}

/** Stored hashes: 60% frames of 31-second videos (each second 20–60 bits from the last), 40% images. */
function generate(
  n: number,
  next: () => number,
): { words: Packed; frames: { item: number; second: number }[] } {
  const words = new Uint32Array(n * 8);
  const frames: { item: number; second: number }[] = [];
  let item = 0;
  let row = 0;
  while (row < n) {
    for (let w = 0; w < 8; w++) words[row * 8 + w] = next();
    const video = next() % 10 < 6;
    frames.push({ item, second: 0 });
    row++;
    for (let s = 1; video && s < 31 && row < n; s++, row++) {
      words.copyWithin(row * 8, (row - 1) * 8, row * 8);
      const flips = 20 + (next() % 41);
      for (let f = 0; f < flips; f++) {
        const bit = next() % 256;
        words[row * 8 + (bit >> 5)]! ^= 1 << (bit & 31);
      }
      frames.push({ item, second: s });
    }
    item++;
  }
  return { words, frames };
}

/** Half the queries are a stored hash with 0…distance bits flipped, half are random. */
function queries(words: Packed, n: number, count: number, distance: number, next: () => number): Packed[] {
  const out: Packed[] = [];
  for (let i = 0; i < count; i++) {
    const q = new Uint32Array(8);
    if (i % 2 === 0) {
      const row = next() % n;
      q.set(words.subarray(row * 8, row * 8 + 8));
      const flips = next() % (distance + 1);
      const bits = new Set<number>();
      while (bits.size < flips) bits.add(next() % 256);
      for (const bit of bits) q[bit >> 5]! ^= 1 << (bit & 31);
    } else {
      for (let w = 0; w < 8; w++) q[w] = next();
    }
    out.push(q);
  }
  return out;
}

function bruteForce(words: Packed, n: number, q: Packed, distance: number): number[] {
  const found: number[] = [];
  for (let row = 0; row < n; row++) if (distanceAt(words, row, q) <= distance) found.push(row);
  return found;
}

/** The in-memory multi-index: for each of the 16 × 65,536 tokens, the rows holding it (CSR). */
class MemoryMultiIndex {
  private readonly offsets = new Uint32Array(SEGMENTS * 65536 + 1);
  private readonly rows: Uint32Array;
  private readonly seen: Uint32Array;
  private stamp = 0;

  constructor(
    private readonly words: Packed,
    n: number,
  ) {
    const tokens = new Uint32Array(n * SEGMENTS);
    for (let row = 0; row < n; row++) {
      for (let s = 0; s < SEGMENTS; s++) {
        const word = words[row * 8 + (s >> 1)]!;
        tokens[row * SEGMENTS + s] = (s << 16) | (s & 1 ? word & 0xffff : word >>> 16);
      }
    }
    for (const t of tokens) this.offsets[t + 1]!++;
    for (let t = 1; t < this.offsets.length; t++) this.offsets[t]! += this.offsets[t - 1]!;
    const fill = this.offsets.slice(0, -1);
    this.rows = new Uint32Array(n * SEGMENTS);
    for (let i = 0; i < tokens.length; i++) this.rows[fill[tokens[i]!]!++] = Math.floor(i / SEGMENTS);
    this.seen = new Uint32Array(n);
  }

  bytes(): number {
    return this.offsets.byteLength + this.rows.byteLength + this.seen.byteLength;
  }

  search(q: Packed, probes: readonly number[], distance: number): { rows: number[]; candidates: number } {
    const stamp = ++this.stamp;
    const found: number[] = [];
    let candidates = 0;
    for (const token of probes) {
      for (let i = this.offsets[token]!, end = this.offsets[token + 1]!; i < end; i++) {
        const row = this.rows[i]!;
        if (this.seen[row] === stamp) continue;
        this.seen[row] = stamp;
        candidates++;
        if (distanceAt(this.words, row, q) <= distance) found.push(row);
      }
    }
    return { rows: found.sort((a, b) => a - b), candidates };
  }
}

function timeEach<T>(qs: Packed[], fn: (q: Packed, i: number) => T): { ms: number[]; out: T[] } {
  const out: T[] = [];
  const msList: number[] = [];
  qs.forEach((q, i) => {
    const t = performance.now();
    out.push(fn(q, i));
    msList.push(performance.now() - t);
  });
  return { ms: msList, out };
}

async function timeEachAsync<T>(qs: Packed[], fn: (q: Packed, i: number) => Promise<T>) {
  const out: T[] = [];
  const msList: number[] = [];
  for (let i = 0; i < qs.length; i++) {
    const t = performance.now();
    out.push(await fn(qs[i]!, i));
    msList.push(performance.now() - t);
  }
  return { ms: msList, out };
}

const sameRows = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

export async function run(argv: readonly string[]): Promise<number> {
  return runBench(
    { argv, spec, title: 'PDQ search benchmark', where: 'everything in this process', help, secs },
    ({ res, sizes, phases, results }) => searchBench({ res, phases, results }, sizes),
  );
}

/**
 * The search part on its own, for `bench media` too: loads `sizes.hashes` hashes into the run's
 * database, times every option against the brute force and appends its rows to `results`.
 * False when an option returned other neighbours than the baseline.
 */
export async function searchBench(
  { res, phases, results }: Pick<BenchRun<SearchSizes>, 'res' | 'phases' | 'results'>,
  sizes: SearchSizes,
): Promise<boolean> {
  const next = mulberry32(2026);
  const n = sizes.hashes;
  const distance = sizes.distance;
  let ok = true;

  section(`data: ${num(n)} hashes`);
  let t = performance.now();
  const { words, frames } = generate(n, next);
  const items = frames[frames.length - 1]!.item + 1;
  say(`generated ${num(n)} hashes of ${num(items)} items in ${secs(seconds(t))}`);

  // The real table, filled as the owner: evidence rows in two investigations (every other
  // item in the second), then the hashes with the GIN index built once at the end.
  t = performance.now();
  const owner = new pg.Client({ connectionString: res.url });
  await owner.connect();
  const runtime = new pg.Pool({ connectionString: res.env.DATABASE_URL, max: 2 });
  const itemIds: string[] = [];
  const investigations = [newId(), newId()];
  try {
    const user = newId();
    await owner.query(`INSERT INTO users (id, name, role) VALUES ($1, 'bench', 'admin')`, [user]);
    const sources: string[] = [];
    for (const inv of investigations) {
      const source = newId();
      sources.push(source);
      await owner.query(`INSERT INTO investigations (id, title, created_by) VALUES ($1, 'pdq bench', $2)`, [
        inv,
        user,
      ]);
      await owner.query(
        `INSERT INTO sources (id, investigation_id, url, normalized_url) VALUES ($1, $2, $3, $3)`,
        [source, inv, `https://bench.example/${inv}`],
      );
    }
    for (let i = 0; i < items; i++) itemIds.push(newId());
    for (let i = 0; i < items; i += 20_000) {
      const ids = itemIds.slice(i, i + 20_000);
      await owner.query(
        `INSERT INTO evidence_items (id, source_id, kind, media_type, size, sha256)
         SELECT u.id, CASE WHEN u.n % 2 = 0 THEN $2::uuid ELSE $3::uuid END, 'video', 'video/mp4', 1,
                encode(sha256(u.id::text::bytea), 'hex')
         FROM unnest($1::uuid[]) WITH ORDINALITY AS u(id, n)`,
        [ids, sources[0], sources[1]],
      );
    }
    await owner.query('DROP INDEX media_hashes_segments_idx');
    const batch = 20_000;
    for (let start = 0; start < n; start += batch) {
      const end = Math.min(n, start + batch);
      const rows = frames.slice(start, end);
      await owner.query(
        `INSERT INTO media_hashes (evidence_id, investigation_id, frame_second, hash, quality, segments)
         SELECT f.id, s.investigation_id, f.second, ('x' || f.hash)::bit(256), 100, f.segments::int[]
         FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[]) AS f(id, second, hash, segments)
         JOIN evidence_items e ON e.id = f.id JOIN sources s ON s.id = e.source_id`,
        [
          rows.map((f) => itemIds[f.item]),
          rows.map((f) => f.second),
          rows.map((_, i) => toHex(words, start + i)),
          rows.map((_, i) => `{${segmentTokens(toHex(words, start + i)).join(',')}}`),
        ],
      );
    }
    const loaded = seconds(t);
    t = performance.now();
    await owner.query(`SET maintenance_work_mem = '256MB'`);
    await owner.query('CREATE INDEX media_hashes_segments_idx ON media_hashes USING GIN (segments)');
    await owner.query('VACUUM ANALYZE media_hashes');
    const indexed = seconds(t);
    const size = await owner.query<{ table: string; index: string }>(
      `SELECT pg_total_relation_size('media_hashes') - pg_relation_size('media_hashes_segments_idx') AS table,
              pg_relation_size('media_hashes_segments_idx') AS index`,
    );
    say(
      `postgres: rows loaded in ${secs(loaded)}, GIN index built in ${secs(indexed)}; table ${mib(Number(size.rows[0]!.table))}, GIN ${mib(Number(size.rows[0]!.index))}`,
    );
    phases.push(['load hashes + build GIN', loaded + indexed]);

    const qs = queries(words, n, sizes.queries, distance, next);
    const probes = qs.map((q) => probeTokens(toHex(q, 0), distance));

    section(`searches within ${distance} bits: ${qs.length} queries (half near a stored hash)`);
    const base = timeEach(qs, (q) => bruteForce(words, n, q, distance));
    const baseStats = summarize(base.ms);
    const found = base.out.reduce((a, r) => a + r.length, 0);
    say(latencyLine('1. JS brute force (baseline)', baseStats));
    say(
      `   ${num(found)} neighbours found in all (${num(base.out.filter((r) => r.length > 0).length)} queries with any)`,
    );

    t = performance.now();
    const index = new MemoryMultiIndex(words, n);
    say(
      `2. in-memory multi-index built in ${secs(seconds(t))}, ${mib(index.bytes())} besides the hashes (${mib(words.byteLength)})`,
    );
    const mem = timeEach(qs, (q, i) => index.search(q, probes[i]!, distance));
    const memStats = summarize(mem.ms);
    say(latencyLine('2. in-memory multi-index', memStats));
    say(
      `   candidates checked per query: mean ${num(mem.out.reduce((a, r) => a + r.candidates, 0) / qs.length)}`,
    );

    const pgBrute = await timeEachAsync(qs.slice(0, Math.min(qs.length, 40)), async (q) => {
      const { rows } = await runtime.query<{ evidence_id: string; frame_second: number }>(
        `SELECT evidence_id, frame_second FROM media_hashes WHERE bit_count(hash # ('x' || $1)::bit(256)) <= $2`,
        [toHex(q, 0), distance],
      );
      return rows.length;
    });
    const pgBruteStats = summarize(pgBrute.ms);
    say(latencyLine('3. postgres brute force (first 40 queries)', pgBruteStats));

    const rowOf = new Map<string, number>();
    for (const [row, f] of frames.entries()) rowOf.set(`${itemIds[f.item]}/${f.second}`, row);
    const searchOptions = (investigationIds?: string[]): SearchOptions => ({
      distance,
      investigationIds,
      limit: 100_000,
    });
    const viaSql = async (q: Packed, investigationIds?: string[]) => {
      const hits = await findSimilarHashes(runtime, [toHex(q, 0)], searchOptions(investigationIds));
      return hits.map((h) => rowOf.get(`${h.evidenceId}/${h.second}`)!).sort((a, b) => a - b);
    };
    await viaSql(qs[0]!); // plan and cache warm-up
    const pgMih = await timeEachAsync(qs, (q) => viaSql(q));
    const pgMihStats = summarize(pgMih.ms);
    say(latencyLine('4. postgres multi-index (GIN)', pgMihStats));
    const pgMihTenant = await timeEachAsync(qs, (q) => viaSql(q, [investigations[0]!]));
    const pgMihTenantStats = summarize(pgMihTenant.ms);
    say(latencyLine('4b. postgres multi-index, one investigation', pgMihTenantStats));

    // Where the slowest searches spent their time (--plans N), as the runtime role runs them.
    for (const [label, timed, investigationIds] of [
      ['4. postgres multi-index (GIN)', pgMih, undefined],
      ['4b. postgres multi-index, one investigation', pgMihTenant, [investigations[0]!]],
    ] as const) {
      const slowest = timed.ms
        .map((t, i) => [t, i] as const)
        .sort((a, b) => b[0] - a[0])
        .slice(0, sizes.plans);
      for (const [took, i] of slowest) {
        const { text, params } = similarHashesQuery(
          [toHex(qs[i]!, 0)],
          searchOptions(investigationIds && [...investigationIds]),
        );
        const plan = await runtime.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN (ANALYZE, BUFFERS, SETTINGS) ${text}`,
          params,
        );
        say(`\n${label}: query ${i} (${ms(took)} when timed)`);
        for (const line of plan.rows) say(`   ${line['QUERY PLAN']}`);
      }
    }

    // Every option must find exactly the brute force's neighbours.
    const inFirst = (row: number) => frames[row]!.item % 2 === 1; // ordinality n = item + 1 is even
    const wrong = [
      mem.out.filter((r, i) => !sameRows(r.rows, base.out[i]!)).length,
      pgBrute.out.filter((count, i) => count !== base.out[i]!.length).length,
      pgMih.out.filter((r, i) => !sameRows(r, base.out[i]!)).length,
      pgMihTenant.out.filter((r, i) => !sameRows(r, base.out[i]!.filter(inFirst))).length,
    ];
    say(
      `results differing from the brute force: memory ${wrong[0]}, pg brute ${wrong[1]}, pg GIN ${wrong[2]}, pg GIN one investigation ${wrong[3]}`,
    );
    if (wrong.some((w) => w > 0)) ok = false;

    const row = (
      name: string,
      s: ReturnType<typeof summarize>,
      target: string,
      pass: boolean | undefined,
    ): Result => ({
      name,
      measured: `p50 ${ms(s.p50)}, p99 ${ms(s.p99)}`,
      baselineName: 'JS brute force',
      baseline: `p50 ${ms(baseStats.p50)}`,
      ratio: times(ratio(s.p50, baseStats.p50)),
      target,
      pass,
    });
    results.push(
      row('in-memory multi-index', memStats, 'none (not chosen)', undefined),
      row('postgres brute force', pgBruteStats, 'none', undefined),
      row(
        'postgres multi-index (chosen)',
        pgMihStats,
        `p99 ≤ ${P99_TARGET_MS} ms`,
        pgMihStats.p99 <= P99_TARGET_MS,
      ),
      row(
        'postgres multi-index, one investigation',
        pgMihTenantStats,
        `p99 ≤ ${P99_TARGET_MS} ms`,
        pgMihTenantStats.p99 <= P99_TARGET_MS,
      ),
    );
    say(
      `verdict (postgres multi-index p99 ≤ ${P99_TARGET_MS} ms): ${verdict(pgMihTenantStats.p99 <= P99_TARGET_MS)}`,
    );
  } finally {
    await owner.end();
    await runtime.end();
  }

  return ok;
}
