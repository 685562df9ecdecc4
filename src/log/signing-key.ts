// The log's Ed25519 signing key, kept in LOG_SIGNING_KEY_FILE in Go's sumdb/note signer
// format (PRIVATE+KEY+name+hash+base64). Generated on first start, never logged.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { generateSignerKey, parseSignerKey, verifierKeyFromSigner } from './note.ts';

export interface LogKeys {
  signerKey: string;
  verifierKey: string;
}

/**
 * The trimmed content of a secret key file, created by `generate` (mode 0600, exclusive create
 * so two processes starting together agree on one key) when the file does not exist;
 * `onCreated` is told when this call wrote it.
 */
export async function readOrCreateKeyFile(
  file: string,
  generate: () => string,
  onCreated: () => void,
): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(file), { recursive: true });
    try {
      await writeFile(file, `${generate()}\n`, { mode: 0o600, flag: 'wx' });
      onCreated();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    return (await readFile(file, 'utf8')).trim();
  }
}

/** Loads the signing key, creating it when the file does not exist. Its name must be `origin`. */
export async function loadOrCreateSigningKey(file: string, origin: string, log: Logger): Promise<LogKeys> {
  let generated: LogKeys | undefined;
  const signerKey = await readOrCreateKeyFile(
    file,
    () => {
      generated = generateSignerKey(origin);
      return generated.signerKey;
    },
    () =>
      log.warn(
        { file, verifierKey: generated?.verifierKey },
        'generated a new log signing key: back it up, and publish the verifier key',
      ),
  );
  return checkedKeys(signerKey, file, origin);
}

/** The keys in `file`, or undefined when there is no such file (never creates one). */
export async function readSigningKey(file: string, origin: string): Promise<LogKeys | undefined> {
  try {
    return checkedKeys((await readFile(file, 'utf8')).trim(), file, origin);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

function checkedKeys(signerKey: string, file: string, origin: string): LogKeys {
  const parsed = parseSignerKey(signerKey);
  if (parsed.name !== origin) {
    throw new Error(`log signing key in ${file} is named "${parsed.name}" but LOG_ORIGIN is "${origin}"`);
  }
  return { signerKey, verifierKey: verifierKeyFromSigner(signerKey) };
}
