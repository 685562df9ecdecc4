// The two lists the witness features are configured with (read in src/config/env.ts):
//   WITNESSES     the witnesses this log asks for cosignatures: `<cosigner vkey> <url>` entries
//   WITNESS_LOGS  the logs `claimtrail witness` follows: `[<origin> ]<log vkey>` entries
// Entries are separated by commas or newlines; within one, by spaces. A vkey holds neither.
import { parseVerifierKey } from '../../log/note.ts';
import { parseCosignerKey } from './cosignature.ts';

export interface WitnessTarget {
  /** The witness's name: its cosigner key's name. */
  name: string;
  /** Its cosigner verifier key `name+hexkeyid+base64(0x04 ‖ key)`. */
  verifierKey: string;
  /** Its submission prefix; requests go to `<url>/add-checkpoint`. */
  url: string;
}

export interface FollowedLog {
  origin: string;
  /** A verifier key `name+hexhash+base64(0x01 ‖ key)` trusted to sign the log's checkpoints. */
  verifierKey: string;
}

const entries = (value: string): string[][] =>
  value
    .split(/[,\n]/)
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => e.split(/\s+/));

/** Parses WITNESSES; throws an Error naming the bad entry. Names must be distinct. */
export function parseWitnesses(value: string): WitnessTarget[] {
  const list = entries(value).map((parts, i) => {
    const [verifierKey, url, ...rest] = parts;
    if (verifierKey === undefined || url === undefined || rest.length > 0) {
      throw new Error(`entry ${i + 1}: want "<cosigner vkey> <url>"`);
    }
    let name: string;
    try {
      name = parseCosignerKey(verifierKey).name;
    } catch (err) {
      throw new Error(`entry ${i + 1}: ${(err as Error).message}`);
    }
    if (!/^https?:\/\//.test(url) || !URL.canParse(url)) {
      throw new Error(`entry ${i + 1}: ${JSON.stringify(url)} is not an http:// or https:// URL`);
    }
    return { name, verifierKey, url: url.replace(/\/+$/, '') };
  });
  const names = new Set(list.map((w) => w.name));
  if (names.size !== list.length) throw new Error('two entries name the same witness');
  return list;
}

/** Parses WITNESS_LOGS; the origin defaults to the key's name (C2SP: it SHOULD match). */
export function parseFollowedLogs(value: string): FollowedLog[] {
  return entries(value).map((parts, i) => {
    if (parts.length < 1 || parts.length > 2) throw new Error(`entry ${i + 1}: want "[<origin> ]<vkey>"`);
    const verifierKey = parts.at(-1)!;
    let name: string;
    try {
      name = parseVerifierKey(verifierKey).name;
    } catch (err) {
      throw new Error(`entry ${i + 1}: ${(err as Error).message}`);
    }
    return { origin: parts.length === 2 ? parts[0]! : name, verifierKey };
  });
}
