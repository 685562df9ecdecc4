// yt-dlp's info JSON: what the platform says about its video (extractor, id, title, uploader,
// dates, duration, the format kept). Kept whole as a `platform_metadata` item; the facts below
// are its item metadata and go into `platform_captured`. Hostile input: size-capped, every
// value type-checked and cut to length.
import { readFile, stat } from 'node:fs/promises';

const INFO_MAX_BYTES = 32 * 1024 * 1024;

export type YtdlpInfo = Record<string, unknown>;

export async function readYtdlpInfo(path: string): Promise<YtdlpInfo> {
  if ((await stat(path)).size > INFO_MAX_BYTES)
    throw new Error(`info JSON larger than ${INFO_MAX_BYTES} bytes`);
  const parsed: unknown = JSON.parse(await readFile(path, 'utf8'));
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new Error('info JSON is not an object');
  return parsed as YtdlpInfo;
}

const text = (v: unknown, max = 2048) => (typeof v === 'string' && v ? v.slice(0, max) : null);
const number = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);

export interface InfoFacts {
  extractor: string;
  id: string | null;
  title: string | null;
  uploader: string | null;
  uploaderId: string | null;
  channel: string | null;
  /** YYYYMMDD as the platform gives it. */
  uploadDate: string | null;
  timestamp: number | null;
  /** What the platform declares the video lasts. */
  durationSeconds: number | null;
  webpageUrl: string | null;
  /** Where the kept bytes came from. */
  mediaUrl: string | null;
  formatId: string | null;
  width: number | null;
  height: number | null;
}

export function infoFacts(info: YtdlpInfo): InfoFacts {
  const first = Array.isArray(info.requested_downloads)
    ? (info.requested_downloads[0] as YtdlpInfo)
    : undefined;
  return {
    extractor: text(info.extractor_key, 128) ?? text(info.extractor, 128) ?? 'unknown',
    id: text(info.id, 256),
    title: text(info.title, 1024),
    uploader: text(info.uploader, 512),
    uploaderId: text(info.uploader_id, 512),
    channel: text(info.channel, 512),
    uploadDate: text(info.upload_date, 16),
    timestamp: number(info.timestamp),
    durationSeconds: number(info.duration),
    webpageUrl: text(info.webpage_url),
    mediaUrl: text(first?.url) ?? text(info.url),
    formatId: text(info.format_id, 256),
    width: number(info.width),
    height: number(info.height),
  };
}

/** The `platform_metadata` item's description (describe.ts). */
export async function describeYtdlpInfo(
  path: string,
): Promise<{ tool: string; metadata: Record<string, unknown> }> {
  return { tool: 'yt-dlp-info', metadata: { ...infoFacts(await readYtdlpInfo(path)) } };
}
