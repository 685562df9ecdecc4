// JSON values whose RFC 8785 form is easy to get wrong: unicode (astral characters, combining
// marks, U+2028/9, BOM), every JSON escape and every other control character, numbers at the
// edges of ECMAScript's shortest form, nesting, empties, and keys sorted by UTF-16 code units
// (not code points: U+1F600 sorts before U+FB33). NUL and lone surrogates are absent on purpose:
// appendEvent refuses them (UnstorableEventError).
const controls = Array.from({ length: 0x1f }, (_, i) => String.fromCharCode(i + 1)).join('');

export const canonicalCorpus: Record<string, unknown> = {
  'empty object': {},
  'empty array': [],
  'empty string': '',
  'empty key': { '': '' },
  'accents, precomposed and combining': {
    precomposed: 'é',
    combining: 'e\u0301',
    stacked: 'a\u0300\u0301\u0302',
  },
  'astral characters': { emoji: '😀', family: '👩‍👩‍👧', max: '\u{10FFFF}', music: '𝄞' },
  'scripts and direction': { ar: 'مرحبا', he: 'שלום', zh: '漢字', rtlMark: '\u200f', bidi: '\u202eevil' },
  'separators and BOM, written as is': {
    ls: '\u2028',
    ps: '\u2029',
    bom: '\ufeff',
    del: '\u007f',
    c1: '\u0085',
  },
  'the short escapes': { s: '"\\/\b\f\n\r\t' },
  'every control character but NUL': { s: controls },
  'text that looks like JSON': { s: '{"prev":null,"seq":1}', t: '","seq":2,"x":"' },
  'keys sorted by UTF-16 code units': {
    '\u20ac': 'Euro',
    '\r': 'CR',
    '\ufb33': 'Hebrew',
    '1': 'One',
    '\ud83d\ude00': 'Smiley',
    '\u0080': 'Ctl',
    '\u00f6': 'o',
    '10': 'ten',
    '9': 'nine',
    B: 'upper',
    a: 'lower',
    prev: 'a data key named prev',
    seq: 'and one named seq',
  },
  numbers: [0, -0, 1, -1, 1.5, -1.5, 0.1 + 0.2, 1e21, 1e20, 1e-7, 0.000001, 5e-324, 1.7976931348623157e308],
  'large integers': [2 ** 31, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2, -(2 ** 63), 1e300],
  'RFC 8785 appendix B': [333333333.3333333, 4.5, 2e-3, 1e23, 9007199254740992, 295147905179352830000],
  literals: [true, false, null],
  nesting: { a: [{ b: [[{ c: { d: [] } }]] }, { e: {} }], f: [[[[[['deep']]]]]] },
  'a long string': { s: 'x'.repeat(10_000) },
};
