// Text from a bag (entry names, export.json values, error messages quoting either) is hostile:
// printed raw, `\r`, `ESC[2K` or `ESC[8m` let a bag repaint the terminal (hide FAILED lines,
// show a fake OK). Every line the verifier prints goes through printable().

/** C0 controls (newline included: one call makes one line), DEL, C1 controls, the Unicode
 * bidi controls (embeddings, overrides, isolates, marks) that reorder what a reader sees, and
 * the invisible ones (zero-width space/joiners, word joiner, BOM, line/paragraph separators)
 * that make two different names print alike. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** `text` with every control character escaped as \xNN (below U+0100) or \uNNNN. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
