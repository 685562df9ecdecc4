// Test fixtures: a real AppContext on this run's own database and Redis prefix
// (test/setup/global-setup.ts), closed after the file's tests.
import { afterAll } from 'vitest';
import { type Config, parseConfig } from '../../src/config/env.ts';
import { type AppContext, createContext } from '../../src/context.ts';

export function testConfig(overrides: Partial<Record<string, string>> = {}): Config {
  return parseConfig({ ...process.env, ...overrides });
}

/** A context for this test file; closed automatically after its tests. */
export function useTestContext(overrides: Partial<Record<string, string>> = {}): AppContext {
  const ctx = createContext(testConfig(overrides));
  afterAll(() => ctx.close());
  return ctx;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(fn: () => Promise<T>, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T;
  do {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, stepMs));
  } while (Date.now() < deadline);
  throw new Error(`condition not met within ${timeoutMs} ms (last value: ${JSON.stringify(last)})`);
}
