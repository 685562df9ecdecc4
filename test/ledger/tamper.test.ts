// An owner who disables the triggers and rewrites history is caught: both the custody
// verify route (GET /v1/sources/:id/custody/verify) and `claimtrail ledger verify` name the
// first bad event — the route also when the stored Merkle tree was rewritten to match, since it
// proves each event against the latest signed checkpoint. Each case runs in a database of its
// own; the service runs as the runtime role, the tampering as the owner (MIGRATION_DATABASE_URL).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { citeSource, createClaim } from '../../src/claims/claims.service.ts';
import { createContext } from '../../src/context.ts';
import { writeTransaction } from '../../src/db/unit-of-work.ts';
import { createApp } from '../../src/http/app.ts';
import { createInvestigation } from '../../src/investigations/investigations.service.ts';
import { appendEvent } from '../../src/ledger/ledger.repository.ts';
import { hashReader, latestCheckpoint } from '../../src/log/log.repository.ts';
import { storedHashesForBatch, treeHash } from '../../src/log/merkle.ts';
import { integrateBatch } from '../../src/log/sequencer.ts';
import { loadOrCreateSigningKey } from '../../src/log/signing-key.ts';
import { createUser } from '../../src/users/users.service.ts';
import { testConfig } from '../helpers/context.ts';
import { asOwner } from '../helpers/databases.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { useSequencer, waitForIntegration } from '../helpers/sequencer.ts';

function ledgerVerifyCli(databaseUrl: string, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['bin/claimtrail.mjs', 'ledger', 'verify'], {
    env: { ...process.env, DATABASE_URL: databaseUrl, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** A fresh database with one source whose chain has 5 events (source_cited, then
 * the capture it requested, then capture_requested with reason r3..r5), integrated and checkpointed. Hooks must be registered
 * at file level, so every case's database is made up front, in parallel. */
async function setup(label: string) {
  const url = await createIsolatedDatabase(label);
  const ctx = createContext(testConfig({ DATABASE_URL: url }));
  afterAll(() => ctx.close());
  const sequencer = await useSequencer(ctx);
  const editor = await createUser(ctx, { name: 'Editor', role: 'editor' }, 'system:test');
  const p = { id: editor.id, name: editor.name, role: editor.role };
  const inv = await createInvestigation(ctx, p, { title: label });
  const claim = await createClaim(ctx, p, inv.id, {
    statement: 'A claim.',
    claimant: { name: 'Someone' },
  });
  const { source } = await citeSource(ctx, p, claim.id, {
    url: 'https://example.com/post',
    relation: 'origin',
  });
  const subject = { type: 'source' as const, id: source.id };
  for (let i = 3; i <= 5; i++) {
    await writeTransaction(ctx.pool, (tx) =>
      appendEvent(tx, {
        subject,
        type: 'capture_requested',
        actor: 'system:test',
        data: { captureId: `c${i}`, reason: `r${i}` },
      }),
    );
  }
  await waitForIntegration(ctx);
  return { url, ctx, subject, sequencer, app: createApp(ctx).app, token: editor.token };
}

const cases = await Promise.all(['edit', 'rehash', 'delete', 'swap', 'relog'].map(setup));
type Case = Awaited<ReturnType<typeof setup>>;
const [editCase, rehashCase, deleteCase, swapCase, relogCase] = cases as [Case, Case, Case, Case, Case];

const rewritable = ['ledger_events', 'log_entries', 'log_hashes'];

/** Runs `sql` as the owner with the append-only triggers off (what the runtime role cannot). */
async function tamper(ctx: ReturnType<typeof createContext>, sql: (string | [string, unknown[]])[]) {
  await asOwner(ctx.config.DATABASE_URL, async (client) => {
    await client.query('BEGIN');
    for (const t of rewritable) await client.query(`ALTER TABLE ${t} DISABLE TRIGGER ALL`);
    for (const s of sql) await (typeof s === 'string' ? client.query(s) : client.query(s[0], s[1]));
    for (const t of rewritable) await client.query(`ALTER TABLE ${t} ENABLE TRIGGER ALL`);
    await client.query('COMMIT');
  });
}

/** UPDATEs that make log_hashes the tlog stored hashes of log_entries as they now are: the
 * stored tree rewritten to match a forged leaf, as an owner could. */
async function rebuiltStoredHashes(ctx: ReturnType<typeof createContext>): Promise<[string, unknown[]][]> {
  const { rows } = await ctx.pool.query<{ event_hash: Buffer }>(
    'SELECT event_hash FROM log_entries ORDER BY log_index',
  );
  const noReads = async (): Promise<Buffer[]> => {
    throw new Error('a rebuild from leaf 0 reads nothing');
  };
  const stored = await storedHashesForBatch(
    0,
    rows.map((r) => r.event_hash),
    noReads,
  );
  return stored.map((h) => ['UPDATE log_hashes SET hash = $2 WHERE idx = $1', [h.index, h.hash]]);
}

/** The custody verify route's answer for the case's source. */
async function custodyVerdict(c: Case) {
  const r = await request(c.app)
    .get(`/v1/sources/${c.subject.id}/custody/verify`)
    .set({ Authorization: `Bearer ${c.token}` });
  expect(r.status).toBe(200);
  return r.body as {
    valid: boolean;
    length: number;
    firstInvalidSeq?: number;
    reason?: string;
    checkpoint: { size: number } | null;
    pending: number;
  };
}

describe('ledger verify without the key file', () => {
  it('checks with the published key, says so, and creates no key', () => {
    const keyFile = join(tmpdir(), `claimtrail-absent-${process.pid}-${Date.now()}.key`);
    const cli = ledgerVerifyCli(editCase.url, { LOG_SIGNING_KEY_FILE: keyFile });
    // Before any tampering (tests in this file run in order): the ledger holds.
    expect(cli.status, cli.out).toBe(0);
    expect(cli.out).toContain(`note: ${keyFile} is absent; checking with the key published`);
    expect(cli.out).toMatch(/ledger OK: /);
    expect(existsSync(keyFile)).toBe(false);
  });
});

describe('tampering with the ledger', () => {
  it("an edited event's data is named (seq 3)", async () => {
    const c = editCase;
    const { url, ctx, subject } = c;
    expect(ledgerVerifyCli(url)).toMatchObject({ status: 0 });
    await tamper(ctx, [
      `UPDATE ledger_events SET body = replace(body, '"reason":"r3"', '"reason":"rX"')
       WHERE subject_id = '${subject.id}' AND seq = 3`,
    ]);
    const verdict = await custodyVerdict(c);
    expect(verdict).toMatchObject({ valid: false, firstInvalidSeq: 3 });
    expect(verdict.reason).toMatch(/hash mismatch/);
    const cli = ledgerVerifyCli(url);
    expect(cli.status).toBe(1);
    expect(cli.out).toContain(`subject source:${subject.id} seq 3`);
  }, 120_000);

  it('an edited event whose hash was recomputed is still caught by the next link and the log', async () => {
    const c = rehashCase;
    const { url, ctx, subject } = c;
    expect(ledgerVerifyCli(url)).toMatchObject({ status: 0 });
    // Rewrite seq 5 (the head: no next link) and fix its hash: only the Merkle log knows.
    await tamper(ctx, [
      `UPDATE ledger_events SET body = replace(body, '"reason":"r5"', '"reason":"rY"')
       WHERE subject_id = '${subject.id}' AND seq = 5`,
      `UPDATE ledger_events SET hash = sha256(convert_to(body, 'UTF8'))
       WHERE subject_id = '${subject.id}' AND seq = 5`,
    ]);
    const verdict = await custodyVerdict(c);
    expect(verdict).toMatchObject({ valid: false, firstInvalidSeq: 5 });
    expect(verdict.reason).toMatch(/Merkle log recorded/);
    const cli = ledgerVerifyCli(url);
    expect(cli.status).toBe(1);
    expect(cli.out).toContain(`seq 5`);
  }, 120_000);

  it('a deleted event is named (seq 2 missing)', async () => {
    const c = deleteCase;
    const { url, ctx, subject } = c;
    expect(ledgerVerifyCli(url)).toMatchObject({ status: 0 });
    await tamper(ctx, [
      `DELETE FROM log_entries WHERE event_id = (SELECT id FROM ledger_events WHERE subject_id = '${subject.id}' AND seq = 2)`,
      `DELETE FROM ledger_events WHERE subject_id = '${subject.id}' AND seq = 2`,
    ]);
    const verdict = await custodyVerdict(c);
    expect(verdict).toMatchObject({ valid: false, firstInvalidSeq: 2 });
    expect(verdict.reason).toMatch(/seq 2 is missing/);
    const cli = ledgerVerifyCli(url);
    expect(cli.status).toBe(1);
    expect(cli.out).toContain(`subject source:${subject.id} seq 2`);
  }, 120_000);

  it('two swapped events are named (seq 2)', async () => {
    const c = swapCase;
    const { url, ctx, subject } = c;
    expect(ledgerVerifyCli(url)).toMatchObject({ status: 0 });
    await tamper(ctx, [
      `UPDATE ledger_events SET seq = -2 WHERE subject_id = '${subject.id}' AND seq = 2`,
      `UPDATE ledger_events SET seq = 2 WHERE subject_id = '${subject.id}' AND seq = 3`,
      `UPDATE ledger_events SET seq = 3 WHERE subject_id = '${subject.id}' AND seq = -2`,
    ]);
    const verdict = await custodyVerdict(c);
    expect(verdict).toMatchObject({ valid: false, firstInvalidSeq: 2 });
    expect(verdict.reason).toMatch(/body says seq 3/);
    const cli = ledgerVerifyCli(url);
    expect(cli.status).toBe(1);
    expect(cli.out).toContain(`subject source:${subject.id} seq 2`);
  }, 120_000);

  it('an event rewritten with its log entry and the stored tree is caught by the signed checkpoints (seq 6)', async () => {
    const c = relogCase;
    const { ctx, subject } = c;
    const append = (n: number) =>
      writeTransaction(ctx.pool, (tx) =>
        appendEvent(tx, {
          subject,
          type: 'capture_requested',
          actor: 'system:test',
          data: { captureId: `c${n}`, reason: `r${n}` },
        }),
      );
    // seq 6 alone in its batch, so checkpoints signed before it vouch for seq 1-5.
    await append(6);
    await waitForIntegration(ctx);
    // The sequencer stops: it would otherwise sign the rewritten tree with its next batch.
    await c.sequencer.stop(Date.now() + 10_000);
    const before = await custodyVerdict(c);
    expect(before).toMatchObject({ valid: true, length: 6, pending: 0 });
    const size = before.checkpoint?.size ?? 0;
    expect(size).toBeGreaterThanOrEqual(6);
    // Not integrated yet: reported as pending, not as invalid.
    await append(7);
    expect(await custodyVerdict(c)).toMatchObject({
      valid: true,
      length: 7,
      pending: 1,
      checkpoint: { size },
    });

    // Forge seq 6, relink the pending seq 7 to it (the chain stays whole), fix the log entry.
    const where = `subject_id = '${subject.id}' AND seq = 6`;
    const seq7 = `subject_id = '${subject.id}' AND seq = 7`;
    await tamper(ctx, [
      `UPDATE ledger_events SET body = replace(body, '"reason":"r6"', '"reason":"rZ"') WHERE ${where}`,
      `UPDATE ledger_events SET hash = sha256(convert_to(body, 'UTF8')) WHERE ${where}`,
      `UPDATE ledger_events SET prev = (SELECT hash FROM ledger_events WHERE ${where}),
         body = replace(body, encode(prev, 'hex'), (SELECT encode(hash, 'hex') FROM ledger_events WHERE ${where}))
       WHERE ${seq7}`,
      `UPDATE ledger_events SET hash = sha256(convert_to(body, 'UTF8')) WHERE ${seq7}`,
      `UPDATE log_entries l SET event_hash = e.hash FROM ledger_events e WHERE e.id = l.event_id AND e.${where}`,
    ]);
    await tamper(ctx, await rebuiltStoredHashes(ctx));
    // The stored tree now agrees with the forged leaf: only the signatures disagree.
    const stored = await treeHash(size, hashReader(ctx.pool));
    const { rows } = await ctx.pool.query<{ n: string }>(
      'SELECT count(*)::text AS n FROM log_entries l JOIN ledger_events e ON e.id = l.event_id WHERE l.event_hash <> e.hash',
    );
    expect(rows[0]?.n).toBe('0');
    const verdict = await custodyVerdict(c);
    expect(verdict).toMatchObject({
      valid: false,
      firstInvalidSeq: 6,
      length: 7,
      pending: 1,
      checkpoint: { size },
    });
    expect(verdict.reason).toMatch(/not included in the signed checkpoint/);
    expect(stored.equals((await latestCheckpoint(ctx.pool))!.rootHash)).toBe(false);

    // Nor does the sequencer sign the rewritten tree when it integrates seq 7.
    const { signerKey } = await loadOrCreateSigningKey(
      ctx.config.LOG_SIGNING_KEY_FILE,
      ctx.config.LOG_ORIGIN,
      ctx.log,
    );
    const client = await ctx.pool.connect();
    try {
      const deps = { pool: ctx.pool, log: ctx.log, origin: ctx.config.LOG_ORIGIN, signerKey, batchSize: 100 };
      await expect(integrateBatch(client, deps)).rejects.toThrow(/not the tree this log last signed/);
    } finally {
      client.release();
    }
    expect((await latestCheckpoint(ctx.pool))?.size).toBe(size);
  }, 120_000);
});
