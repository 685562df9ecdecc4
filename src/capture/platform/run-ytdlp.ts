// One yt-dlp process, fenced. It runs in a process group of its own (a new session), so a
// timeout or the worker's shutdown kills yt-dlp and anything it started (ffmpeg merging
// formats) with one signal to the group; under `setpriv --pdeathsig KILL` (util-linux) the
// kernel kills it too when the worker dies without a chance to clean up (SIGKILL), so a killed
// worker leaves no yt-dlp behind. Its environment is fixed: no http_proxy/no_proxy of the
// worker's (yt-dlp would honour no_proxy and go around the egress proxy), HOME and TMPDIR in
// the capture's own directory, a plain PATH.
import { type ChildProcess, spawn } from 'node:child_process';
import { isExecutable } from '../../media/ffprobe.ts';

/** Bytes of stdout and stderr kept (the end: yt-dlp says what went wrong last). */
const OUTPUT_TAIL_BYTES = 64 * 1024;
const SETPRIV = '/usr/bin/setpriv';

export interface YtdlpExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  /** Ended by killGroup() (the worker shutting down). */
  killed: boolean;
  stdout: string;
  stderr: string;
}

export interface RunningYtdlp {
  readonly pid: number | undefined;
  readonly exited: Promise<YtdlpExit>;
  /** SIGKILL to the whole process group. */
  killGroup(): void;
}

let setpriv: Promise<boolean> | undefined;
const hasSetpriv = () => {
  setpriv ??= isExecutable(SETPRIV);
  return setpriv;
};

function tail(chunks: Buffer[]): string {
  const all = Buffer.concat(chunks);
  return all.subarray(Math.max(0, all.length - OUTPUT_TAIL_BYTES)).toString('utf8');
}

function collect(stream: NodeJS.ReadableStream | null): Buffer[] {
  const chunks: Buffer[] = [];
  let size = 0;
  stream?.on('data', (c: Buffer) => {
    chunks.push(c);
    size += c.length;
    while (size - (chunks[0]?.length ?? 0) > OUTPUT_TAIL_BYTES) size -= chunks.shift()!.length;
  });
  return chunks;
}

export async function runYtdlp(
  path: string,
  args: readonly string[],
  opts: { cwd: string; timeoutMs: number },
): Promise<RunningYtdlp> {
  const [command, argv] = (await hasSetpriv())
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', path, ...args]]
    : [path, [...args]];
  const child: ChildProcess = spawn(command, argv, {
    cwd: opts.cwd,
    detached: true, // its own process group, killed as one
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      HOME: opts.cwd,
      TMPDIR: opts.cwd,
      LANG: 'C.UTF-8',
      PYTHONDONTWRITEBYTECODE: '1',
    },
  });
  let killed = false;
  let timedOut = false;
  const killGroup = () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // The group is gone already.
    }
  };
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup();
  }, opts.timeoutMs);
  const exited = new Promise<YtdlpExit>((resolve) => {
    child.on('error', (err) => {
      stderr.push(Buffer.from(`ERROR: ${err.message}\n`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // Whatever it started and left (a stray ffmpeg) goes with it.
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {}
      }
      resolve({ code, signal, timedOut, killed, stdout: tail(stdout), stderr: tail(stderr) });
    });
  });
  return {
    pid: child.pid,
    exited,
    killGroup: () => {
      killed = true;
      killGroup();
    },
  };
}
