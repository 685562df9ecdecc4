// Which bytes a timestamp covers — defined here, once. DESIGN.md "Signed checkpoints": after each
// batch the log signs a checkpoint, "a signed note (C2SP signed-note, Ed25519) whose body is the
// origin line, the decimal tree size, the base64 root hash". We timestamp the whole signed note as
// the log signed it: the note text, the blank line and the log's own signature line, exactly the
// bytes of log_checkpoints.note (UTF-8). So the timestamp shows the log had signed this tree by then,
// not only that the tree existed. Witness cosignature lines, which GET /v1/log/checkpoint may add
// later, are not part of it: they arrive after the timestamp and would change the bytes.
import { createHash } from 'node:crypto';

/** The exact bytes timestamped for a checkpoint, given its stored signed note. */
export function timestampedBytes(signedNote: string): Buffer {
  return Buffer.from(signedNote, 'utf8');
}

/** SHA-256 of {@link timestampedBytes}: the message imprint sent to every TSA. */
export function timestampDigest(signedNote: string): Buffer {
  return createHash('sha256').update(timestampedBytes(signedNote)).digest();
}
