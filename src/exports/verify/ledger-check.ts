// The bag's chains of custody and their inclusion proofs, streamed: each subject's jsonl file
// is read line by line through the ledger's own ChainChecker, and proofs.jsonl — which follows
// the same order — is read alongside, so no per-event state is kept.
import { type EventBody, sha256Hex } from '../../ledger/canonical.ts';
import { ChainChecker } from '../../ledger/chain-verify.ts';
import type { Subject } from '../../ledger/event-types.ts';
import type { Checkpoint } from '../../log/checkpoint.ts';
import { checkRecord, HASH_SIZE, hashLeaf } from '../../log/merkle.ts';
import { LEDGER_DIR, ledgerPath, PROOFS_FILE, subjectOfLedgerPath } from '../bag/export-layout.ts';
import { LedgerView } from '../ledger-view.ts';
import { decodeUtf8, type ExportFiles } from './bag-zip.ts';
import type { Problems } from './problems.ts';

const MAX_EVENT_LINE = 16 * 1024 * 1024;
const MAX_PROOF_LINE = 64 * 1024;

/** A subject to check; length and headHash are absent when export.json could not be read. */
export interface SubjectEntry {
  type: string;
  id: string;
  length?: number;
  headHash?: string | null;
}

interface EventItem {
  kind: 'event';
  label: string;
  where: string;
  /** Null when the line could not be read (too long); its proof is then skipped by position. */
  hash: string | null;
}
/** A listed subject whose file is missing: its `count` proofs are skipped. */
interface GapItem {
  kind: 'gap';
  count: number;
}
type LedgerItem = EventItem | GapItem;

interface ProofItem {
  line: number;
  hash: string | null;
  index: number;
  proof: Buffer[];
  error?: string;
}

export interface LedgerResult {
  events: number;
  proofsVerified: number;
  /** The last line of each `export` subject's chain when that chain checked out (scope-check.ts). */
  exportChainEnds: Map<string, string>;
  /** The export view folded from the lines that checked out (view-check.ts). */
  view: LedgerView;
}

/** How far ahead out-of-step proofs and events are looked for. */
const RESYNC_WINDOW = 256;

/** Position (1..RESYNC_WINDOW) of the first item after the current one that matches, or 0. */
async function findAhead<T>(items: Lookahead<T>, match: (item: T) => boolean): Promise<number> {
  for (let i = 1; i <= RESYNC_WINDOW; i++) {
    const item = await items.peek(i);
    if (item === undefined) return 0;
    if (match(item)) return i;
  }
  return 0;
}

/** Pulls from an async iterator with a bounded look-ahead. */
class Lookahead<T> {
  private readonly buffer: T[] = [];
  private done = false;
  constructor(private readonly it: AsyncIterator<T>) {}

  async peek(i = 0): Promise<T | undefined> {
    while (this.buffer.length <= i && !this.done) {
      const r = await this.it.next();
      if (r.done) this.done = true;
      else this.buffer.push(r.value);
    }
    return this.buffer[i];
  }

  async take(): Promise<T | undefined> {
    const v = await this.peek();
    this.buffer.shift();
    return v;
  }

  /** Ends the underlying generator early (closing its ZIP stream) if it has not finished. */
  async close(): Promise<void> {
    if (!this.done) await this.it.return?.();
  }
}

/** Why one ledger line is not the next link of its chain, or undefined. */
function linkProblem(
  checker: ChainChecker,
  text: string,
  hash: string,
  position: number,
): { problem?: string; body?: EventBody } {
  let body: Partial<EventBody> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed;
  } catch {
    // ChainChecker names it.
  }
  if (body && body.seq !== position) {
    return {
      problem: `holds seq ${JSON.stringify(body.seq)} where seq ${position} belongs (events must run 1..n in order)`,
    };
  }
  const ok = checker.push({
    seq: position,
    type: typeof body?.type === 'string' ? body.type : '',
    hash,
    prev: typeof body?.prev === 'string' ? body.prev : null,
    body: text,
  });
  return ok ? { body: body as EventBody } : { problem: checker.failure?.reason };
}

async function* ledgerEvents(
  bag: ExportFiles,
  subjects: readonly SubjectEntry[],
  problems: Problems,
  counts: LedgerResult,
): AsyncGenerator<LedgerItem> {
  for (const s of subjects) {
    const label = `${s.type}:${s.id}`;
    let path: string;
    try {
      path = ledgerPath(s);
    } catch (err) {
      problems.add(`export.json subject ${label}: ${(err as Error).message}`);
      if (s.length) yield { kind: 'gap', count: s.length };
      continue;
    }
    if (!bag.has(path)) {
      if (s.length === 0) continue; // an empty chain needs no file
      problems.add(`${path} is missing: export.json lists subject ${label} with ${s.length ?? '?'} events`);
      if (s.length) yield { kind: 'gap', count: s.length };
      continue;
    }
    const checker = new ChainChecker(s as Subject);
    let broken = false;
    let count = 0;
    let head: string | null = null;
    for await (const line of bag.lines(path, MAX_EVENT_LINE)) {
      count = line.no;
      const where = `${path} line ${line.no}`;
      const at = `${label} seq ${line.no}`;
      if (!line.terminated) problems.add(`${where} (${at}): the last line does not end with a newline`);
      if (line.bytes === null) {
        problems.add(`${where} (${at}): longer than ${MAX_EVENT_LINE} bytes`);
        broken = true;
        head = null;
        counts.events++;
        yield { kind: 'event', label: at, where, hash: null };
        continue;
      }
      const hash = sha256Hex(line.bytes);
      if (!broken) {
        const text = decodeUtf8(line.bytes);
        const link = text === null ? { problem: 'not UTF-8' } : linkProblem(checker, text, hash, line.no);
        if (link.problem !== undefined || !link.body) {
          problems.add(`${where} (${at}): ${link.problem}`);
          broken = true; // later links are judged against a broken chain; name the first only
        } else counts.view.add(link.body, hash);
      }
      head = hash;
      counts.events++;
      if (s.type === 'export' && !broken) counts.exportChainEnds.set(s.id, decodeUtf8(line.bytes) ?? '');
      yield { kind: 'event', label: at, where, hash };
    }
    if (broken) counts.exportChainEnds.delete(s.id);
    if (s.length !== undefined && count !== s.length) {
      problems.add(
        `${path} holds ${count} events, but export.json says subject ${label} has length ${s.length}`,
      );
    }
    if (s.headHash !== undefined && head !== s.headHash) {
      problems.add(`${path}: the last event hashes to ${head}, but export.json says headHash ${s.headHash}`);
    }
  }
}

function parseProof(no: number, bytes: Buffer | null): ProofItem {
  const item: ProofItem = { line: no, hash: null, index: -1, proof: [] };
  const text = bytes && decodeUtf8(bytes);
  let v: { hash?: unknown; index?: unknown; proof?: unknown } | null = null;
  try {
    v = text === null ? null : JSON.parse(text);
  } catch {
    // reported below
  }
  if (v === null || typeof v !== 'object')
    return { ...item, error: 'not a JSON object {hash, index, proof}' };
  if (typeof v.hash === 'string' && /^[0-9a-f]{64}$/.test(v.hash)) item.hash = v.hash;
  else return { ...item, error: 'hash is not a lowercase hex SHA-256' };
  if (typeof v.index === 'number' && Number.isSafeInteger(v.index) && v.index >= 0) item.index = v.index;
  else return { ...item, error: `index ${JSON.stringify(v.index)} is not a leaf index` };
  if (!Array.isArray(v.proof)) return { ...item, error: 'proof is not an array' };
  for (const h of v.proof) {
    const b = typeof h === 'string' ? Buffer.from(h, 'base64') : null;
    if (!b || b.length !== HASH_SIZE || b.toString('base64') !== h) {
      return { ...item, error: 'proof holds an entry that is not base64 of 32 bytes' };
    }
    item.proof.push(b);
  }
  return item;
}

async function* proofLines(bag: ExportFiles): AsyncGenerator<ProofItem> {
  for await (const { no, bytes } of bag.lines(PROOFS_FILE, MAX_PROOF_LINE)) yield parseProof(no, bytes);
}

/**
 * Checks every listed subject's ledger file (present, canonical lines, seq 1..n, prev links,
 * subject, length and headHash as export.json says), that no other ledger file exists, and that
 * proofs.jsonl holds, in event order, one inclusion proof per event that verifies against
 * `checkpoint` (skipped when no checkpoint could be trusted; that is already a problem).
 */
export async function checkLedger(
  bag: ExportFiles,
  subjects: readonly SubjectEntry[],
  checkpoint: Checkpoint | null,
  problems: Problems,
  options: { pairProofs: boolean } = { pairProofs: true },
): Promise<LedgerResult> {
  const result: LedgerResult = {
    events: 0,
    proofsVerified: 0,
    exportChainEnds: new Map(),
    view: new LedgerView(),
  };
  const listed = new Set<string>();
  for (const s of subjects) {
    try {
      listed.add(ledgerPath(s));
    } catch {
      // reported while reading
    }
  }
  for (const path of bag.files.keys()) {
    if (path.startsWith(LEDGER_DIR) && !listed.has(path)) {
      problems.add(
        subjectOfLedgerPath(path)
          ? `${path} is a ledger file of a subject export.json does not list`
          : `${path}: unexpected file under ${LEDGER_DIR}`,
      );
    }
  }
  const hasProofs = bag.has(PROOFS_FILE);
  if (!hasProofs) problems.add(`${PROOFS_FILE} is missing: no event has an inclusion proof`);
  else if (!options.pairProofs) {
    problems.add('inclusion proofs not checked: they follow the order of export.json, which is unusable');
  } else if (!checkpoint) problems.add('inclusion proofs not checked: no checkpoint could be verified');
  if (!options.pairProofs) {
    for await (const _ of ledgerEvents(bag, subjects, problems, result)) {
      // chain checks only
    }
    return result;
  }
  const events = new Lookahead<LedgerItem>(ledgerEvents(bag, subjects, problems, result));
  const proofs = new Lookahead<ProofItem>(hasProofs ? proofLines(bag) : (async function* () {})());
  const root = checkpoint?.rootHash.toString('base64');

  const checkPair = (e: EventItem, p: ProofItem) => {
    const at = `${PROOFS_FILE} line ${p.line} (${e.label})`;
    if (p.error) problems.add(`${at}: ${p.error}`);
    else if (!checkpoint || e.hash === null) return;
    else if (p.index >= checkpoint.size) {
      problems.add(`${at}: index ${p.index} is not below the checkpoint's tree size ${checkpoint.size}`);
    } else if (
      !checkRecord(
        p.proof,
        checkpoint.size,
        checkpoint.rootHash,
        p.index,
        hashLeaf(Buffer.from(e.hash, 'hex')),
      )
    ) {
      problems.add(
        `${at}: the inclusion proof of hash ${e.hash} at index ${p.index} does not verify against the checkpoint (size ${checkpoint.size}, root ${root})`,
      );
    } else result.proofsVerified++;
  };

  try {
    for (;;) {
      const e = await events.peek();
      const p = await proofs.peek();
      if (!e && !p) break;
      if (e?.kind === 'gap') {
        await events.take();
        for (let i = 0; i < e.count && (await proofs.take()); i++);
        continue;
      }
      if (!e) {
        problems.add(
          `${PROOFS_FILE} line ${p!.line}: proof for hash ${p!.hash} follows the last exported event`,
        );
        await proofs.take();
        continue;
      }
      if (!p) {
        if (hasProofs) problems.add(`${e.where} (${e.label}): no inclusion proof for event hash ${e.hash}`);
        await events.take();
        continue;
      }
      if (e.hash === null || p.hash === null || p.hash === e.hash) {
        checkPair(e, p);
        await events.take();
        await proofs.take();
        continue;
      }
      // Out of step: resynchronise within a bounded window so one missing, extra or moved line
      // costs one problem, not one per following event.
      const ahead = await findAhead(proofs, (x) => x.hash === e.hash);
      if (ahead > 0) {
        for (let i = 0; i < ahead; i++) {
          const extra = (await proofs.take())!;
          problems.add(
            `${PROOFS_FILE} line ${extra.line}: proof for hash ${extra.hash} is out of place or for no exported event (expected the proof for ${e.label}, hash ${e.hash})`,
          );
        }
        continue;
      }
      const behind = await findAhead(events, (x) => x.kind === 'event' && x.hash === p.hash);
      if (behind > 0) {
        for (let i = 0; i < behind; i++) {
          const missing = (await events.take()) as EventItem;
          problems.add(
            `${missing.where} (${missing.label}): no inclusion proof for event hash ${missing.hash} at its place in ${PROOFS_FILE}`,
          );
        }
        continue;
      }
      problems.add(
        `${e.where} (${e.label}): no inclusion proof for event hash ${e.hash}; ${PROOFS_FILE} line ${p.line} in its place is for hash ${p.hash}`,
      );
      await events.take();
      await proofs.take();
    }
  } finally {
    await events.close();
    await proofs.close();
  }
  return result;
}
