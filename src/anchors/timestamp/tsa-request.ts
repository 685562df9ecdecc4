// An RFC 3161 TimeStampReq: SHA-256 imprint, a fresh random nonce, certReq = true (so the
// reply carries the TSA's certificate and can be checked, and later exported, on its own).
import { randomBytes } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

export const SHA256_OID = '2.16.840.1.101.3.4.2.1';

export interface TimestampRequest {
  der: Buffer;
  /** The nonce as a positive big-endian integer (no leading zero byte). */
  nonce: Buffer;
}

export function timestampRequest(digest: Buffer): TimestampRequest {
  const nonce = randomBytes(16);
  // A positive INTEGER in minimal DER: top bit clear, first byte non-zero.
  nonce[0] = (nonce[0]! & 0x7f) | 0x01;
  const req = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: SHA256_OID }),
      hashedMessage: new asn1js.OctetString({ valueHex: digest }),
    }),
    nonce: new asn1js.Integer({ valueHex: nonce }),
    certReq: true,
  });
  return { der: Buffer.from(req.toSchema().toBER()), nonce };
}
