// X (Twitter) posts through the public syndication endpoint that embedded posts use
// (cdn.syndication.twimg.com/tweet-result), which needs no account. Its JSON is
// undocumented and changes, so the schema checks only the fields used here and lets the
// rest through, and a missing or deleted post is told apart from a shape that changed.
import { z } from 'zod';

const variantSchema = z.looseObject({
  content_type: z.string(),
  url: z.string(),
  bitrate: z.number().nonnegative().optional(),
});

const mediaSchema = z.looseObject({
  type: z.string(), // "photo" | "video" | "animated_gif"
  media_url_https: z.string(),
  video_info: z
    .looseObject({
      // Absent for animated GIFs.
      duration_millis: z.number().nonnegative().optional(),
      variants: z.array(variantSchema),
    })
    .optional(),
});

export const syndicationPostSchema = z.looseObject({
  id_str: z.string().regex(/^\d{1,40}$/),
  text: z.string(),
  created_at: z.string(),
  user: z.looseObject({ screen_name: z.string(), name: z.string() }),
  mediaDetails: z.array(mediaSchema).optional(),
});

export type SyndicationPost = z.infer<typeof syndicationPostSchema>;

export type SyndicationErrorCode = 'not_json' | 'not_found' | 'tombstone' | 'invalid_shape';

/** The syndication answer is not a usable post; `detail` says why, without the whole body. */
export class SyndicationPostError extends Error {
  override readonly name = 'SyndicationPostError';
  constructor(
    readonly code: SyndicationErrorCode,
    readonly detail: string,
    options?: ErrorOptions,
  ) {
    super(`${code}: ${detail}`, options);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * Validates a syndication answer. Accepts the parsed JSON, or its text or bytes (parsed
 * here, so a non-JSON body is reported as `not_json`). Throws SyndicationPostError:
 * `not_found` for the empty object the service answers for unknown ids, `tombstone` for
 * deleted, withheld or age-restricted posts, `invalid_shape` naming the first bad fields.
 */
export function parseSyndicationPost(json: unknown): SyndicationPost {
  let value = json;
  if (typeof json === 'string' || json instanceof Uint8Array) {
    const text = typeof json === 'string' ? json : new TextDecoder().decode(json);
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new SyndicationPostError('not_json', `body is not JSON: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  if (isObj(value)) {
    if (Object.keys(value).length === 0)
      throw new SyndicationPostError('not_found', 'empty answer: no such post');
    if (value.__typename === 'TweetTombstone' || 'tombstone' in value) {
      const tombstone =
        isObj(value.tombstone) && isObj(value.tombstone.text) ? value.tombstone.text.text : undefined;
      throw new SyndicationPostError(
        'tombstone',
        typeof tombstone === 'string' ? tombstone.slice(0, 300) : 'post is unavailable (tombstone)',
      );
    }
  }
  const result = syndicationPostSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
    throw new SyndicationPostError('invalid_shape', issues, { cause: result.error });
  }
  return result.data;
}

/** A post record is a few KB; anything near this is not one (and is refused unread). */
export const POST_RECORD_MAX_BYTES = 5 * 1024 * 1024;

/**
 * Why a 200 answer of the syndication service says there is no post to preserve, or undefined
 * when it holds one (or something else, which is kept as evidence and reported by its shape).
 * The service answers `{}` for ids it does not know and a TweetTombstone for deleted,
 * withheld or age-restricted posts (as react-tweet's fetchTweet reads it; it also answers 404).
 */
export function postAbsence(body: Uint8Array): string | undefined {
  try {
    parseSyndicationPost(body);
    return undefined;
  } catch (err) {
    if (err instanceof SyndicationPostError && (err.code === 'not_found' || err.code === 'tombstone'))
      return err.detail;
    return undefined;
  }
}

/**
 * The token the syndication endpoint expects with a post id, computed the way react-tweet
 * (vercel/react-tweet, packages/react-tweet/src/api/fetch-tweet.ts) and X's own embed do:
 * (id / 1e15 · π) in base 36, with every "0" and the "." removed. `Number(id)` rounds ids
 * above 2^53 exactly as that code does, which is what the endpoint accepts.
 */
export function syndicationToken(postId: string): string {
  return ((Number(postId) / 1e15) * Math.PI).toString(36).replace(/(0+|\.)/g, '');
}

/** `${base}/tweet-result?id=…&token=…`; `base` like https://cdn.syndication.twimg.com. */
export function syndicationUrl(base: string, postId: string): string {
  if (!/^\d{1,40}$/.test(postId))
    throw new RangeError(`not a post id: ${JSON.stringify(postId.slice(0, 50))}`);
  return `${base.replace(/\/+$/, '')}/tweet-result?id=${postId}&token=${syndicationToken(postId)}`;
}

export type BestVideoVariant = {
  /** Position of the media item in `mediaDetails`. */
  mediaIndex: number;
  /** "video" or "animated_gif". */
  mediaType: string;
  url: string;
  contentType: 'video/mp4';
  /** Bits per second as declared; null when the variant declares none. */
  bitrate: number | null;
  /** duration_millis / 1000, what X says the video lasts; null when not declared. */
  declaredDurationSeconds: number | null;
  /** The still X shows before playback. */
  posterUrl: string;
};

function isHttpUrl(value: string): boolean {
  try {
    const { protocol } = new URL(value);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * For each media item with video, the progressive MP4 variant with the highest declared
 * bitrate (the HLS playlists are skipped: a playlist is not a file to preserve). Items
 * without any http(s) MP4 variant, and photos, are left out; ties keep the first listed.
 */
export function pickBestVideoVariant(post: SyndicationPost): BestVideoVariant[] {
  const best: BestVideoVariant[] = [];
  (post.mediaDetails ?? []).forEach((media, mediaIndex) => {
    const info = media.video_info;
    if (!info) return;
    let chosen: { url: string; bitrate: number | null } | null = null;
    for (const variant of info.variants) {
      const type = variant.content_type.split(';', 1)[0]!.trim().toLowerCase();
      if (type !== 'video/mp4' || !isHttpUrl(variant.url)) continue;
      const bitrate = variant.bitrate ?? null;
      if (chosen === null || (bitrate ?? -1) > (chosen.bitrate ?? -1)) chosen = { url: variant.url, bitrate };
    }
    if (chosen === null) return;
    best.push({
      mediaIndex,
      mediaType: media.type,
      url: chosen.url,
      contentType: 'video/mp4',
      bitrate: chosen.bitrate,
      declaredDurationSeconds: info.duration_millis === undefined ? null : info.duration_millis / 1000,
      posterUrl: media.media_url_https,
    });
  });
  return best;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * created_at as ISO 8601. The syndication service has answered both with ISO strings
 * ("2024-12-17T18:31:00.000Z") and in the v1.1 API form ("Tue Dec 17 18:31:00 +0000 2024");
 * both are read here without relying on Date.parse's implementation-defined formats.
 */
export function postCreatedAt(post: Pick<SyndicationPost, 'created_at'>): string | null {
  const value = post.created_at.trim();
  const v1 = /^\w{3} (\w{3}) (\d{2}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2}) (\d{4})$/.exec(value);
  if (v1) {
    const month = MONTHS.indexOf(v1[1]!);
    if (month < 0) return null;
    const [, , day, h, mi, s, sign, oh, om, year] = v1;
    const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
    const ms =
      Date.UTC(Number(year), month, Number(day), Number(h), Number(mi), Number(s)) - offsetMinutes * 60_000;
    return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(value)) {
    const ms = Date.parse(value);
    return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
  }
  return null;
}
