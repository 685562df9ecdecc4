// Runs a command as a child process and measures its wall time and peak RSS: through GNU
// `/usr/bin/time -v` when the machine has it, otherwise (Node children only) through a
// preloaded module that writes process.resourceUsage().maxRSS when the child exits.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

export interface MeasuredRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  wallMs: number;
  /** Peak resident set size in bytes, when it could be measured. */
  maxRss: number | undefined;
  /** User + system CPU seconds of the child, when they could be measured. */
  cpuSeconds: number | undefined;
  via: string;
}

const GNU_TIME = '/usr/bin/time';

function hasGnuTime(): boolean {
  try {
    accessSync(GNU_TIME, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

// Writes the child's peak RSS (KiB) and CPU time (µs) to $BENCH_MAXRSS_FILE as it exits.
const MAXRSS_PRELOAD = `data:text/javascript,${encodeURIComponent(
  "import { writeFileSync } from 'node:fs'; process.on('exit', () => { const u = process.resourceUsage(); writeFileSync(process.env.BENCH_MAXRSS_FILE, u.maxRSS + ' ' + (u.userCPUTime + u.systemCPUTime)); });",
)}`;

/**
 * Runs `node nodeArgs...` (the same node binary as this process), measured. stdout and stderr
 * are collected; `echo` also forwards the child's stderr as it comes.
 */
export async function runNodeMeasured(
  nodeArgs: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; echoStderr?: boolean } = {},
): Promise<MeasuredRun> {
  const stamp = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const gnu = hasGnuTime();
  const reportFile = join(tmpdir(), `claimtrail-bench-rss-${stamp}`);
  const [cmd, args] = gnu
    ? [GNU_TIME, ['-v', '-o', reportFile, process.execPath, ...nodeArgs]]
    : [process.execPath, ['--import', MAXRSS_PRELOAD, ...nodeArgs]];
  const env = { ...(opts.env ?? process.env), ...(gnu ? {} : { BENCH_MAXRSS_FILE: reportFile }) };
  const started = performance.now();
  const child = spawn(cmd, args, { cwd: opts.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (opts.echoStderr) process.stderr.write(d);
  });
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve({ code: c, signal: s }));
    },
  );
  const wallMs = performance.now() - started;
  let maxRss: number | undefined;
  let cpuSeconds: number | undefined;
  try {
    const report = await readFile(reportFile, 'utf8');
    if (gnu) {
      const kib = /Maximum resident set size \(kbytes\): (\d+)/.exec(report)?.[1];
      const user = /User time \(seconds\): ([\d.]+)/.exec(report)?.[1];
      const system = /System time \(seconds\): ([\d.]+)/.exec(report)?.[1];
      if (kib) maxRss = Number(kib) * 1024;
      if (user && system) cpuSeconds = Number(user) + Number(system);
    } else {
      const [kib, micros] = report.trim().split(' ');
      if (kib) maxRss = Number(kib) * 1024;
      if (micros) cpuSeconds = Number(micros) / 1e6;
    }
  } catch {
    // The child died before writing it.
  } finally {
    await rm(reportFile, { force: true });
  }
  return {
    code,
    signal,
    stdout,
    stderr,
    wallMs,
    maxRss,
    cpuSeconds,
    via: gnu ? '/usr/bin/time -v' : 'process.resourceUsage() in the child',
  };
}

/** Runs a command, timed; rejects unless it exits 0. */
export async function runTimed(
  cmd: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<{ wallMs: number; stdout: string }> {
  const started = performance.now();
  const child = spawn(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  if (opts.input !== undefined) child.stdin!.end(opts.input);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  });
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr.trim().slice(0, 2000)}`);
  return { wallMs, stdout };
}
