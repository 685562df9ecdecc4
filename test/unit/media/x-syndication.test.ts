// The X syndication answer: parsing, errors, best MP4 variant, and the request URL/token.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseSyndicationPost,
  pickBestVideoVariant,
  postCreatedAt,
  type SyndicationPost,
  SyndicationPostError,
  syndicationToken,
  syndicationUrl,
} from '../../../src/media/x-syndication.ts';
import { fixture } from './helpers.ts';

const POST_ID = '1869038340384076117';
const raw = readFileSync(fixture('syndication-post.json'), 'utf8');
const json = () => JSON.parse(raw) as Record<string, unknown>;

function errorOf(input: unknown): SyndicationPostError {
  try {
    parseSyndicationPost(input);
  } catch (error) {
    expect(error).toBeInstanceOf(SyndicationPostError);
    return error as SyndicationPostError;
  }
  throw new Error('expected parseSyndicationPost to throw');
}

describe('parseSyndicationPost', () => {
  it('parses the fixture and keeps unknown fields', () => {
    const post = parseSyndicationPost(json());
    expect(post.id_str).toBe(POST_ID);
    expect(post.user.screen_name).toBe('ZelenskyyUa');
    expect(post.text).toMatch(/burning the faces of North Korean soldiers/);
    expect(post.mediaDetails).toHaveLength(1);
    expect(post.mediaDetails?.[0]?.video_info?.duration_millis).toBe(31000);
    expect(post.__typename).toBe('Tweet');
    expect(post.favorite_count).toBe(10234);
  });

  it('accepts the body as text or bytes', () => {
    expect(parseSyndicationPost(raw).id_str).toBe(POST_ID);
    expect(parseSyndicationPost(Buffer.from(raw)).id_str).toBe(POST_ID);
  });

  it('reports a body that is not JSON', () => {
    const error = errorOf('<html>rate limited</html>');
    expect(error.code).toBe('not_json');
    expect(errorOf(raw.slice(0, 100)).code).toBe('not_json');
  });

  it('tells an unknown post and a tombstone from a changed shape', () => {
    expect(errorOf({}).code).toBe('not_found');
    const tombstone = errorOf({
      __typename: 'TweetTombstone',
      tombstone: { text: { text: 'This Post was deleted by the Post author. Learn more' } },
    });
    expect(tombstone.code).toBe('tombstone');
    expect(tombstone.detail).toMatch(/deleted/);
  });

  it('names the fields that do not fit', () => {
    const noUser = json();
    delete noUser.user;
    const error = errorOf(noUser);
    expect(error.code).toBe('invalid_shape');
    expect(error.detail).toMatch(/^user:/);

    const badVariants = json();
    const media = (badVariants.mediaDetails as { video_info: Record<string, unknown> }[])[0]!;
    media.video_info.variants = 'nope';
    expect(errorOf(badVariants).detail).toMatch(/mediaDetails\.0\.video_info\.variants/);

    expect(errorOf({ ...json(), id_str: '12abc' }).detail).toMatch(/id_str/);
    expect(errorOf([1, 2, 3]).code).toBe('invalid_shape');
  });
});

describe('pickBestVideoVariant', () => {
  it('picks the highest-bitrate MP4 and ignores the HLS playlist', () => {
    const withHost = raw.replaceAll('FIXTURE_HOST', '127.0.0.1:43210');
    expect(pickBestVideoVariant(parseSyndicationPost(withHost))).toStrictEqual([
      {
        mediaIndex: 0,
        mediaType: 'video',
        url: 'http://127.0.0.1:43210/media/zelenskyy-31s.mp4?tag=16',
        contentType: 'video/mp4',
        bitrate: 2176000,
        declaredDurationSeconds: 31,
        posterUrl: 'http://127.0.0.1:43210/media/poster.jpg',
      },
    ]);
  });

  it('does not depend on the order of the variants', () => {
    const post = parseSyndicationPost(json());
    const variants = post.mediaDetails![0]!.video_info!.variants;
    variants.reverse();
    expect(pickBestVideoVariant(post)[0]?.bitrate).toBe(2176000);
  });

  it('handles photos, GIFs, playlists only and variants without bitrate', () => {
    const post: SyndicationPost = parseSyndicationPost({
      id_str: '1',
      text: 't',
      created_at: '2024-12-17T18:31:00.000Z',
      user: { screen_name: 's', name: 'n' },
      mediaDetails: [
        { type: 'photo', media_url_https: 'https://pbs.example/p.jpg' },
        {
          type: 'video',
          media_url_https: 'https://pbs.example/v.jpg',
          video_info: {
            duration_millis: 1500,
            variants: [{ content_type: 'application/x-mpegURL', url: 'https://v.example/pl.m3u8' }],
          },
        },
        {
          type: 'animated_gif',
          media_url_https: 'https://pbs.example/g.jpg',
          video_info: {
            variants: [
              { content_type: 'video/mp4', url: 'javascript:alert(1)', bitrate: 9_999_999 },
              { content_type: 'video/mp4', url: 'https://v.example/g.mp4' },
            ],
          },
        },
      ],
    });
    expect(pickBestVideoVariant(post)).toStrictEqual([
      {
        mediaIndex: 2,
        mediaType: 'animated_gif',
        url: 'https://v.example/g.mp4',
        contentType: 'video/mp4',
        bitrate: null,
        declaredDurationSeconds: null,
        posterUrl: 'https://pbs.example/g.jpg',
      },
    ]);
  });
});

describe('postCreatedAt', () => {
  it.each([
    ['Tue Dec 17 18:31:00 +0000 2024', '2024-12-17T18:31:00.000Z'],
    ['Tue Dec 17 20:31:00 +0200 2024', '2024-12-17T18:31:00.000Z'],
    ['2024-12-17T18:31:00.000Z', '2024-12-17T18:31:00.000Z'],
    ['Tue Foo 17 18:31:00 +0000 2024', null],
    ['yesterday', null],
  ])('%s → %s', (createdAt, expected) => {
    expect(postCreatedAt({ created_at: createdAt })).toBe(expected);
  });

  it('reads the fixture', () => {
    expect(postCreatedAt(parseSyndicationPost(json()))).toBe('2024-12-17T18:31:00.000Z');
  });
});

describe('syndicationUrl', () => {
  it('computes the token as react-tweet does', () => {
    // ((id / 1e15) * π) in base 36 without zeros and dot, for the fixture's post.
    expect(syndicationToken(POST_ID)).toBe('4j3r985wlpg');
    expect(syndicationToken('20')).toBe('6dq1a2xwd93');
    for (const id of [POST_ID, '20', '1683800803968942080']) expect(syndicationToken(id)).not.toMatch(/[0.]/);
  });

  it('builds the request URL, trimming a trailing slash from the base', () => {
    expect(syndicationUrl('https://cdn.syndication.twimg.com/', POST_ID)).toBe(
      `https://cdn.syndication.twimg.com/tweet-result?id=${POST_ID}&token=4j3r985wlpg`,
    );
    expect(syndicationUrl('http://127.0.0.1:9999', '20')).toBe(
      'http://127.0.0.1:9999/tweet-result?id=20&token=6dq1a2xwd93',
    );
  });

  it('refuses ids that are not decimal digits', () => {
    expect(() => syndicationUrl('https://x.example', '123&evil=1')).toThrow(RangeError);
    expect(() => syndicationUrl('https://x.example', '')).toThrow(RangeError);
  });
});
