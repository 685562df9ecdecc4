// A client of the API over HTTP on loopback, as a newsroom's tool would be, for benchmarks and
// the scale run: an editor made with `claimtrail user add` (as an operator does), JSON calls
// with its token, and downloads streamed to a file.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { request } from 'undici';
import { runClaimtrail } from '../../test/helpers/cli.ts';

export interface Api {
  origin: string;
  /** Authorization header of the client's user. */
  headers: Record<string, string>;
  /** One JSON request; throws unless 2xx (the error names the call and the answer). */
  call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T>;
  /** GET `path` into `file`; throws unless 200. Returns the bytes written. */
  download(path: string, file: string): Promise<number>;
}

export function apiClient(origin: string, token: string): Api {
  const headers = { authorization: `Bearer ${token}` };
  return {
    origin,
    headers,
    async call<T>(method: 'GET' | 'POST', path: string, body?: unknown) {
      const r = await request(`${origin}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.body.text();
      if (r.statusCode >= 300)
        throw new Error(`${method} ${path}: HTTP ${r.statusCode} ${text.slice(0, 300)}`);
      return JSON.parse(text) as T;
    },
    async download(path: string, file: string) {
      const r = await request(`${origin}${path}`, { headers });
      if (r.statusCode !== 200) {
        const text = await r.body.text();
        throw new Error(`GET ${path}: HTTP ${r.statusCode} ${text.slice(0, 300)}`);
      }
      let bytes = 0;
      r.body.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      await pipeline(r.body, createWriteStream(file));
      return bytes;
    },
  };
}

/** `claimtrail user add --role editor` with `env` (its DATABASE_URL); returns the token. */
export async function createEditor(env: Record<string, string>, name = 'bench'): Promise<string> {
  const out = await runClaimtrail(['user', 'add', '--name', name, '--role', 'editor'], {
    ...env,
    LOG_LEVEL: 'warn',
  });
  if (out.code !== 0) throw new Error(`user add failed (exit ${out.code}):\n${out.stdout}${out.stderr}`);
  const created = JSON.parse(out.stdout.trim().split('\n').at(-1) ?? '') as { token?: string };
  if (!created.token) throw new Error(`user add printed no token: ${out.stdout}`);
  return created.token;
}
