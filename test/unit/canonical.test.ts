// RFC 8785 canonical JSON and the verification fast path that must agree with it.
import { describe, expect, it } from 'vitest';
import { bodyFrame, canonicalJson, chainFields, isCanonicalText } from '../../src/ledger/canonical.ts';
import { canonicalCorpus } from '../helpers/canonical-corpus.ts';

describe('canonicalJson (RFC 8785)', () => {
  it('sorts keys by UTF-16 code units and serializes numbers as ECMAScript does', () => {
    // RFC 8785 section 3.2.3 sorting example keys, and number forms from its appendix.
    const value = {
      '\u20ac': 'Euro',
      '\r': 'CR',
      '\ufb33': 'Hebrew',
      '1': 'One',
      '\ud83d\ude00': 'Smiley',
      '\u0080': 'Ctl',
      '\u00f6': 'o',
    };
    expect(canonicalJson(value)).toBe(
      '{"\\r":"CR","1":"One","\u0080":"Ctl","ö":"o","€":"Euro","\ud83d\ude00":"Smiley","\ufb33":"Hebrew"}',
    );
    // RFC 8785 appendix B: the input text 333333333.33333329 is the double 333333333.3333333.
    expect(canonicalJson(JSON.parse('[1e21, 1e-7, 0.000001, -0, 333333333.33333329, 4.5]'))).toBe(
      '[1e+21,1e-7,0.000001,0,333333333.3333333,4.5]',
    );
    expect(canonicalJson({ b: [true, null, 'x'], a: { d: 1, c: 2 } })).toBe(
      '{"a":{"c":2,"d":1},"b":[true,null,"x"]}',
    );
  });

  it('refuses values JSON cannot hold', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 1n, () => 1, undefined]) {
      expect(() => canonicalJson(bad)).toThrow();
    }
  });
});

describe('isCanonicalText', () => {
  const cases: [string, boolean][] = [
    ['{"a":1,"b":[1,2,{"c":"d"}]}', true],
    ['{"b":1,"a":2}', false], // unsorted keys
    ['{"a": 1}', false], // whitespace
    ['{"a":1.0}', false], // number not in shortest form
    ['{"10":1,"9":2}', true], // integer-like keys: V8 reorders them, the fallback decides
    ['{"9":2,"10":1}', false],
    ['{"a":"\\u0041"}', false], // escaped where JCS writes the character
  ];
  it.each(cases)('%s → %s, exactly as comparing with canonicalJson', (text, expected) => {
    const parsed = JSON.parse(text);
    expect(isCanonicalText(parsed, text)).toBe(expected);
    expect(canonicalJson(parsed) === text).toBe(expected);
  });
});

describe('bodyFrame (the body split around seq and prev, for appends assembled in SQL)', () => {
  const frame = {
    subject: { type: 'claim' as const, id: 'c-1' },
    type: 'claim_updated',
    actor: 'user:ü',
    at: '2026-12-02T10:00:00.000Z',
  };
  it.each(Object.entries(canonicalCorpus))(
    'prefix + chain fields + suffix is the canonical body: %s',
    (_, data) => {
      const { prefix, suffix } = bodyFrame({ ...frame, data });
      for (const [seq, prev] of [
        [1, null],
        [2_147_483_647, 'ab'.repeat(32)],
      ] as const) {
        expect(prefix + chainFields(seq, prev) + suffix).toBe(canonicalJson({ ...frame, seq, prev, data }));
      }
    },
  );
});
