// Stopping a service process a benchmark started (API, sequencer): SIGTERM for its graceful
// shutdown, SIGKILL if it is still there 15 s later. `exited` is the caller's once(child, 'exit'),
// taken when the child was spawned so an early exit is not missed.
import type { ChildProcess } from 'node:child_process';

export function stopperOf(child: ChildProcess, exited: Promise<unknown>): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
}
