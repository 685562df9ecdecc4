// API tokens: 256 random bits shown once, stored only as SHA-256.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

const prefix = 'ct_';

export function newToken(): { token: string; hash: Buffer } {
  const token = prefix + randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}

export const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/** Constant-time comparison of a presented token's hash (hashToken, computed once by the
 * caller for its lookup) with a stored hash. */
export const hashMatches = (presented: Buffer, stored: Uint8Array): boolean =>
  presented.length === stored.length && timingSafeEqual(presented, stored);

export const looksLikeToken = (value: string) => /^ct_[A-Za-z0-9_-]{43}$/.test(value);
