// Reading a guarded fetch's outcome in tests: the whole body, or the typed error it failed with.
import { expect } from 'vitest';
import {
  FetchRefusedError,
  FetchTransientError,
  type GuardedResponse,
} from '../../src/fetch/guarded-fetcher.ts';

export async function readAll(res: GuardedResponse): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of res.body) parts.push(chunk);
  return Buffer.concat(parts);
}

/** The error `work` rejects with; a test failure when it resolves. */
export async function failure(work: Promise<unknown>): Promise<unknown> {
  try {
    await work;
  } catch (err) {
    return err;
  }
  throw new Error('expected the fetch to fail');
}

/** `work` fails for good with `code` (and a detail matching `detail`, when given). */
export async function refused(
  work: Promise<unknown>,
  code: FetchRefusedError['code'],
  detail?: string | RegExp,
): Promise<FetchRefusedError> {
  const err = await failure(work);
  expect(err).toBeInstanceOf(FetchRefusedError);
  expect(err).toMatchObject({ code, permanent: true });
  if (detail !== undefined) expect((err as FetchRefusedError).detail).toMatch(detail);
  return err as FetchRefusedError;
}

/** `work` fails with a retryable `code` (and a detail matching `detail`, when given). */
export async function transient(
  work: Promise<unknown>,
  code: FetchTransientError['code'],
  detail?: string | RegExp,
): Promise<FetchTransientError> {
  const err = await failure(work);
  expect(err).toBeInstanceOf(FetchTransientError);
  expect(err).toMatchObject({ code, permanent: false });
  if (detail !== undefined) expect((err as FetchTransientError).detail).toMatch(detail);
  return err as FetchTransientError;
}
