// The sequencer as the service runs it: `claimtrail sequencer`, a process of its own, on a
// benchmark's database (as the runtime role) and key. Its debug log lines give each batch's size
// and duration. In the benchmark's own process it would share an event loop with the load
// generator, whose every round trip then waits behind 32 busy clients.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { BenchResources } from './bench-db.ts';
import { stopperOf } from './child-stop.ts';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface BatchTime {
  /** Date.now() when the bench read the line (the batch's end, give or take a pipe). */
  at: number;
  integrated: number;
  ms: number;
}

export interface SequencerProcess {
  pid: number;
  batches: BatchTime[];
  /** SIGTERM (the component finishes its batch), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

export async function startSequencerProcess(
  res: BenchResources,
  opts: { batchSize: number; intervalMs: number },
): Promise<SequencerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['bin/claimtrail.mjs', 'sequencer'], {
    cwd: projectRoot,
    env: {
      ...process.env,
      ...res.env,
      LOG_LEVEL: 'debug',
      SEQUENCER_BATCH_SIZE: String(opts.batchSize),
      SEQUENCER_INTERVAL_MS: String(opts.intervalMs),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const batches: BatchTime[] = [];
  const problems: string[] = [];
  let holding: () => void = () => {};
  const active = new Promise<void>((resolve) => {
    holding = resolve;
  });
  let rest = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString()).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.trim()) continue;
      let entry: { level?: number; msg?: string; integrated?: number; ms?: number };
      try {
        entry = JSON.parse(line);
      } catch {
        problems.push(line);
        continue;
      }
      if (entry.msg === 'batch integrated')
        batches.push({ at: Date.now(), integrated: entry.integrated ?? 0, ms: entry.ms ?? 0 });
      else if (entry.msg?.startsWith('sequencer holds the lease')) holding();
      else if ((entry.level ?? 0) >= 40) problems.push(line);
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => problems.push(chunk.toString()));
  const exited = once(child, 'exit');
  const stop = stopperOf(child, exited);
  const failed = exited.then(([code]) => {
    throw new Error(`the sequencer exited (${code}) before it held the lease:\n${problems.join('\n')}`);
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`the sequencer did not start within 60 s:\n${problems.join('\n')}`)),
      60_000,
    ).unref(),
  );
  try {
    await Promise.race([active, failed, timeout]);
  } catch (err) {
    await stop();
    throw err;
  }
  failed.catch(() => undefined);
  child.on('exit', (code, signal) => {
    if (code !== 0 && signal !== 'SIGTERM')
      console.error(`sequencer process exited (${code ?? signal}):\n${problems.join('\n')}`);
  });
  return { pid: child.pid ?? -1, batches, stop };
}
