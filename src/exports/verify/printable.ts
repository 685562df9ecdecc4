// Text from a bag (entry names, export.json values, error messages quoting either) is hostile:
// printed raw, `\r`, `ESC[2K` or `ESC[8m` let a bag repaint the terminal (hide FAILED lines,
// show a fake OK). Every line the verifier prints goes through printable().

/** C0 controls (newline included: one call makes one line), DEL, C1 controls, and the Unicode
 * bidi controls (embeddings, overrides, isolates, marks) that reorder what a reader sees. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every control character escaped as \xNN (below U+0100) or \uNNNN. */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
