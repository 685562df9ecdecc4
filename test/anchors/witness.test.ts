// Witness cosignatures end to end (issue 15 parts 2-4): a claimtrail log signed with Go's
// published test key (PeterNeumann, the vectors of test/unit/note.test.ts) and two in-process
// `claimtrail witness` servers on loopback ports, each with a database of its own. The real
// sequencer asks both to cosign; /v1/log/checkpoint then opens with the log's Go-format key and
// with each witness's vkey (and the cosignature lines are checked once more with node:crypto
// alone). A forked log (same key, another tree) and a log that rewrote its history get no
// cosignature, and the fork is logged at error level. An export carries the cosignatures and
// `verify-export --witness … --min-witnesses …` checks them offline.
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import request from 'supertest';
import { afterAll, describe, expect, it } from 'vitest';
import { formatAddCheckpoint } from '../../src/anchors/witness/add-checkpoint.ts';
import type { CosignFailure } from '../../src/anchors/witness/cosign-client.ts';
import {
  generateCosignerKey,
  parseCosignerKey,
  parseCosignerSignerKey,
} from '../../src/anchors/witness/cosignature.ts';
import { cosignerWitness, cosignLatest } from '../../src/anchors/witness/cosigner.ts';
import { witnessFetcher } from '../../src/anchors/witness/cosigner-component.ts';
import { addCheckpoint } from '../../src/anchors/witness/witness.ts';
import { createContext } from '../../src/context.ts';
import { buildExport } from '../../src/exports/export-build.ts';
import { requestExport } from '../../src/exports/exports.service.ts';
import { verifyExport } from '../../src/exports/verify/verify-export.ts';
import { WitnessOptionError } from '../../src/exports/verify/witness-check.ts';
import { createApp } from '../../src/http/app.ts';
import { createInvestigation } from '../../src/investigations/investigations.service.ts';
import { openCheckpoint, signCheckpoint } from '../../src/log/checkpoint.ts';
import { latestCheckpoint } from '../../src/log/log.repository.ts';
import { type HashReader, proveTree, storedHashesForBatch, treeHash } from '../../src/log/merkle.ts';
import { generateSignerKey, openNote, parseVerifierKey } from '../../src/log/note.ts';
import { ensureInitialCheckpoint, integrateBatch } from '../../src/log/sequencer.ts';
import { createUser } from '../../src/users/users.service.ts';
import { buildFixtureBag, readBag, rewriteBag } from '../helpers/bag-fixture.ts';
import { testConfig, useTestContext, waitFor } from '../helpers/context.ts';
import { asOwner } from '../helpers/databases.ts';
import { PETER_SKEY, PETER_VKEY } from '../helpers/go-note-keys.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';
import { appendMany, newSubject } from '../helpers/ledger-fixtures.ts';
import { useSequencer, waitForIntegration } from '../helpers/sequencer.ts';
import { runVerifyCli } from '../helpers/verify-cli.ts';
import { captureLog, scratchDir, startTestWitness, witnessesEnv } from './witness-support.ts';

// The log is signed with Go's note test key (test/helpers/go-note-keys.ts).
const ORIGIN = 'PeterNeumann';

const dir = await scratchDir('witness');
const keyFile = join(dir, 'log.key');
await writeFile(keyFile, `${PETER_SKEY}\n`);
const w1 = await startTestWitness('wit_w1', 'witness.test/w1', PETER_VKEY);
const w2 = await startTestWitness('wit_w2', 'witness.test/w2', PETER_VKEY);
const logOverrides = {
  DATABASE_URL: await createIsolatedDatabase('wit_log'),
  LOG_SIGNING_KEY_FILE: keyFile,
  LOG_ORIGIN: ORIGIN,
  SEQUENCER_INTERVAL_MS: '100',
  WITNESSES: witnessesEnv([w1, w2]),
  FETCH_ALLOWLIST: '127.0.0.1',
  BLOB_DIR: join(dir, 'blobs'),
  REDIS_PREFIX: `${process.env.REDIS_PREFIX}:witness`,
};
const ctx = useTestContext(logOverrides);
const captured = captureLog();
ctx.log = captured.log;
const sequencer = await useSequencer(ctx);
const { app } = createApp(ctx);

// A second log with the same key and origin, in a database of its own: a split view.
const forkCtx = createContext(
  testConfig({ ...logOverrides, DATABASE_URL: await createIsolatedDatabase('wit_fork'), WITNESSES: '' }),
);
afterAll(() => forkCtx.close());

const cosignedBy = async (pool: typeof ctx.pool, size: number) =>
  (
    await pool.query<{ witness_name: string }>(
      'SELECT witness_name FROM log_cosignatures WHERE size = $1 ORDER BY witness_name',
      [size],
    )
  ).rows.map((r) => r.witness_name);

/** Appends n events, waits for them to be integrated and the latest checkpoint cosigned by both. */
async function growAndCosign(n: number): Promise<number> {
  await appendMany(ctx.pool, newSubject(), n);
  await waitForIntegration(ctx);
  const size = (await latestCheckpoint(ctx.pool))!.size;
  await waitFor(async () => (await cosignedBy(ctx.pool, size)).length === 2, 20_000);
  return size;
}

const witnessHead = async (w: typeof w1) =>
  (await w.ctx.pool.query<{ size: string }>('SELECT size FROM witness_logs WHERE origin = $1', [ORIGIN]))
    .rows[0]?.size;

/** Independent check of one cosignature line: node:crypto and the C2SP text, nothing of ours. */
function checkCosignatureLine(line: string, text: string, vkey: string): void {
  const [name, b64] = line.slice('\u2014 '.length).split(' ') as [string, string];
  // name+hexkeyid+base64key: the base64 may itself hold '+'.
  const [, , hashHex, key64] = /^([^+]+)\+([0-9a-f]{8})\+(.+)$/.exec(vkey) as unknown as [
    string,
    string,
    string,
    string,
  ];
  const key = Buffer.from(key64, 'base64');
  expect(key[0]).toBe(0x04);
  const keyId = createHash('sha256').update(`${name}\n`).update(key).digest().subarray(0, 4);
  expect(keyId.toString('hex')).toBe(hashHex);
  const raw = Buffer.from(b64, 'base64');
  expect(raw.length).toBe(4 + 8 + 64);
  expect(raw.subarray(0, 4)).toEqual(keyId);
  const time = raw.readBigUInt64BE(4);
  expect(Number(time)).toBeGreaterThan(Date.now() / 1000 - 600);
  const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), key.subarray(1)]);
  const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
  const message = Buffer.from(`cosignature/v1\ntime ${time}\n${text}`);
  expect(cryptoVerify(null, message, publicKey, raw.subarray(12))).toBe(true);
  const tampered = Buffer.from(`cosignature/v1\ntime ${time + 1n}\n${text}`);
  expect(cryptoVerify(null, tampered, publicKey, raw.subarray(12))).toBe(false);
}

describe('witness cosignatures', () => {
  let firstSize = 0;

  it('two witnesses cosign each new checkpoint; the served checkpoint opens with every key', async () => {
    firstSize = await growAndCosign(5);
    const secondSize = await growAndCosign(3); // old size = what each witness cosigned, with a proof
    expect(secondSize).toBeGreaterThan(firstSize);
    expect(await witnessHead(w1)).toBe(String(secondSize));
    expect(await witnessHead(w2)).toBe(String(secondSize));

    const res = await request(app).get('/v1/log/checkpoint');
    expect(res.status).toBe(200);
    const note: string = res.text;
    // The log's own Go-format key opens it; the two witness lines are set aside as unknown.
    const byLog = openNote(note, PETER_VKEY);
    expect(byLog.signatures.map((s) => s.name)).toEqual([ORIGIN]);
    expect(byLog.unverifiedSignatures.map((s) => s.name)).toEqual(['witness.test/w1', 'witness.test/w2']);
    expect(openCheckpoint(note, PETER_VKEY).checkpoint.size).toBe(secondSize);
    // Each witness's vkey opens it alone (as torchwood's CosignatureVerifier does with note.Open).
    for (const w of [w1, w2]) {
      const opened = openNote(note, [parseCosignerKey(w.verifierKey)]);
      expect(opened.signatures.map((s) => s.name)).toEqual([w.name]);
    }
    const lines = note
      .slice(note.lastIndexOf('\n\n') + 2)
      .trimEnd()
      .split('\n');
    expect(lines).toHaveLength(3);
    checkCosignatureLine(lines[1]!, byLog.text, w1.verifierKey);
    checkCosignatureLine(lines[2]!, byLog.text, w2.verifierKey);

    // The witness serves what it cosigned (C2SP monitoring endpoint): the log's and its signature.
    const originHash = createHash('sha256').update(ORIGIN).digest('hex');
    const served = await fetch(`${w1.url}/${originHash}/checkpoint`);
    const theirs = await served.text();
    expect(openCheckpoint(theirs, PETER_VKEY).checkpoint.size).toBe(secondSize);
    expect(openNote(theirs, [parseCosignerKey(w1.verifierKey)]).signatures).toHaveLength(1);

    const metrics = await request(app).get('/metrics');
    expect(metrics.text).toMatch(
      /claimtrail_witness_cosignatures_total\{witness="witness.test\/w1",outcome="obtained",reason=""\} [2-9]/,
    );
  }, 90_000);

  it('the witness server answers the protocol: 409 with its size, 404, 403, 400, 422', async () => {
    const cp = (await latestCheckpoint(ctx.pool))!;
    const post = (body: string) =>
      fetch(`${w1.url}/add-checkpoint`, { method: 'POST', body }).then(async (r) => ({
        status: r.status,
        type: r.headers.get('content-type'),
        text: await r.text(),
      }));
    const stale = await post(`old 0\n\n${cp.note}`);
    expect(stale).toEqual({ status: 409, type: 'text/x.tlog.size', text: `${cp.size}\n` });
    expect((await post(`old ${cp.size}\n\n${cp.note.replace(ORIGIN, 'Other')}`)).status).toBe(404);
    const forged = cp.note.replace(/ \S+\n$/, ` ${Buffer.alloc(68, 7).toString('base64')}\n`);
    expect((await post(`old ${cp.size}\n\n${forged}`)).status).toBe(403);
    expect((await post(`old x\n\n${cp.note}`)).status).toBe(400);
    expect((await post(`old ${cp.size + 1}\n\n${cp.note}`)).status).toBe(400);
    expect((await post(`old 0\n${'A'.repeat(43)}=\n\n${cp.note}`)).status).toBe(422);
    // The same size again, with its own root: cosigned again (idempotent); the head stays.
    expect((await post(`old ${cp.size}\n\n${cp.note}`)).status).toBe(200);
    expect(await witnessHead(w1)).toBe(String(cp.size));
  });

  it('the witness advances a head atomically: of racing requests from one old size, one wins', async () => {
    // A log of this test's own (origin race.test/log), its tree built in memory.
    const keys = generateSignerKey('race.test/log');
    const stored = new Map<number, Buffer>();
    const read: HashReader = async (indexes) => indexes.map((i) => stored.get(i)!);
    const leaves = Array.from({ length: 9 }, (_, i) => createHash('sha256').update(`leaf ${i}`).digest());
    for (const { index, hash } of await storedHashesForBatch(0, leaves, read)) stored.set(index, hash);
    const signed = async (size: number) =>
      signCheckpoint({ origin: 'race.test/log', size, rootHash: await treeHash(size, read) }, keys.signerKey);
    const cosigner = parseCosignerSignerKey(generateCosignerKey('witness.test/race').signerKey);
    const deps = {
      db: w1.ctx.pool,
      cosigner,
      logs: new Map([['race.test/log', [parseVerifierKey(keys.verifierKey)]]]),
      log: captureLog().log,
    };
    const add = async (old: number, size: number) => {
      const proof = old === 0 ? [] : await proveTree(size, old, read);
      return addCheckpoint(deps, Buffer.from(formatAddCheckpoint(old, proof, await signed(size))));
    };
    expect((await add(0, 2)).status).toBe(200);
    const replies = await Promise.all([3, 4, 5, 6, 7, 8, 9].map((size) => add(2, size)));
    const won = replies.filter((r) => r.status === 200);
    expect(won).toHaveLength(1);
    const winner = [3, 4, 5, 6, 7, 8, 9][replies.indexOf(won[0]!)]!;
    for (const r of replies.filter((x) => x.status !== 200)) {
      expect(r).toEqual({ status: 409, contentType: 'text/x.tlog.size', body: `${winner}\n` });
    }
    const { rows } = await w1.ctx.pool.query<{ size: string }>(
      'SELECT size FROM witness_logs WHERE origin = $1',
      ['race.test/log'],
    );
    expect(rows[0]?.size).toBe(String(winner));
    // A rollback is refused: the old head's size is no longer the witness's.
    expect((await add(2, 3)).status).toBe(409);
  });

  it('an export carries the cosignatures; verify-export checks them with --witness and --min-witnesses', async () => {
    const user = await createUser(ctx, { name: 'Witnessed auditor', role: 'editor' }, 'system:test');
    const p = { id: user.id, name: user.name, role: user.role };
    const inv = await createInvestigation(ctx, p, { title: 'Witnessed export' });
    const requested = await requestExport(ctx, p, { investigationId: inv.id, format: 'bagit' });
    const built = await buildExport(ctx, requested.id, captured.log);
    const file = join(dir, 'witnessed.zip');
    await pipeline(ctx.blobs.read(built.sha256!), createWriteStream(file));
    const bag = await readBag(file);
    const info = bag.files.get('bag-info.txt')!.toString();
    const cosigned = openCheckpoint(bag.files.get('data/log/witness/checkpoint')!.toString(), PETER_VKEY);
    expect(info).toContain(`Witness-Checkpoint-Size: ${cosigned.checkpoint.size}\n`);
    expect(info).toContain('Witness-Cosigners: witness.test/w1, witness.test/w2\n');

    const both = ['--witness', w1.verifierKey, '--witness', w2.verifierKey];
    const ok = await runVerifyCli([file, '--key', PETER_VKEY, ...both]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/witnesses: checkpoint [\d,]+ cosigned by 2 of 2 witnesses/);

    // A key that never cosigned (same name, another key): 1 of 2, too few unless 1 is enough.
    const stranger = generateCosignerKey(w2.name).verifierKey;
    const tooFew = await runVerifyCli([file, '--witness', w1.verifierKey, '--witness', stranger]);
    expect(tooFew.code).toBe(1);
    expect(tooFew.stdout).toMatch(/cosigned by 1 of 2 witnesses/);
    const report = (witnesses: string[], minWitnesses?: number) =>
      verifyExport(file, { witness: { witnesses, ...(minWitnesses === undefined ? {} : { minWitnesses }) } });
    expect((await report([w1.verifierKey, stranger], 1)).ok).toBe(true);
    expect((await report([])).ok).toBe(true); // carried, not checked
    // A log key is no witness key, and 2 of 1 cannot be met: usage errors (exit 2), not verdicts.
    await expect(report([PETER_VKEY])).rejects.toThrow(WitnessOptionError);
    await expect(report([w1.verifierKey], 2)).rejects.toThrow(WitnessOptionError);

    // A forged cosignature (manifests recomputed, as a careful forger would) does not verify.
    const forged = await rewriteBag(
      file,
      join(dir, 'forged.zip'),
      (c) => {
        const note = c.files.get('data/log/witness/checkpoint')!.toString();
        const i = note.indexOf('\u2014 witness.test/w1 ') + 40;
        const flipped = note.slice(0, i) + (note[i] === 'A' ? 'B' : 'A') + note.slice(i + 1);
        c.files.set('data/log/witness/checkpoint', Buffer.from(flipped));
      },
      { recomputeManifests: true },
    );
    const forgedReport = await verifyExport(forged, { witness: { witnesses: [w1.verifierKey] } });
    expect(forgedReport.ok).toBe(false);
    expect(forgedReport.problems.join('\n')).toMatch(/cosignature by witness.test\/w1 does not verify/);

    // An older bag, without witness files, still verifies; asked for cosignatures, it has none.
    const old = await buildFixtureBag(await scratchDir('witness-old-bag'));
    expect((await verifyExport(old.path)).ok).toBe(true);
    const asked = await verifyExport(old.path, { witness: { witnesses: [w1.verifierKey] } });
    expect(asked.ok).toBe(false);
    expect(asked.problems).toContain(
      'cosigned by 0 of 1 witnesses, fewer than the 1 required (--min-witnesses)',
    );
  }, 120_000);

  describe('a forked log: the same key, another tree', () => {
    const forkLog = captureLog();
    const failures: [string, CosignFailure][] = [];
    const forks: string[] = [];
    const deps = {
      pool: forkCtx.pool,
      log: forkLog.log,
      fetcher: witnessFetcher(forkCtx.config),
      witnesses: [],
      logVerifierKey: PETER_VKEY,
      stats: {
        obtained: () => {},
        failed: (w: string, r: CosignFailure) => failures.push([w, r]),
        fork: (w: string) => forks.push(w),
      },
      intervalMs: 100,
    };
    const seqDeps = {
      pool: forkCtx.pool,
      log: forkLog.log,
      origin: ORIGIN,
      signerKey: PETER_SKEY,
      batchSize: 1000,
    };
    /** Grows the fork to `size` leaves and signs it. */
    const growForkTo = async (size: number) => {
      const client = await forkCtx.pool.connect();
      try {
        await ensureInitialCheckpoint(client, seqDeps);
        const have = (await latestCheckpoint(forkCtx.pool))!.size;
        await appendMany(forkCtx.pool, newSubject(), size - have);
        await integrateBatch(client, seqDeps);
      } finally {
        client.release();
      }
      return (await latestCheckpoint(forkCtx.pool))!;
    };
    const forkLines = () =>
      forkLog.lines.filter((l) => l.level === 50 && String(l.msg).startsWith('LOG FORK'));

    it('a witness that has seen a larger tree (409): no cosignature, the fork logged', async () => {
      const witnessSize = Number(await witnessHead(w1));
      const cp = await growForkTo(2);
      expect(cp.size).toBeLessThan(witnessSize);
      expect(await cosignLatest(deps, cosignerWitness(w1), cp)).toBe(false);
      expect(await cosignedBy(forkCtx.pool, cp.size)).toEqual([]);
      expect(forks).toEqual([w1.name]);
      const [line] = forkLines();
      // The witness's copy of "our" checkpoint, signed by our key, names what it holds.
      expect(line).toMatchObject({ witness: w1.name, size: 2, witnessSize });
      expect(await witnessHead(w1)).toBe(String(witnessSize));
    });

    it('the same size with another root (409, then 422): no cosignature, the fork logged', async () => {
      const witnessSize = Number(await witnessHead(w2));
      const cp = await growForkTo(witnessSize);
      expect(cp.size).toBe(witnessSize);
      expect(await cosignLatest(deps, cosignerWitness(w2), cp)).toBe(false);
      expect(await cosignedBy(forkCtx.pool, cp.size)).toEqual([]);
      expect(failures).toContainEqual([w2.name, 'inconsistent']);
      const line = forkLines().at(-1)!;
      expect(line).toMatchObject({ witness: w2.name, witnessSize });
      expect(line.witnessRoot).not.toBe(line.ourRoot);
      expect(line.ourRoot).toBe(cp.rootHash.toString('base64'));
      // The witness logged it too (it MAY: the request is evidence of misbehaviour).
      expect(w2.captured.lines.some((l) => l.level === 50 && String(l.msg).includes('fork'))).toBe(true);
    });
  });

  it('a log that rewrites its history after a cosignature cannot obtain another one', async () => {
    await sequencer.stop(Date.now() + 10_000);
    const before = (await latestCheckpoint(ctx.pool))!;
    // The operator drops the first event and rebuilds the log over the rest, re-signing it.
    await asOwner(logOverrides.DATABASE_URL, async (c) => {
      const tables = [
        'ledger_events',
        'log_entries',
        'log_hashes',
        'log_checkpoints',
        'log_cosignatures',
        'log_timestamps',
      ];
      for (const t of tables) await c.query(`ALTER TABLE ${t} DISABLE TRIGGER USER`);
      await c.query('TRUNCATE log_timestamps, log_cosignatures, log_checkpoints, log_hashes, log_entries');
      await c.query('DELETE FROM ledger_events WHERE id = (SELECT min(id) FROM ledger_events)');
      await c.query('INSERT INTO log_pending (event_id) SELECT id FROM ledger_events');
      for (const t of tables) await c.query(`ALTER TABLE ${t} ENABLE TRIGGER USER`);
    });
    await appendMany(ctx.pool, newSubject(), 3);
    const seqDeps = {
      pool: ctx.pool,
      log: captured.log,
      origin: ORIGIN,
      signerKey: PETER_SKEY,
      batchSize: 1000,
    };
    const client = await ctx.pool.connect();
    try {
      await ensureInitialCheckpoint(client, seqDeps);
      await integrateBatch(client, seqDeps);
    } finally {
      client.release();
    }
    const rewritten = (await latestCheckpoint(ctx.pool))!;
    expect(rewritten.size).toBe(before.size + 2);
    const deps = {
      pool: ctx.pool,
      log: captured.log,
      fetcher: witnessFetcher(ctx.config),
      witnesses: [],
      logVerifierKey: PETER_VKEY,
      stats: { obtained: () => {}, failed: () => {}, fork: () => {} },
      intervalMs: 100,
    };
    for (const w of [w1, w2]) {
      expect(await cosignLatest(deps, cosignerWitness(w), rewritten)).toBe(false);
      expect(await witnessHead(w)).toBe(String(before.size));
    }
    expect(await cosignedBy(ctx.pool, rewritten.size)).toEqual([]);
    const reports = captured.lines.filter((l) => l.level === 50 && String(l.msg).startsWith('LOG FORK'));
    expect(reports.map((l) => l.witness)).toEqual([w1.name, w2.name]);
  });
});
