// Path rules of RFC 8493 for the files of a bag: payload paths are relative, use "/" as the
// separator and live under data/; manifests percent-encode CR, LF and "%" (section 2.1.3).

/** Thrown for a payload path or bag name the bag cannot hold. */
export class BagPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BagPathError';
  }
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what we reject.
const NUL = /\x00/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: a bag name holds no control character.
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * Why `path` is not a valid payload path, or null when it is: non-empty segments separated by
 * "/" (no backslash, no leading "/", no drive letter), no "." or ".." segment, no NUL, first
 * segment `data`, at least one segment after it.
 */
export function payloadPathProblem(path: string): string | null {
  if (path === '') return 'empty path';
  if (NUL.test(path)) return 'path contains a NUL character';
  if (path.includes('\\')) return 'path contains a backslash (use "/")';
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'absolute path';
  const segments = path.split('/');
  if (segments.some((s) => s === '')) return 'path has an empty segment';
  if (segments.some((s) => s === '.' || s === '..')) return 'path has a "." or ".." segment';
  if (segments[0] !== 'data' || segments.length < 2) return 'payload path must be under data/';
  return null;
}

/** Throws BagPathError unless {@link payloadPathProblem} accepts `path`. */
export function assertPayloadPath(path: string): void {
  const problem = payloadPathProblem(path);
  if (problem) throw new BagPathError(`invalid payload path ${JSON.stringify(path)}: ${problem}`);
}

/** A bag name is one path segment: the top-level directory inside the ZIP. */
export function assertBagName(name: string): void {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\\')) {
    throw new BagPathError(`invalid bag name ${JSON.stringify(name)}: must be one path segment`);
  }
  if (CONTROL.test(name)) throw new BagPathError('invalid bag name: contains a control character');
}

/** Manifest form of a path: "%" → %25, CR → %0D, LF → %0A (RFC 8493 section 2.1.3). */
export function encodeManifestPath(path: string): string {
  return path.replace(/[%\r\n]/g, (c) => (c === '%' ? '%25' : c === '\r' ? '%0D' : '%0A'));
}

/** Inverse of {@link encodeManifestPath}; other percent sequences stay as they are. */
export function decodeManifestPath(encoded: string): string {
  return encoded.replace(/%(25|0[dD]|0[aA])/g, (_, code: string) =>
    code === '25' ? '%' : code.toLowerCase() === '0d' ? '\r' : '\n',
  );
}
