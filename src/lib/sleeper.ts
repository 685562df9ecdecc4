// Sleeps of a background loop that its stop() cuts short: wakeAll() ends every sleep in
// progress at once (the sequencer, the timestamper and the cosigner's loops stop this way).
export interface Sleeper {
  /** Resolves after `ms`, or at wakeAll(). */
  sleep(ms: number): Promise<void>;
  /** Resolves when `p` settles, or at wakeAll(). */
  until(p: Promise<unknown>): Promise<void>;
  wakeAll(): void;
}

export function sleeper(): Sleeper {
  const wakers = new Set<() => void>();
  const wait = (arm: (done: () => void) => () => void) =>
    new Promise<void>((resolve) => {
      const done = () => {
        disarm();
        wakers.delete(done);
        resolve();
      };
      const disarm = arm(done);
      wakers.add(done);
    });
  return {
    sleep: (ms) =>
      wait((done) => {
        const t = setTimeout(done, ms);
        return () => clearTimeout(t);
      }),
    until: (p) =>
      wait((done) => {
        p.then(done, done);
        return () => {};
      }),
    wakeAll() {
      for (const done of [...wakers]) done();
    },
  };
}
