// Witness test fixtures: a claimtrail log or a `claimtrail witness` server, each in a database
// of its own (a witness keeps one head per origin, so two witnesses cannot share one), and a
// logger whose lines the test reads (fork reports are error lines).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Logger, pino } from 'pino';
import { afterAll } from 'vitest';
import { generateCosignerKey } from '../../src/anchors/witness/cosignature.ts';
import { startWitness } from '../../src/anchors/witness/witness-server.ts';
import type { AppContext } from '../../src/context.ts';
import { useTestContext } from '../helpers/context.ts';
import { createIsolatedDatabase } from '../helpers/isolated-db.ts';

export interface CapturedLog {
  log: Logger;
  lines: Record<string, unknown>[];
}

/** A debug-level logger keeping every line, parsed. */
export function captureLog(): CapturedLog {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

/** A scratch directory removed after the file's tests. */
export async function scratchDir(label: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `claimtrail-${label}-`));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface TestWitness {
  name: string;
  url: string;
  verifierKey: string;
  ctx: AppContext;
  captured: CapturedLog;
}

/** Our `claimtrail witness` server code on a loopback port, following `logs` (WITNESS_LOGS). */
export async function startTestWitness(label: string, name: string, logs: string): Promise<TestWitness> {
  const dir = await scratchDir(label);
  const keys = generateCosignerKey(name);
  const keyFile = join(dir, 'witness.key');
  await writeFile(keyFile, `${keys.signerKey}\n`, { mode: 0o600 });
  const ctx = useTestContext({
    DATABASE_URL: await createIsolatedDatabase(label),
    WITNESS_KEY_FILE: keyFile,
    WITNESS_NAME: name,
    WITNESS_PORT: '0',
    WITNESS_LOGS: logs,
    HOST: '127.0.0.1',
  });
  const captured = captureLog();
  ctx.log = captured.log;
  const witness = await startWitness(ctx);
  afterAll(() => witness.stop(Date.now() + 5_000));
  const { port } = witness.server.address() as { port: number };
  return { name, url: `http://127.0.0.1:${port}`, verifierKey: keys.verifierKey, ctx, captured };
}

/** The WITNESSES value naming these witnesses. */
export const witnessesEnv = (ws: readonly { verifierKey: string; url: string }[]): string =>
  ws.map((w) => `${w.verifierKey} ${w.url}`).join(',');
