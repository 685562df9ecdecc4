// Multi-index hashing (Norouzi, Punjani, Fleet, "Fast search in Hamming space with multi-index
// hashing", CVPR 2012; ThreatExchange's pdq/README-MIH.md): a 256-bit hash is cut into sixteen
// 16-bit segments. Two hashes within distance d differ in at least one segment by at most
// ⌊d/16⌋ bits (pigeonhole), so the candidates of a search are the hashes that share one
// segment value with the query or one of its neighbours within that radius: for PDQ's match
// distance 31, 16 × (1 + 16) = 272 exact lookups. Every candidate is then checked for its real
// distance. A segment is one token, `segment << 16 | value`, so one GIN index over an int[] of
// the sixteen tokens (media_hashes.segments) or one Map serves all sixteen tables.
import { hashWords } from './pdq.ts';

export const SEGMENTS = 16;

/** The sixteen tokens of a hash: segment s holds hex digits 4s..4s+3 (bits in hex order). */
export function segmentTokens(hash: string): number[] {
  const words = hashWords(hash);
  const tokens: number[] = [];
  for (let s = 0; s < SEGMENTS; s++) {
    const word = words[s >> 1]!;
    const value = s & 1 ? word & 0xffff : word >>> 16;
    tokens.push((s << 16) | value);
  }
  return tokens;
}

/** Bits a segment may differ by so that no hash within `distance` is missed. */
export function probeRadius(distance: number): number {
  return Math.floor(distance / SEGMENTS);
}

/**
 * The tokens to look up for a search within `distance`: every segment value within the probe
 * radius of the query's (radius 0: 16 tokens; 1: 272; 2: 2,192; 3: 11,152).
 */
export function probeTokens(hash: string, distance: number): number[] {
  const radius = probeRadius(distance);
  if (radius > 3) throw new RangeError(`pdq: a search within ${distance} bits probes too many segments`);
  const out: number[] = [];
  for (const token of segmentTokens(hash)) {
    const base = token & 0xffff;
    const segment = token & ~0xffff;
    out.push(token);
    for (let a = 0; a < 16 && radius >= 1; a++) {
      out.push(segment | (base ^ (1 << a)));
      for (let b = a + 1; b < 16 && radius >= 2; b++) {
        out.push(segment | (base ^ (1 << a) ^ (1 << b)));
        for (let c = b + 1; c < 16 && radius >= 3; c++)
          out.push(segment | (base ^ (1 << a) ^ (1 << b) ^ (1 << c)));
      }
    }
  }
  return out;
}
