// The bag's witness files (issue 15; src/exports/bag/export-layout.ts): the cosigned checkpoint
// must be signed by the log's key, be the bag's checkpoint or one proven to extend it, and — for
// each witness key the auditor names (--witness) — carry a valid cosignature/v1 by it; at least
// --min-witnesses of them must. A bag without these files (older, or made with no witnesses
// configured) still verifies unless the auditor asks for cosignatures.
import { parseCosignerKey } from '../../anchors/witness/cosignature.ts';
import { type Checkpoint, openCheckpoint } from '../../log/checkpoint.ts';
import { checkTree } from '../../log/merkle.ts';
import { NoteError, type NoteVerifier, openNote } from '../../log/note.ts';
import {
  WITNESS_CHECKPOINT_FILE,
  WITNESS_CONSISTENCY_FILE,
  WITNESS_NAMES_LABEL,
  WITNESS_SIZE_LABEL,
} from '../bag/export-layout.ts';
import { decodeUtf8, type ExportFiles } from './bag-zip.ts';
import type { Problems } from './problems.ts';

const MAX_FILE = 64 * 1024;

export interface WitnessOptions {
  /** Cosigner verifier keys the auditor trusts (`name+hexkeyid+base64(0x04 ‖ key)`). */
  witnesses: readonly string[];
  /** How many of them must have cosigned; default: all of them. */
  minWitnesses?: number;
}

export interface WitnessSummary {
  /** Size of the cosigned checkpoint the bag carries; null when it carries none. */
  cosignedSize: number | null;
  /** Names on the cosignature lines the bag carries. */
  carried: string[];
  /** Names of the given witnesses whose cosignature verified. */
  verified: string[];
  given: number;
  required: number;
}

/** A --witness value is not a cosigner key, or --min-witnesses cannot be met: a usage error. */
export class WitnessOptionError extends Error {
  override name = 'WitnessOptionError';
}

/** Parses the auditor's witness keys (throws WitnessOptionError). */
export function parseWitnessOptions(options: WitnessOptions) {
  const keys = options.witnesses.map((k) => {
    try {
      return parseCosignerKey(k.trim());
    } catch (err) {
      throw new WitnessOptionError(`--witness ${k}: ${(err as Error).message}`);
    }
  });
  const required = options.minWitnesses ?? keys.length;
  if (!Number.isSafeInteger(required) || required < 0 || required > keys.length) {
    throw new WitnessOptionError(
      `--min-witnesses ${required} must be between 0 and the number of --witness keys (${keys.length})`,
    );
  }
  return { keys, required };
}

async function readText(files: ExportFiles, path: string, problems: Problems): Promise<string | null> {
  const bytes = await files.read(path, MAX_FILE);
  const text = bytes && decodeUtf8(bytes);
  if (text === null) problems.add(`${path} is larger than ${MAX_FILE} bytes or not UTF-8`);
  return text;
}

/** The consistency file, exactly as the exporter writes it: `{"from","to","proof"}` + "\n",
 * proving that the bag's checkpoint is a prefix of the cosigned one. */
function checkConsistency(
  text: string,
  bagCheckpoint: Checkpoint,
  cosigned: Checkpoint,
  problems: Problems,
): void {
  let proof: Buffer[] | null = null;
  try {
    const d = JSON.parse(text) as { from?: unknown; to?: unknown; proof?: unknown };
    const canonical = `${JSON.stringify({ from: d.from, to: d.to, proof: d.proof })}\n` === text;
    if (canonical && d.from === bagCheckpoint.size && d.to === cosigned.size && Array.isArray(d.proof)) {
      const lines: unknown[] = d.proof;
      const hashes = lines.map((p) => (typeof p === 'string' ? Buffer.from(p, 'base64') : null));
      if (hashes.every((h, i) => h?.length === 32 && h.toString('base64') === lines[i])) {
        proof = hashes as Buffer[];
      }
    }
  } catch {
    // not JSON: reported below
  }
  if (!proof) {
    problems.add(
      `${WITNESS_CONSISTENCY_FILE} must be {"from":${bagCheckpoint.size},"to":${cosigned.size},"proof":[base64 hashes]} and a newline`,
    );
    return;
  }
  const holds =
    bagCheckpoint.size === cosigned.size
      ? proof.length === 0 && bagCheckpoint.rootHash.equals(cosigned.rootHash)
      : bagCheckpoint.size === 0 ||
        checkTree(proof, cosigned.size, cosigned.rootHash, bagCheckpoint.size, bagCheckpoint.rootHash);
  if (!holds) {
    problems.add(
      `${WITNESS_CONSISTENCY_FILE}: the cosigned checkpoint (size ${cosigned.size}) is not proven to extend the bag's checkpoint (size ${bagCheckpoint.size})`,
    );
  }
}

/**
 * Checks the witness files against the bag's checkpoint (opened with `logKey`, the pinned or
 * bundled key) and bag-info.txt's witness labels, and counts the given witnesses that cosigned.
 */
export async function checkWitnesses(
  files: ExportFiles,
  log: { checkpoint: Checkpoint | null; verifier: NoteVerifier | null },
  bagInfo: ReadonlyMap<string, string> | null,
  options: WitnessOptions,
  problems: Problems,
): Promise<WitnessSummary> {
  const { keys, required } = parseWitnessOptions(options);
  const summary: WitnessSummary = {
    cosignedSize: null,
    carried: [],
    verified: [],
    given: keys.length,
    required,
  };
  const present = files.has(WITNESS_CHECKPOINT_FILE);
  if (present !== files.has(WITNESS_CONSISTENCY_FILE)) {
    problems.add(`${WITNESS_CHECKPOINT_FILE} and ${WITNESS_CONSISTENCY_FILE} come together or not at all`);
  }
  const note = present ? await readText(files, WITNESS_CHECKPOINT_FILE, problems) : null;
  let cosigned: Checkpoint | null = null;
  if (note !== null && log.verifier) {
    try {
      cosigned = openCheckpoint(note, log.verifier).checkpoint;
      summary.cosignedSize = cosigned.size;
      summary.carried = openNote(note, [log.verifier]).unverifiedSignatures.map((s) => s.name);
    } catch (err) {
      problems.add(
        `${WITNESS_CHECKPOINT_FILE} is not a checkpoint signed by the log's key: ${(err as Error).message}`,
      );
    }
  }
  if (cosigned && log.checkpoint) {
    const text = files.has(WITNESS_CONSISTENCY_FILE)
      ? await readText(files, WITNESS_CONSISTENCY_FILE, problems)
      : null;
    if (text !== null) checkConsistency(text, log.checkpoint, cosigned, problems);
  }
  if (note !== null && cosigned) {
    for (const key of keys) {
      try {
        openNote(note, [key]);
        summary.verified.push(key.name);
      } catch (err) {
        // No line by this key: it did not cosign. A line by it that does not verify: forged.
        if (err instanceof NoteError && err.code === 'invalid_signature') {
          problems.add(`${WITNESS_CHECKPOINT_FILE}: the cosignature by ${key.name} does not verify`);
        }
      }
    }
  }
  if (bagInfo) checkWitnessLabels(bagInfo, summary, problems);
  if (summary.verified.length < required) {
    problems.add(
      `cosigned by ${summary.verified.length} of ${keys.length} witnesses, fewer than the ${required} required (--min-witnesses)`,
    );
  }
  return summary;
}

/** bag-info.txt's witness labels restate the witness files: present with them, equal to them. */
function checkWitnessLabels(info: ReadonlyMap<string, string>, s: WitnessSummary, problems: Problems): void {
  const size = info.get(WITNESS_SIZE_LABEL);
  const names = info.get(WITNESS_NAMES_LABEL);
  const wantSize = s.cosignedSize === null ? undefined : String(s.cosignedSize);
  const wantNames = s.cosignedSize === null ? undefined : [...new Set(s.carried)].join(', ');
  if (size !== wantSize) {
    problems.add(
      `bag-info.txt ${WITNESS_SIZE_LABEL} is ${size ?? 'absent'}, the witness files say ${wantSize ?? 'none'}`,
    );
  }
  if (names !== wantNames) {
    problems.add(
      `bag-info.txt ${WITNESS_NAMES_LABEL} is ${names ?? 'absent'}, the cosigned checkpoint carries ${wantNames ?? 'none'}`,
    );
  }
}
