// Pure verification of a subject's chain of custody, shared by the custody verify route,
// `claimtrail ledger verify` and the custody.verify-subject job.
import { type EventBody, isCanonicalText, sha256Hex } from './canonical.ts';
import type { Subject } from './event-types.ts';

/** A stored event as read from the database (hash and prev as lowercase hex). */
export interface StoredEvent {
  seq: number;
  type: string;
  hash: string;
  prev: string | null;
  body: string;
  /** The hash the Merkle log holds for this event, when it has been integrated. */
  loggedHash?: string | null;
  /** Why the signed log does not vouch for this event (custody-verify.ts), if it does not. */
  logProblem?: string;
}

export interface ChainVerdict {
  valid: boolean;
  length: number;
  headHash: string | null;
  firstInvalidSeq?: number;
  reason?: string;
}

/**
 * Checks events of one subject one at a time, in stored seq order, in constant memory:
 * each must be the next link (seq n+1, prev = hash of n), its body canonical, hashing to its
 * hash, naming this subject, seq and type, and matching the leaf the Merkle log recorded.
 */
export class ChainChecker {
  private prevHash: string | null = null;
  private count = 0;
  failure?: { seq: number; reason: string };

  constructor(readonly subject: Subject) {}

  /** Feeds the next stored event; returns false (and records why) at the first bad one. */
  push(e: StoredEvent): boolean {
    if (this.failure) return false;
    const reason = this.check(e, this.count + 1);
    if (reason) {
      this.failure = { seq: reason.seq, reason: reason.reason };
      return false;
    }
    this.prevHash = e.hash;
    this.count++;
    return true;
  }

  verdict(total = this.count): ChainVerdict {
    return this.failure
      ? {
          valid: false,
          length: total,
          headHash: this.prevHash,
          firstInvalidSeq: this.failure.seq,
          reason: this.failure.reason,
        }
      : { valid: true, length: this.count, headHash: this.prevHash };
  }

  private check(e: StoredEvent, expectedSeq: number): { seq: number; reason: string } | undefined {
    const bad = (reason: string) => ({ seq: e.seq, reason });
    if (e.seq !== expectedSeq) {
      return {
        seq: expectedSeq,
        reason: `event seq ${expectedSeq} is missing (the next stored event has seq ${e.seq})`,
      };
    }
    let body: EventBody;
    try {
      body = JSON.parse(e.body) as EventBody;
    } catch {
      return bad('stored body is not JSON');
    }
    const actual = sha256Hex(e.body);
    if (actual !== e.hash)
      return bad(`hash mismatch: the body hashes to ${actual}, the stored hash is ${e.hash}`);
    if (!isCanonicalText(body, e.body)) return bad('stored body is not in RFC 8785 canonical form');
    if (body.subject?.type !== this.subject.type || body.subject?.id !== this.subject.id) {
      return bad(`body names subject ${body.subject?.type}:${body.subject?.id}`);
    }
    if (body.seq !== e.seq) return bad(`body says seq ${body.seq} but the event is stored at seq ${e.seq}`);
    if (body.type !== e.type) return bad(`body says type ${body.type} but the stored type is ${e.type}`);
    if (body.prev !== this.prevHash || e.prev !== this.prevHash) {
      return bad(`prev is ${body.prev}, expected ${this.prevHash} (the hash of seq ${e.seq - 1})`);
    }
    if (e.loggedHash != null && e.loggedHash !== e.hash) {
      return bad(`the Merkle log recorded hash ${e.loggedHash} for this event, not ${e.hash}`);
    }
    if (e.logProblem) return bad(e.logProblem);
    return undefined;
  }
}

/** Verifies a whole chain held in memory (one subject's events, ordered by stored seq). */
export function verifyChain(subject: Subject, events: readonly StoredEvent[]): ChainVerdict {
  const checker = new ChainChecker(subject);
  for (const e of events) if (!checker.push(e)) break;
  return checker.verdict(events.length);
}
