// Exports carry the timestamps: a bag built by the real export job holds the timestamped
// checkpoint's exact bytes, the TSA's reply and chain, and (its own checkpoint being later) the
// consistency proof between the two; bag-info.txt says which. `claimtrail verify-export` checks
// them offline and says when the checkpoint existed; `openssl ts -verify` accepts the same files
// without our code; a forged timestamped checkpoint or a foreign CA fails the bag.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  chainFile,
  TIMESTAMP_CONSISTENCY_FILE,
  TIMESTAMPED_CHECKPOINT_FILE,
  tokenFile,
} from '../../src/anchors/timestamp/bag-timestamps.ts';
import { createUser } from '../../src/users/users.service.ts';
import { readBag, rewriteBag } from '../helpers/bag-fixture.ts';
import { useCaptureEnv } from '../helpers/capture-env.ts';
import { waitFor } from '../helpers/context.ts';
import { exportAndDownload } from '../helpers/export-download.ts';
import { serveText, useFixtureServer } from '../helpers/fixture-server.ts';
import { runVerifyCli } from '../helpers/verify-cli.ts';
import { startLocalTsa } from './local-tsa.ts';

const dir = mkdtempSync(join(tmpdir(), 'claimtrail-ts-export-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const tsa = await startLocalTsa();
afterAll(() => tsa.close());
const server = await useFixtureServer({ '/statement.txt': serveText('what was said', 'text/plain') });
const env = await useCaptureEnv({
  FETCH_ALLOWLIST: `${server.host},${tsa.host}`,
  TSA_URLS: tsa.url,
  TSA_CA_FILE: tsa.caFile,
});
const { app, ctx, cite, settled, investigationId } = env;
const admin = await createUser(ctx, { name: 'Timestamp admin', role: 'admin' }, 'system:test');
const as = (u: { token: string }) => ({ Authorization: `Bearer ${u.token}` });

const text = await cite(`${server.origin}/statement.txt`);
await settled(text.source.id);
// The sequencer's timestamper stamps the grown checkpoint (it looks every 5 s).
const stampedSize = await waitFor(async () => {
  const { rows } = await ctx.pool.query<{ size: string }>(
    'SELECT max(checkpoint_size)::text AS size FROM log_timestamps',
  );
  return rows[0]?.size ? Number(rows[0].size) : 0;
}, 20_000);

async function exportBag(): Promise<string> {
  const { id, file } = await exportAndDownload(app, as(admin), { investigationId, format: 'bagit' });
  const path = join(dir, `${id}.zip`);
  writeFileSync(path, file);
  return path;
}

const bagPath = await exportBag();
const bag = await readBag(bagPath);
const info = bag.files.get('bag-info.txt')!.toString();
const bagSize = Number(/^Checkpoint-Size: (\d+)$/m.exec(info)![1]);

describe('an export bag of a timestamped log', () => {
  it('carries the timestamped bytes, the reply, the chain and the consistency proof; bag-info says which', () => {
    expect(info).toContain(`Timestamped-Checkpoint-Size: ${stampedSize}\n`);
    expect(info).toContain('Timestamps: 1\n');
    const stamped = bag.files.get(TIMESTAMPED_CHECKPOINT_FILE)!.toString();
    expect(stamped.split('\n')[1]).toBe(String(stampedSize));
    expect(bag.files.get(chainFile(1))!.toString()).toMatch(/^-----BEGIN CERTIFICATE-----/);
    // The export's own records were logged after the timestamp: the bag's checkpoint extends it.
    expect(bagSize).toBeGreaterThan(stampedSize);
    const proof = JSON.parse(bag.files.get(TIMESTAMP_CONSISTENCY_FILE)!.toString());
    expect(proof).toMatchObject({ from: stampedSize, to: bagSize });
  });

  it('openssl ts -verify accepts the bag’s files as they are', () => {
    const out = join(dir, 'unzipped');
    execFileSync('mkdir', ['-p', out]);
    writeFileSync(join(out, 'timestamped-checkpoint'), bag.files.get(TIMESTAMPED_CHECKPOINT_FILE)!);
    writeFileSync(join(out, '1.tsr'), bag.files.get(tokenFile(1))!);
    const ok = execFileSync(
      'openssl',
      ['ts', '-verify', '-data', 'timestamped-checkpoint', '-in', '1.tsr', '-CAfile', tsa.caFile],
      { cwd: out, stdio: ['ignore', 'pipe', 'pipe'] },
    ).toString();
    expect(ok).toContain('Verification: OK');
    // The same tool refuses it over other bytes.
    writeFileSync(join(out, 'other'), 'another checkpoint\n');
    expect(() =>
      execFileSync('openssl', ['ts', '-verify', '-data', 'other', '-in', '1.tsr', '-CAfile', tsa.caFile], {
        cwd: out,
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ).toThrow();
  });

  it('verify-export --tsa-ca checks them offline and says when the checkpoint existed', async () => {
    const r = await runVerifyCli([bagPath, '--tsa-ca', tsa.caFile]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const n = stampedSize.toLocaleString('en-US');
    expect(r.stdout).toMatch(
      new RegExp(
        `checkpoint ${n} existed by \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ per CN=tsa, O=claimtrail tests`,
      ),
    );
    expect(r.stdout).not.toContain('WARNING');
  });

  it('without --tsa-ca, trusts the bundled chain and warns', async () => {
    const r = await runVerifyCli([bagPath]);
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toContain('existed by');
    expect(r.stdout).toContain('WARNING: TSA chains trusted as bundled in the bag');
  });

  it('with another CA as --tsa-ca, the timestamp does not chain: the bag fails', async () => {
    const r = await runVerifyCli([bagPath, '--tsa-ca', tsa.otherCaFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /timestamps\/1\.tsr: the signing certificate does not chain to a trusted anchor/,
    );
  });

  it('a forged timestamped checkpoint fails, even with the manifests recomputed', async () => {
    const forged = await rewriteBag(
      bagPath,
      join(dir, 'forged.zip'),
      (c) => {
        const note = c.files.get(TIMESTAMPED_CHECKPOINT_FILE)!.toString();
        c.files.set(TIMESTAMPED_CHECKPOINT_FILE, Buffer.from(note.replace(/\n\n/, '\nextension\n\n')));
      },
      { recomputeManifests: true },
    );
    const r = await runVerifyCli([forged, '--tsa-ca', tsa.caFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('timestamped-checkpoint is not a checkpoint signed by the log');
  });

  it('a bag-info that names another timestamped checkpoint fails', async () => {
    const lying = await rewriteBag(
      bagPath,
      join(dir, 'lying.zip'),
      (c) => {
        const text = c.files.get('bag-info.txt')!.toString();
        c.files.set('bag-info.txt', Buffer.from(text.replace(/^Timestamps: 1$/m, 'Timestamps: 2')));
      },
      { recomputeManifests: true },
    );
    const r = await runVerifyCli([lying, '--tsa-ca', tsa.caFile]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('bag-info.txt Timestamps is "2", expected "1"');
  });
});
