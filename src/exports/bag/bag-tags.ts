// The tag files of a BagIt 1.0 bag (RFC 8493 section 2): their exact text, shared by the
// writer and the verifier so both agree byte for byte.
import { encodeManifestPath } from './bag-paths.ts';

/** bagit.txt of every bag we write, and the only one the verifier accepts. */
export const BAGIT_TXT = 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n';

export const TAG_FILES = {
  bagit: 'bagit.txt',
  bagInfo: 'bag-info.txt',
  manifest: 'manifest-sha256.txt',
  tagManifest: 'tagmanifest-sha256.txt',
} as const;

/** What bag-info.txt says about the bag; Payload-Oxum and Bagging-Date are filled in. */
export interface BagInfo {
  sourceOrganization: string;
  externalIdentifier: string;
  externalDescription: string;
  bagSoftwareAgent: string;
  /** Defaults to now; written as YYYY-MM-DD (UTC). */
  baggingDate?: Date;
  /** More labels, written after the standard ones in insertion order. */
  extra?: Record<string, string>;
}

/** Labels the writer computes or sets itself; `extra` may not repeat them. */
export const RESERVED_LABELS = [
  'Source-Organization',
  'External-Identifier',
  'External-Description',
  'Bag-Software-Agent',
  'Bagging-Date',
  'Payload-Oxum',
];

// biome-ignore lint/suspicious/noControlCharactersInRegex: a label holds no control character.
const BAD_LABEL = /[:\x00-\x1f\x7f]/;

/** `octets.streamcount` (RFC 8493 section 2.2.2). */
export const payloadOxum = (octets: number, files: number): string => `${octets}.${files}`;

/** YYYY-MM-DD in UTC. */
export const baggingDate = (d: Date): string => d.toISOString().slice(0, 10);

function infoLine(label: string, value: string): string {
  if (label === '' || label !== label.trim() || BAD_LABEL.test(label)) {
    throw new Error(`invalid bag-info label ${JSON.stringify(label)}`);
  }
  // A line break inside a value becomes a continuation line (indented), as section 2.2.2 allows.
  const folded = value.replace(/\r\n|\r|\n/g, '\n  ');
  return `${label}: ${folded}\n`;
}

/** bag-info.txt text for `info` with the computed Payload-Oxum. */
export function formatBagInfo(info: BagInfo, oxum: string, now: Date = new Date()): string {
  const extra = Object.entries(info.extra ?? {});
  for (const [label] of extra) {
    if (RESERVED_LABELS.includes(label)) throw new Error(`bag-info label ${label} is set by the bag writer`);
  }
  return [
    infoLine('Source-Organization', info.sourceOrganization),
    infoLine('External-Identifier', info.externalIdentifier),
    infoLine('External-Description', info.externalDescription),
    infoLine('Bag-Software-Agent', info.bagSoftwareAgent),
    infoLine('Bagging-Date', baggingDate(info.baggingDate ?? now)),
    infoLine('Payload-Oxum', oxum),
    ...extra.map(([label, value]) => infoLine(label, value)),
  ].join('');
}

/** One manifest line: `checksum path` with the path percent-encoded, LF-terminated. */
export const manifestLine = (sha256: string, path: string): string =>
  `${sha256} ${encodeManifestPath(path)}\n`;
