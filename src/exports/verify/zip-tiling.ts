// A ZIP read two ways. The verifier (yauzl) reads the central directory; a streaming extractor
// reads local headers one after another. An entry the central directory does not list, or a
// local header naming another file than its central record, shows such a reader a file
// (a forged export.json) the verifier never checked. So the listed entries must tile the file
// from byte 0 to the central directory, each local header naming its entry.
import { open } from 'node:fs/promises';
import type yauzl from 'yauzl';
import type { Problems } from './problems.ts';

const LOCAL_HEADER = 0x04034b50;
const LOCAL_HEADER_SIZE = 30;
/** General purpose flag bit 3: sizes follow the data in a descriptor (12–24 bytes). */
const HAS_DESCRIPTOR = 0x08;

/** Where the central directory starts: yauzl's cursor ends after it, and each record's size is known. */
export function centralDirectoryStart(zip: yauzl.ZipFile, entries: yauzl.Entry[]): number {
  const end = (zip as unknown as { readEntryCursor: number }).readEntryCursor;
  let size = 0;
  for (const e of entries) size += 46 + e.fileNameLength + e.extraFieldLength + e.fileCommentLength;
  return end - size;
}

export async function checkZipTiling(
  path: string,
  entries: yauzl.Entry[],
  centralStart: number,
  problems: Problems,
): Promise<void> {
  const file = await open(path);
  try {
    const sorted = [...entries].sort((a, b) => a.relativeOffsetOfLocalHeader - b.relativeOffsetOfLocalHeader);
    // Where the next local header may start (a descriptor's size varies; a hidden entry needs 30+ bytes).
    let next = new Set([0]);
    for (const e of sorted) {
      const at = e.relativeOffsetOfLocalHeader;
      if (!next.has(at))
        problems.add(`ZIP: bytes before ${JSON.stringify(e.fileName)} that no listed entry accounts for`);
      const head = Buffer.alloc(LOCAL_HEADER_SIZE + e.fileNameLength);
      const { bytesRead } = await file.read(head, 0, head.length, at);
      if (bytesRead < head.length || head.readUInt32LE(0) !== LOCAL_HEADER) {
        problems.add(
          `ZIP: ${JSON.stringify(e.fileName)} has no local header where the central directory says`,
        );
        next = new Set();
        continue;
      }
      const nameLength = head.readUInt16LE(26);
      if (nameLength !== e.fileNameLength || !head.subarray(LOCAL_HEADER_SIZE).equals(e.fileNameRaw))
        problems.add(`ZIP: the local header of ${JSON.stringify(e.fileName)} names another file`);
      const dataEnd = at + LOCAL_HEADER_SIZE + nameLength + head.readUInt16LE(28) + e.compressedSize;
      next = new Set(
        e.generalPurposeBitFlag & HAS_DESCRIPTOR ? [12, 16, 20, 24].map((d) => dataEnd + d) : [dataEnd],
      );
    }
    if (!next.has(centralStart))
      problems.add('ZIP: bytes before the central directory that no listed entry accounts for');
  } finally {
    await file.close();
  }
}
