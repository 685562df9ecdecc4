// `claimtrail verify-export` as an auditor runs it: a separate process with no reachable
// database or Redis (bogus URLs). Resolves to its exit code and output.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

export function runVerifyCli(args: string[]) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/claimtrail.mjs', 'verify-export', ...args], {
      cwd: root,
      env: {
        ...process.env,
        // Nothing listens here: the command must not need either.
        DATABASE_URL: 'postgresql://nobody:nothing@127.0.0.1:9/none',
        REDIS_URL: 'redis://127.0.0.1:9',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
