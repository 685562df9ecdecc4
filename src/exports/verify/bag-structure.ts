// The BagIt side of verification (RFC 8493): bagit.txt, bag-info.txt and its Payload-Oxum,
// the payload manifest in both directions, and the tag manifest. Knows nothing of claimtrail.
import { decodeManifestPath, payloadPathProblem } from '../bag/bag-paths.ts';
import { BAGIT_TXT, TAG_FILES } from '../bag/bag-tags.ts';
import { type BagZip, type Digest, decodeUtf8 } from './bag-zip.ts';
import type { Problems } from './problems.ts';

const MAX_TAG_FILE = 1024 * 1024;
const MAX_MANIFEST_LINE = 64 * 1024;
const KNOWN_TAG_FILES = new Set<string>(Object.values(TAG_FILES));

export interface BagInfoFields {
  /** Values by label, in file order (labels may repeat). */
  fields: [string, string][];
  oxum: { octets: number; files: number } | null;
}

/** A manifest: checksum and line number by decoded path. */
export type Manifest = Map<string, { sha256: string; line: number }>;

export async function checkBagitTxt(bag: BagZip, problems: Problems): Promise<void> {
  if (!bag.has(TAG_FILES.bagit)) {
    problems.add('bagit.txt is missing');
    return;
  }
  const bytes = await bag.read(TAG_FILES.bagit, MAX_TAG_FILE);
  const text = bytes && decodeUtf8(bytes);
  // Section 2.1.1 fixes the two lines; any of the three line endings is allowed.
  if (text === null || text.replace(/\r\n?/g, '\n') !== BAGIT_TXT) {
    problems.add(
      `bagit.txt must read exactly "BagIt-Version: 1.0" and "Tag-File-Character-Encoding: UTF-8"; it reads ${JSON.stringify(text?.slice(0, 200) ?? '(not UTF-8)')}`,
    );
  }
}

export async function readBagInfo(bag: BagZip, problems: Problems): Promise<BagInfoFields> {
  const info: BagInfoFields = { fields: [], oxum: null };
  if (!bag.has(TAG_FILES.bagInfo)) {
    problems.add('bag-info.txt is missing');
    return info;
  }
  const bytes = await bag.read(TAG_FILES.bagInfo, MAX_TAG_FILE);
  const text = bytes && decodeUtf8(bytes);
  if (text === null) {
    problems.add(`bag-info.txt is larger than ${MAX_TAG_FILE} bytes or not UTF-8`);
    return info;
  }
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.at(-1) === '') lines.pop();
  for (const [i, line] of lines.entries()) {
    const last = info.fields.at(-1);
    if (/^[ \t]/.test(line) && last) {
      last[1] += `\n${line.trim()}`; // a continuation line (section 2.2.2)
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0 || line.slice(0, colon).trim() !== line.slice(0, colon)) {
      problems.add(`bag-info.txt line ${i + 1} is not "Label: value": ${JSON.stringify(line.slice(0, 200))}`);
      continue;
    }
    info.fields.push([line.slice(0, colon), line.slice(colon + 1).replace(/^[ \t]+/, '')]);
  }
  const oxums = info.fields.filter(([label]) => label === 'Payload-Oxum');
  if (oxums.length !== 1) {
    problems.add(`bag-info.txt must hold Payload-Oxum exactly once; it holds it ${oxums.length} times`);
  } else {
    const m = /^([0-9]+)\.([0-9]+)$/.exec(oxums[0]![1]);
    if (m) info.oxum = { octets: Number(m[1]), files: Number(m[2]) };
    else problems.add(`bag-info.txt Payload-Oxum ${JSON.stringify(oxums[0]![1])} is not "octets.count"`);
  }
  for (const [label, value] of info.fields) {
    if (label === 'Bagging-Date' && !/^\d{4}-\d{2}-\d{2}$/.test(value)) {
      problems.add(`bag-info.txt Bagging-Date ${JSON.stringify(value)} is not YYYY-MM-DD`);
    }
  }
  return info;
}

/** Parses `checksum path` lines of a manifest (payload or tag). */
async function readManifestFile(
  bag: BagZip,
  file: string,
  problems: Problems,
  pathProblem: (path: string) => string | null,
): Promise<Manifest> {
  const manifest: Manifest = new Map();
  for await (const { no, bytes } of bag.lines(file, MAX_MANIFEST_LINE)) {
    const text = bytes && decodeUtf8(bytes)?.replace(/\r$/, '');
    const m = text ? /^([0-9a-fA-F]{64})[ \t]+(.+)$/.exec(text) : null;
    if (!m) {
      problems.add(`${file} line ${no} is not "sha256 path"`);
      continue;
    }
    const path = decodeManifestPath(m[2]!);
    const bad = pathProblem(path);
    if (bad) {
      problems.add(`${file} line ${no}: ${JSON.stringify(path)} ${bad}`);
      continue;
    }
    if (manifest.has(path)) {
      problems.add(`${file} line ${no} lists ${path} again (first on line ${manifest.get(path)!.line})`);
      continue;
    }
    manifest.set(path, { sha256: m[1]!.toLowerCase(), line: no });
  }
  return manifest;
}

export async function readPayloadManifest(bag: BagZip, problems: Problems): Promise<Manifest> {
  if (!bag.has(TAG_FILES.manifest)) {
    problems.add('manifest-sha256.txt is missing');
    return new Map();
  }
  return readManifestFile(bag, TAG_FILES.manifest, problems, (path) => {
    const bad = payloadPathProblem(path);
    return bad ? `is not a payload path (${bad})` : null;
  });
}

/**
 * Hashes every payload file not read yet, then checks that the manifest and the payload agree
 * in both directions and that Payload-Oxum counts the payload's octets and files.
 */
export async function checkPayload(
  bag: BagZip,
  manifest: Manifest,
  oxum: BagInfoFields['oxum'],
  problems: Problems,
): Promise<{ octets: number; files: number }> {
  let octets = 0;
  let files = 0;
  for (const path of bag.files.keys()) {
    if (!path.startsWith('data/')) continue;
    let digest: Digest;
    try {
      digest = await bag.digest(path);
    } catch (err) {
      problems.add((err as Error).message);
      continue;
    }
    octets += digest.size;
    files++;
    const listed = manifest.get(path);
    if (!listed) problems.add(`${path} is in the payload but not in manifest-sha256.txt`);
    else if (listed.sha256 !== digest.sha256) {
      problems.add(
        `${path}: SHA-256 is ${digest.sha256} but manifest-sha256.txt line ${listed.line} says ${listed.sha256}`,
      );
    }
  }
  for (const [path, { line }] of manifest) {
    if (!bag.has(path))
      problems.add(`manifest-sha256.txt line ${line} lists ${path}, which is not in the bag`);
  }
  if (oxum && (oxum.octets !== octets || oxum.files !== files)) {
    problems.add(
      `bag-info.txt Payload-Oxum is ${oxum.octets}.${oxum.files} but the payload holds ${octets} octets in ${files} files`,
    );
  }
  return { octets, files };
}

/**
 * A claimtrail bag holds only the four tag files; the tag manifest must list bagit.txt,
 * bag-info.txt and manifest-sha256.txt with their right checksums.
 */
export async function checkTagFiles(bag: BagZip, problems: Problems): Promise<void> {
  for (const path of bag.files.keys()) {
    if (!path.startsWith('data/') && !KNOWN_TAG_FILES.has(path)) {
      problems.add(`${path}: unexpected file (a claimtrail bag holds only the four tag files and data/)`);
    }
  }
  if (!bag.has(TAG_FILES.tagManifest)) {
    problems.add('tagmanifest-sha256.txt is missing');
    return;
  }
  const tagManifest = await readManifestFile(bag, TAG_FILES.tagManifest, problems, (path) =>
    path.startsWith('data/') || path === TAG_FILES.tagManifest || !KNOWN_TAG_FILES.has(path)
      ? 'is not a tag file of the bag'
      : null,
  );
  for (const [path, { sha256, line }] of tagManifest) {
    if (!bag.has(path)) {
      problems.add(`tagmanifest-sha256.txt line ${line} lists ${path}, which is not in the bag`);
      continue;
    }
    const digest = await bag.digest(path);
    if (digest.sha256 !== sha256) {
      problems.add(
        `${path}: SHA-256 is ${digest.sha256} but tagmanifest-sha256.txt line ${line} says ${sha256}`,
      );
    }
  }
  for (const path of [TAG_FILES.bagit, TAG_FILES.bagInfo, TAG_FILES.manifest]) {
    if (bag.has(path) && !tagManifest.has(path)) problems.add(`tagmanifest-sha256.txt does not list ${path}`);
  }
}
