#!/usr/bin/env node
// Adds an EXIF (APP1) segment to a JPEG: `node scripts/make-exif-jpeg.mjs in.jpg out.jpg`.
// Used by make-media-fixtures.sh because ffmpeg cannot write EXIF and exifr only reads it.
// The TIFF structure is built by hand (little-endian, CIPA DC-008 / TIFF 6.0 layout): IFD0
// with Make/Model/Software/Orientation and pointers to an Exif IFD (DateTimeOriginal,
// OffsetTimeOriginal) and a GPS IFD (latitude, longitude, altitude). The values are fixed
// so the tests can assert them exactly.
import { readFileSync, writeFileSync } from 'node:fs';

const ASCII = 2;
const SHORT = 3;
const LONG = 4;
const RATIONAL = 5;
const BYTE = 1;

const ascii = (tag, text) => ({
  tag,
  type: ASCII,
  count: text.length + 1,
  data: Buffer.from(`${text}\0`, 'latin1'),
});
const short = (tag, value) => {
  const data = Buffer.alloc(2);
  data.writeUInt16LE(value);
  return { tag, type: SHORT, count: 1, data };
};
const long = (tag, value) => {
  const data = Buffer.alloc(4);
  data.writeUInt32LE(value);
  return { tag, type: LONG, count: 1, data };
};
const bytes = (tag, values) => ({ tag, type: BYTE, count: values.length, data: Buffer.from(values) });
const rationals = (tag, pairs) => {
  const data = Buffer.alloc(8 * pairs.length);
  pairs.forEach(([num, den], i) => {
    data.writeUInt32LE(num, 8 * i);
    data.writeUInt32LE(den, 8 * i + 4);
  });
  return { tag, type: RATIONAL, count: pairs.length, data };
};

// Size of an IFD with its out-of-line values (values of 4 bytes or less sit in the entry).
const ifdSize = (entries) =>
  2 +
  12 * entries.length +
  4 +
  entries.reduce((n, e) => n + (e.data.length > 4 ? e.data.length + (e.data.length % 2) : 0), 0);

// Serializes one IFD that starts at TIFF offset `start`; entries must be sorted by tag.
function ifd(entries, start) {
  const out = Buffer.alloc(ifdSize(entries));
  out.writeUInt16LE(entries.length, 0);
  let dataOffset = 2 + 12 * entries.length + 4;
  entries.forEach((e, i) => {
    const at = 2 + 12 * i;
    out.writeUInt16LE(e.tag, at);
    out.writeUInt16LE(e.type, at + 2);
    out.writeUInt32LE(e.count, at + 4);
    if (e.data.length <= 4) {
      e.data.copy(out, at + 8);
    } else {
      out.writeUInt32LE(start + dataOffset, at + 8);
      e.data.copy(out, dataOffset);
      dataOffset += e.data.length + (e.data.length % 2);
    }
  });
  out.writeUInt32LE(0, 2 + 12 * entries.length); // no next IFD
  return out;
}

const exifEntries = [
  ascii(0x9003, '2024:12:17 20:31:00'), // DateTimeOriginal (local time)
  ascii(0x9011, '+02:00'), // OffsetTimeOriginal (Kyiv, winter)
];
// Kyiv, Maidan Nezalezhnosti: 50°27'0.36" N, 30°31'24.24" E, 179 m above sea level.
const gpsEntries = [
  bytes(0x0000, [2, 3, 0, 0]), // GPSVersionID
  ascii(0x0001, 'N'),
  rationals(0x0002, [
    [50, 1],
    [27, 1],
    [36, 100],
  ]),
  ascii(0x0003, 'E'),
  rationals(0x0004, [
    [30, 1],
    [31, 1],
    [2424, 100],
  ]),
  bytes(0x0005, [0]), // GPSAltitudeRef: above sea level
  rationals(0x0006, [[179, 1]]),
];
const ifd0Base = [
  ascii(0x010f, 'Canon'), // Make
  ascii(0x0110, 'Canon EOS R6'), // Model
  short(0x0112, 1), // Orientation: normal
  ascii(0x0131, 'claimtrail fixture 1.0'), // Software
];
// Pointers are LONGs, so the IFD0 size does not depend on their values.
const ifd0Size = ifdSize([...ifd0Base, long(0x8769, 0), long(0x8825, 0)]);
const exifStart = 8 + ifd0Size;
const gpsStart = exifStart + ifdSize(exifEntries);
const ifd0Entries = [...ifd0Base, long(0x8769, exifStart), long(0x8825, gpsStart)];

const header = Buffer.from([0x49, 0x49, 0x2a, 0x00, 0x08, 0x00, 0x00, 0x00]); // "II", 42, IFD0 at 8
const tiff = Buffer.concat([
  header,
  ifd(ifd0Entries, 8),
  ifd(exifEntries, exifStart),
  ifd(gpsEntries, gpsStart),
]);
const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
const app1 = Buffer.alloc(4);
app1.writeUInt16BE(0xffe1, 0);
app1.writeUInt16BE(payload.length + 2, 2);

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: make-exif-jpeg.mjs IN.jpg OUT.jpg');
  process.exit(2);
}
const jpeg = readFileSync(input);
if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) {
  console.error(`${input}: not a JPEG`);
  process.exit(1);
}
// EXIF's APP1 goes straight after SOI; the rest of the file is kept as it is.
writeFileSync(output, Buffer.concat([jpeg.subarray(0, 2), app1, payload, jpeg.subarray(2)]));
