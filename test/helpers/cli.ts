// `claimtrail …` (bin/claimtrail.mjs) in a process of its own, as an operator or a deployment
// runs it: to completion with its exit code and output, or left running (a worker).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { waitFor } from './context.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

function start(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['bin/claimtrail.mjs', ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the command to its end (killed after `timeoutMs`: a hanging command fails its test). */
export function runClaimtrail(args: string[], env: Record<string, string>, timeoutMs = 30_000) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = start(args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts a long-running command (a worker); the caller stops it, before its database goes. */
export function spawnClaimtrail(args: string[], env: Record<string, string>) {
  const child = start(args, env);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return { child, exited, output: () => out };
}

/** Waits until a spawned command has printed `text` (failing with its output if it exits first). */
export async function waitForOutput(
  proc: ReturnType<typeof spawnClaimtrail>,
  text: string,
  timeoutMs = 60_000,
): Promise<void> {
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`exited early:\n${proc.output()}`);
      return proc.output().includes(text);
    },
    timeoutMs,
    100,
  );
}
