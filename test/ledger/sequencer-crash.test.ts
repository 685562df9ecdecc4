// The real sequencer process (`claimtrail sequencer`) killed with SIGKILL while it integrates
// 40,000 events, then restarted; and two sequencer processes racing on one database. Runs in a
// database of its own.
//
// Why any kill point is safe: integrateBatch (src/log/sequencer.ts) does everything for one
// batch — read pending events, insert log_entries and log_hashes, delete from log_pending, sign
// and insert the checkpoint — in ONE transaction. A SIGKILL closes the socket; Postgres aborts
// the open transaction (or, if COMMIT was already received, commits it whole), so the log is
// always exactly what the last committed batch left: no gap, no duplicate, no entry without its
// hashes or checkpoint. The lease is a session advisory lock: it dies with the killed process's
// connection, so a standby (or the restarted process) takes over.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { createContext } from '../../src/context.ts';
import { createApp } from '../../src/http/app.ts';
import { openCheckpoint } from '../../src/log/checkpoint.ts';
import { type CheckpointRow, latestCheckpoint } from '../../src/log/log.repository.ts';
import { checkTree, storedHashCount } from '../../src/log/merkle.ts';
import { verifierKeyFromSigner } from '../../src/log/note.ts';
import { RootBuilder } from '../../src/log/root-builder.ts';
import { testConfig, waitFor } from '../helpers/context.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { bulkInsertChains } from '../helpers/ledger-fixtures.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const keyFile = process.env.LOG_SIGNING_KEY_FILE ?? '';
/** The lease key of src/log/sequencer.ts ("clai" "mlog"), as pg_locks shows it. */
const LEASE = { classid: 0x636c6169, objid: 0x6d6c6f67 };
const LEASE_MSG = 'sequencer holds the lease: integrating';

// Hooks run in reverse order of registration: children die first, then the context closes,
// then the database is dropped.
const url = await createIsolatedDatabase('seqcrash');
const ctx = createContext(testConfig({ DATABASE_URL: url }));
afterAll(() => ctx.close());
const children = new Set<ChildProcess>();
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await once(c, 'exit');
    }
  }
});
const { app } = createApp(ctx);

interface SequencerProcess {
  name: string;
  child: ChildProcess;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  output(): string;
  /** `msg` of every JSON log line written so far. */
  messages(): string[];
}

/** Spawns `claimtrail sequencer` on the isolated database; its Postgres sessions carry
 * application_name = `name` (PGAPPNAME), which identifies them in pg_stat_activity. */
function spawnSequencer(name: string): SequencerProcess {
  const child = spawn(process.execPath, ['bin/claimtrail.mjs', 'sequencer'], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: url,
      SEQUENCER_BATCH_SIZE: '2000',
      SEQUENCER_INTERVAL_MS: '100',
      LOG_SIGNING_KEY_FILE: keyFile,
      LOG_LEVEL: 'info',
      PGAPPNAME: name,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    name,
    child,
    exited,
    output: () => `[${name} stdout]\n${stdout}\n[${name} stderr]\n${stderr}`,
    messages: () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as { msg?: string }).msg ?? ''),
  };
}

function assertRunning(...procs: SequencerProcess[]) {
  for (const p of procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(`${p.name} exited early (${p.child.exitCode ?? p.child.signalCode}):\n${p.output()}`);
    }
  }
}

/** SIGTERM, then expect a clean exit 0 within 20 s. */
async function stopGracefully(p: SequencerProcess) {
  p.child.kill('SIGTERM');
  const outcome = await Promise.race([p.exited, sleep(20_000).then(() => 'timeout' as const)]);
  expect(outcome, p.output()).toEqual([0, null]);
}

/** SIGKILL, then wait until Postgres has dropped every session of that process (which ends
 * its transaction, if any, and frees the lease). */
async function killHard(p: SequencerProcess) {
  p.child.kill('SIGKILL');
  expect(await p.exited).toEqual([null, 'SIGKILL']);
  await waitFor(async () => {
    const { rows } = await ctx.pool.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [p.name],
    );
    return rows[0]!.n === 0;
  }, 30_000);
}

interface Snapshot {
  entries: number;
  pending: number;
  events: number;
  cp_size: number | null;
  cp_root: Buffer | null;
  cp_note: string | null;
  holder_in_xact: boolean | null;
}

/** Counts, the latest checkpoint and the lease holder's transaction state, all from ONE
 * statement (one snapshot), cheap enough to poll every few milliseconds. */
async function snapshot(): Promise<Snapshot> {
  const { rows } = await ctx.pool.query<Snapshot>(
    `SELECT (SELECT count(*) FROM log_entries)::int AS entries,
            (SELECT count(*) FROM log_pending)::int AS pending,
            (SELECT count(*) FROM ledger_events)::int AS events,
            c.size::int AS cp_size, c.root_hash AS cp_root, c.note AS cp_note,
            (SELECT bool_or(a.xact_start IS NOT NULL)
               FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
              WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
                AND l.classid::bigint = $1 AND l.objid::bigint = $2
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
            ) AS holder_in_xact
     FROM (SELECT 1) AS one
     LEFT JOIN LATERAL (SELECT size, root_hash, note FROM log_checkpoints ORDER BY size DESC LIMIT 1) c ON true`,
    [LEASE.classid, LEASE.objid],
  );
  return rows[0]!;
}

/** application_name of every session holding the sequencer lease in this database. */
async function leaseHolders(): Promise<string[]> {
  const { rows } = await ctx.pool.query<{ application_name: string }>(
    `SELECT DISTINCT a.application_name
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
        AND l.classid::bigint = $1 AND l.objid::bigint = $2
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    [LEASE.classid, LEASE.objid],
  );
  return rows.map((r) => r.application_name);
}

/** The log's structural invariants; returns the counts. */
async function expectConsistentLog(expectedEvents: number) {
  const { rows } = await ctx.pool.query<Record<string, number>>(
    `SELECT (SELECT count(*) FROM log_entries)::int AS entries,
            (SELECT coalesce(min(log_index), -1) FROM log_entries)::int AS min_index,
            (SELECT coalesce(max(log_index), -1) FROM log_entries)::int AS max_index,
            (SELECT count(DISTINCT event_id) FROM log_entries)::int AS distinct_events,
            (SELECT count(*) FROM log_entries l JOIN ledger_events e ON e.id = l.event_id
              WHERE l.event_hash <> e.hash)::int AS wrong_hash,
            (SELECT count(*) FROM log_pending)::int AS pending,
            (SELECT count(*) FROM log_pending p JOIN log_entries l USING (event_id))::int AS both_states,
            (SELECT count(*) FROM ledger_events)::int AS events,
            (SELECT count(*) FROM log_hashes)::int AS hashes,
            (SELECT coalesce(max(idx), -1) FROM log_hashes)::int AS max_hash_index,
            (SELECT coalesce(max(size), -1) FROM log_checkpoints)::int AS checkpoint_size`,
  );
  const s = rows[0]!;
  const entries = s.entries!;
  expect(s.events, 'events in the ledger').toBe(expectedEvents);
  // Indexes are exactly 0..n-1: no gap, no duplicate index (the primary key) …
  if (entries > 0) expect(s.min_index).toBe(0);
  expect(s.max_index! + 1, 'max(log_index) + 1 = count').toBe(entries);
  // … and no event logged twice, none both pending and logged, none lost.
  expect(s.distinct_events, 'no event has two log entries').toBe(entries);
  expect(s.both_states, 'no event is both pending and integrated').toBe(0);
  expect(s.pending! + entries, 'pending + integrated = total').toBe(expectedEvents);
  expect(s.wrong_hash, 'log entries record their event hash').toBe(0);
  // Stored hashes and the latest checkpoint describe exactly the integrated prefix.
  expect(s.hashes, 'stored hashes for the tree size').toBe(storedHashCount(entries));
  expect(s.max_hash_index! + 1).toBe(s.hashes);
  expect(s.checkpoint_size, 'latest checkpoint size = tree size').toBe(entries);
  return { entries, pending: s.pending! };
}

/** Roots recomputed from log_entries alone (RootBuilder), at each requested size. */
async function recomputedRoots(sizes: number[]): Promise<Map<number, Buffer>> {
  const { rows } = await ctx.pool.query<{ event_hash: Buffer }>(
    'SELECT event_hash FROM log_entries ORDER BY log_index',
  );
  const builder = new RootBuilder();
  const roots = new Map<number, Buffer>();
  if (sizes.includes(0)) roots.set(0, builder.root());
  for (const r of rows) {
    builder.push(r.event_hash);
    if (sizes.includes(builder.size)) roots.set(builder.size, builder.root());
  }
  return roots;
}

async function verifierKey(): Promise<string> {
  return verifierKeyFromSigner((await readFile(keyFile, 'utf8')).trim());
}

/** The checkpoint of the largest size (numeric order), opened with the run's verifier key.
 * Deliberately not latestCheckpoint(): see the last test of this file. */
async function verifiedLatestCheckpoint(): Promise<CheckpointRow> {
  const { rows } = await ctx.pool.query<{ size: string; root_hash: Buffer; note: string }>(
    'SELECT size, root_hash, note FROM log_checkpoints ORDER BY size DESC LIMIT 1',
  );
  const r = rows[0]!;
  const cp = { size: Number(r.size), rootHash: r.root_hash, note: r.note };
  const { checkpoint } = openCheckpoint(cp.note, await verifierKey());
  expect(checkpoint.origin).toBe(ctx.config.LOG_ORIGIN);
  expect(checkpoint.size).toBe(cp.size);
  expect(checkpoint.rootHash.equals(cp.rootHash)).toBe(true);
  return cp;
}

/** GET /v1/log/proof/consistency (in-process, no Authorization) and checkTree it. */
async function expectConsistent(
  old: { size: number; rootHash: Buffer },
  cur: { size: number; rootHash: Buffer },
) {
  const res = await request(app).get(`/v1/log/proof/consistency?from=${old.size}&to=${cur.size}`);
  expect(res.status, res.text).toBe(200);
  expect(res.body).toMatchObject({ from: old.size, to: cur.size });
  const proof = (res.body.proof as string[]).map((h) => Buffer.from(h, 'base64'));
  expect(checkTree(proof, cur.size, cur.rootHash, old.size, old.rootHash)).toBe(true);
  // The proof is about these roots: another old root does not pass.
  expect(checkTree(proof, cur.size, cur.rootHash, old.size, Buffer.alloc(32, 7))).toBe(false);
}

async function ledgerVerifyCli(): Promise<{ status: number | null; out: string }> {
  const child = spawn(process.execPath, ['bin/claimtrail.mjs', 'ledger', 'verify'], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: url, LOG_SIGNING_KEY_FILE: keyFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const [status] = (await once(child, 'exit')) as [number | null];
  return { status, out };
}

const pendingIsZero = async () => (await snapshot()).pending === 0;

describe('the sequencer process under SIGKILL', () => {
  it('killed mid-integration of 40,000 events, restarted: no gap, no duplicate, same roots, verifiable', async () => {
    const total = await bulkInsertChains(ctx.pool, 400, 100);
    expect(total).toBe(40_000);

    // 1. Run, and kill it the moment the log has grown but events are still pending. Batches of
    // 2,000 run back to back, so the process spends nearly all its time inside a batch
    // transaction: the kill most likely lands mid-batch (recorded below, not required — the
    // single-transaction batch makes every kill point safe).
    const first = spawnSequencer('seqcrash-first');
    const seen = (await waitFor(
      async () => {
        assertRunning(first);
        const s = await snapshot();
        return s.entries > 0 && s.pending > 0 ? s : undefined;
      },
      90_000,
      2,
    ))!;
    first.child.kill('SIGKILL');
    console.log(
      `sequencer-crash: SIGKILL at tree size ${seen.entries} (${seen.pending} pending); ` +
        `lease holder inside a batch transaction when last seen: ${seen.holder_in_xact}`,
    );
    await killHard(first);
    // The snapshot saw the checkpoint of the last committed batch, signed for exactly that size.
    expect(seen.cp_size).toBe(seen.entries);
    const pre = { size: seen.cp_size!, rootHash: seen.cp_root!, note: seen.cp_note! };
    expect(pre.size).toBeGreaterThan(0);
    expect(pre.size).toBeLessThan(total);
    openCheckpoint(pre.note, await verifierKey()); // signed before the kill, still valid

    // 2. What the kill left: a consistent prefix.
    const afterKill = await expectConsistentLog(total);
    expect(afterKill.entries).toBeGreaterThanOrEqual(pre.size);
    expect(afterKill.pending).toBeGreaterThan(0);
    expect(await leaseHolders(), 'the killed process no longer holds the lease').toEqual([]);

    // 3. Restart; it integrates the rest; SIGTERM stops it cleanly.
    const second = spawnSequencer('seqcrash-restart');
    await waitFor(
      async () => {
        assertRunning(second);
        return pendingIsZero();
      },
      120_000,
      100,
    );
    expect(await leaseHolders()).toEqual(['seqcrash-restart']);
    await stopGracefully(second);
    expect(second.messages()).toContain(LEASE_MSG);

    // 4. The final log: consistent, its checkpoint verifies, and it extends the pre-kill one.
    const done = await expectConsistentLog(total);
    expect(done).toEqual({ entries: total, pending: 0 });
    const final = await verifiedLatestCheckpoint();
    expect(final.size).toBe(total);
    await expectConsistent(pre, final);

    // The pre-kill checkpoint is still stored, and recomputing from log_entries gives the same
    // roots for the same prefixes.
    const { rows: kept } = await ctx.pool.query<{ root_hash: Buffer }>(
      'SELECT root_hash FROM log_checkpoints WHERE size = $1',
      [pre.size],
    );
    expect(kept[0]?.root_hash.equals(pre.rootHash)).toBe(true);
    const roots = await recomputedRoots([pre.size, final.size]);
    expect(roots.get(pre.size)?.equals(pre.rootHash), 'recomputed root at the pre-kill size').toBe(true);
    expect(roots.get(final.size)?.equals(final.rootHash), 'recomputed root at the final size').toBe(true);

    // 5. The CLI agrees.
    const cli = await ledgerVerifyCli();
    expect(cli.status, cli.out).toBe(0);
    expect(cli.out).toContain('ledger OK');
    expect(cli.out).toContain(`tree size ${total} (0 pending)`);
  }, 300_000);

  it('two sequencers at once: one holds the lease, the other takes over when it is SIGKILLed', async () => {
    const start = await snapshot();
    expect(start.pending, 'no leftover pending events').toBe(0);
    let expected = start.events;
    expected += await bulkInsertChains(ctx.pool, 100, 100); // 10,000

    const a = spawnSequencer('seqcrash-a');
    const b = spawnSequencer('seqcrash-b');
    await waitFor(
      async () => {
        assertRunning(a, b);
        return pendingIsZero();
      },
      120_000,
      100,
    );
    await expectConsistentLog(expected);
    // Both processes are up, only one holds the lease (in Postgres, and by its own account).
    await waitFor(
      async () => a.messages().includes('sequencer started') && b.messages().includes('sequencer started'),
    );
    const holders = await leaseHolders();
    expect(holders).toHaveLength(1);
    const [leader, standby] = holders[0] === a.name ? [a, b] : [b, a];
    expect(holders[0]).toBe(leader.name);
    expect(leader.messages()).toContain(LEASE_MSG);
    expect(standby.messages(), 'the standby never integrated').not.toContain(LEASE_MSG);
    const beforeTakeover = await verifiedLatestCheckpoint();

    // More work; kill the leader as soon as it has started on it (most likely mid-batch).
    expected += await bulkInsertChains(ctx.pool, 50, 100); // 5,000
    await waitFor(
      async () => {
        assertRunning(a, b);
        return (await snapshot()).entries > beforeTakeover.size;
      },
      60_000,
      2,
    );
    await killHard(leader);
    const killedAt = Date.now();
    const afterKill = await expectConsistentLog(expected);
    // Some work is left for the standby even if the leader had finished before the kill.
    expected += await bulkInsertChains(ctx.pool, 10, 10);

    await waitFor(
      async () => {
        assertRunning(standby);
        return pendingIsZero();
      },
      60_000,
      50,
    );
    const takeoverMs = Date.now() - killedAt;
    console.log(
      `sequencer-crash: leader killed at tree size ${afterKill.entries} (${afterKill.pending} pending); ` +
        `standby finished ${takeoverMs} ms later`,
    );
    expect(takeoverMs).toBeLessThan(30_000);
    expect(await leaseHolders()).toEqual([standby.name]);
    await waitFor(async () => standby.messages().includes(LEASE_MSG));

    const done = await expectConsistentLog(expected);
    expect(done).toEqual({ entries: expected, pending: 0 });
    await stopGracefully(standby);

    const final = await verifiedLatestCheckpoint();
    expect(final.size).toBe(expected);
    await expectConsistent(beforeTakeover, final);
    const roots = await recomputedRoots([beforeTakeover.size, final.size]);
    expect(roots.get(beforeTakeover.size)?.equals(beforeTakeover.rootHash)).toBe(true);
    expect(roots.get(final.size)?.equals(final.rootHash)).toBe(true);
    const cli = await ledgerVerifyCli();
    expect(cli.status, cli.out).toBe(0);
    expect(cli.out).toContain(`tree size ${expected} (0 pending)`);
  }, 300_000);

  it('GET /v1/log/checkpoint and `ledger verify` use the largest checkpoint, not the largest in text order (regression)', async () => {
    // By now the log holds checkpoints of sizes 0, 2000, 4000, …, 8000, …, 40000, … — numeric
    // and text order disagree ('8000' > '40000'). src/log/log.repository.ts latestCheckpoint()
    // selects `size::text` and orders by the output column `size`, i.e. by the text.
    const maxSize = async () => {
      const { rows } = await ctx.pool.query<{ size: string }>(
        'SELECT coalesce(max(size), 0)::text AS size FROM log_checkpoints',
      );
      return Number(rows[0]!.size);
    };
    if ((await maxSize()) < 10_000) {
      // Run on its own (-t): make such checkpoints first.
      await bulkInsertChains(ctx.pool, 120, 100);
      const seq = spawnSequencer('seqcrash-order');
      await waitFor(
        async () => {
          assertRunning(seq);
          return pendingIsZero();
        },
        120_000,
        100,
      );
      await stopGracefully(seq);
    }
    const largest = await maxSize();
    expect(largest).toBeGreaterThan(9_999);

    const res = await request(app).get('/v1/log/checkpoint');
    expect(res.status).toBe(200);
    const cli = await ledgerVerifyCli();
    expect(cli.status, cli.out).toBe(0);

    expect.soft((await latestCheckpoint(ctx.pool))?.size, 'latestCheckpoint().size').toBe(largest);
    expect.soft(res.text.split('\n')[1], 'size line of GET /v1/log/checkpoint').toBe(String(largest));
    expect
      .soft(cli.out, 'ledger verify checks the latest checkpoint')
      .toContain(`checkpoint size ${largest},`);
  }, 120_000);
});
