// JSON text that reads two ways. JSON.parse keeps the last of two equal keys and reads
// `30.000000000000000001` or `-0` as plain numbers, so a file could show a reader (or another
// parser, some keep the first key) one value while the verifier checks another. What the
// exporter writes (JSON.stringify, RFC 8785 bodies) has neither, so the verifier refuses both.

const MAX_REPORTED = 10;

type Frame =
  | { kind: 'object'; keys: Set<string>; key: string | null; expectKey: boolean }
  | { kind: 'array'; index: number };

const where = (stack: Frame[]): string =>
  stack
    .map((f) => (f.kind === 'array' ? `[${f.index}]` : f.key === null ? '' : `.${f.key}`))
    .join('')
    .replace(/^\./, '') || '(top)';

/** End index (exclusive) of the string token that opens at `start` (a `"`). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q === -1) return text.length;
    let slashes = 0;
    while (text.charCodeAt(q - 1 - slashes) === 0x5c) slashes++;
    if (slashes % 2 === 0) return q + 1;
    i = q + 1;
  }
}

/**
 * Where `text` (already accepted by JSON.parse) holds a key twice in one object, or a number
 * not written as JSON.stringify writes its value; at most ten, by path (`claims[0].statement`).
 */
export function ambiguousJson(text: string): string[] {
  const found: string[] = [];
  const stack: Frame[] = [];
  let i = 0;
  while (i < text.length && found.length < MAX_REPORTED) {
    const c = text[i]!;
    const top = stack[stack.length - 1];
    if (c === '{') {
      stack.push({ kind: 'object', keys: new Set(), key: null, expectKey: true });
      i++;
    } else if (c === '[') {
      stack.push({ kind: 'array', index: 0 });
      i++;
    } else if (c === '}' || c === ']') {
      stack.pop();
      i++;
    } else if (c === ',') {
      if (top?.kind === 'array') top.index++;
      else if (top) top.expectKey = true;
      i++;
    } else if (c === '"') {
      const end = stringEnd(text, i);
      if (top?.kind === 'object' && top.expectKey) {
        const raw = text.slice(i, end);
        const key = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        top.key = key;
        top.expectKey = false;
        if (top.keys.has(key)) found.push(`${where(stack)}: the key appears twice in one object`);
        top.keys.add(key);
      }
      i = end;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      let end = i + 1;
      while (end < text.length && /[0-9eE.+-]/.test(text[end]!)) end++;
      const token = text.slice(i, end);
      const value = Number(token);
      if (!Number.isFinite(value)) found.push(`${where(stack)}: the number ${token} is out of range`);
      else if (JSON.stringify(value) !== token)
        found.push(
          `${where(stack)}: the number ${token} is not written as its value ${JSON.stringify(value)}`,
        );
      i = end;
    } else i++;
  }
  return found;
}
