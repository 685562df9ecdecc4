// `claimtrail verify-export` as an auditor runs it: a separate process with no reachable
// database or Redis (bogus URLs). Resolves to its exit code and output.
import { runClaimtrail } from './cli.ts';

export function runVerifyCli(args: string[], timeoutMs?: number) {
  return runClaimtrail(
    ['verify-export', ...args],
    {
      // Nothing listens here: the command must not need either.
      DATABASE_URL: 'postgresql://nobody:nothing@127.0.0.1:9/none',
      REDIS_URL: 'redis://127.0.0.1:9',
    },
    timeoutMs,
  );
}
