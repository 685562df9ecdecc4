#!/usr/bin/env bash
# Regenerates the small media fixtures in test/fixtures/media/ (they are committed; run this
# only to change them). Synthetic content only: lavfi test patterns and sine tones, a JPEG
# whose EXIF is written by make-exif-jpeg.mjs, and hand-written HTML/JSON. Uses `ffmpeg` on
# PATH when there is one, else the @ffmpeg-installer binary from devDependencies.
#
# Sizes matter (they live in git): 96x64 pixels at 2 fps, 8 kHz mono AAC at 8 kb/s, one
# keyframe per 31 s. Durations are exact: 62 frames at 2 fps = 31.0 s, and the audio is cut
# with -t so the container duration does not run past the video. (ffmpeg's muxer still writes
# the header durations, mvhd/tkhd, with the 1024 AAC priming samples that the audio edit list
# skips: 31.128 s for 31 s. Debian's ffprobe 5.1 reports that as format.duration; the
# streams, edit lists applied, say 31.000 in every build, and src/media/ffprobe.ts takes them.)
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/test/fixtures/media"
mkdir -p "$out"

if command -v ffmpeg >/dev/null 2>&1; then
  ffmpeg=ffmpeg
elif [ -x "$root/node_modules/@ffmpeg-installer/linux-x64/ffmpeg" ]; then
  ffmpeg="$root/node_modules/@ffmpeg-installer/linux-x64/ffmpeg"
else
  ffmpeg="$(cd "$root" && node -e 'process.stdout.write(require("@ffmpeg-installer/ffmpeg").path)')" || {
    echo "make-media-fixtures: no ffmpeg on PATH and @ffmpeg-installer/ffmpeg is not installed" >&2
    exit 1
  }
fi
echo "using $ffmpeg"

ff() { "$ffmpeg" -hide_banner -loglevel error -nostdin -y "$@"; }

# A small H.264 + AAC MP4: testsrc pattern and a sine tone, `seconds` long.
video() {
  local file=$1 seconds=$2 hz=$3
  ff -f lavfi -i "testsrc=size=96x64:rate=2" -f lavfi -i "sine=frequency=$hz:sample_rate=8000" \
    -t "$seconds" -map 0:v -map 1:a \
    -c:v libx264 -preset veryslow -crf 40 -pix_fmt yuv420p -g 62 \
    -c:a aac -b:a 8k -ac 1 \
    -map_metadata -1 -metadata creation_time=2024-12-17T18:31:00Z -movflags +faststart \
    "$out/$file"
}

video zelenskyy-31s.mp4 31 440
video variant-30s.mp4 30 660

# Audio only: 5 s of AAC in an M4A (MP4) container.
ff -f lavfi -i "sine=frequency=330:sample_rate=8000" -t 5 -c:a aac -b:a 8k -ac 1 \
  -map_metadata -1 -movflags +faststart "$out/tone-5s.m4a"

# One second with a display matrix (rotation) in the track header, for rotation parsing.
# The rotate tag is honoured only when remuxing (-c copy); ffmpeg 6+ spells this
# -display_rotation. ffprobe 6 reports the committed file as "rotation": 90.
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ff -f lavfi -i "testsrc=size=96x64:rate=2" -t 1 -c:v libx264 -preset veryslow -crf 40 -pix_fmt yuv420p \
  -map_metadata -1 "$tmp/upright.mp4"
ff -i "$tmp/upright.mp4" -c copy -metadata:s:v:0 rotate=90 -movflags +faststart "$out/rotated-1s.mp4"

# PNG, deliberately not square so a width/height swap would show.
ff -f lavfi -i "testsrc=size=40x30:rate=1" -frames:v 1 "$out/image.png"

# JPEG with EXIF (capture time, camera, GPS).
ff -f lavfi -i "testsrc=size=64x48:rate=1" -frames:v 1 -q:v 10 "$tmp/plain.jpg"
node "$root/scripts/make-exif-jpeg.mjs" "$tmp/plain.jpg" "$out/photo-exif.jpg"

# An article page declaring its media the ways news sites do. Entities in attributes on
# purpose; one JSON-LD block is broken on purpose; og:video and og:video:secure_url name the
# same file (relative and absolute) so deduplication shows; the javascript: image is dropped.
# (It must also pass `biome check .`, which lints test/**, hence the captions track.)
cat >"$out/page.html" <<'HTML'
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Zelenskyy: Russia burns faces of killed North Korean soldiers &ndash; Fixture News</title>
  <meta name="description" content="Video posted by the President of Ukraine &quot;shows&quot; soldiers&#39; bodies being burned.">
  <link rel="canonical" href="https://news.example.org/2024/12/17/zelenskyy-north-korean-soldiers">
  <meta property="og:type" content="video.other">
  <meta property="og:title" content="Zelenskyy: Russia burns faces of killed North Korean soldiers">
  <meta property="og:url" content="https://news.example.org/2024/12/17/zelenskyy-north-korean-soldiers">
  <meta property="og:video" content="/media/zelenskyy-31s.mp4">
  <meta property="og:video:secure_url" content="https://news.example.org/media/zelenskyy-31s.mp4">
  <meta property="og:video:type" content="video/mp4">
  <meta property="og:video:width" content="96">
  <meta property="og:video:height" content="64">
  <meta property="og:image" content="/media/poster.jpg?w=96&amp;h=64">
  <meta property="og:image" content="javascript:alert(1)">
  <meta property="article:published_time" content="2024-12-17T19:05:00+00:00">
  <meta name="twitter:card" content="player">
  <meta name="twitter:site" content="@fixturenews">
  <meta name="twitter:player" content="https://news.example.org/embed/zelenskyy-31s">
  <meta name="twitter:player:stream" content="https://cdn.example.org/media/zelenskyy-31s.mp4?src=tw&amp;v=1">
  <meta name="twitter:player:stream:content_type" content="video/mp4">
  <script type="application/ld+json">
  {
    "@context": "https://schema.org",
    "@type": "VideoObject",
    "name": "Zelenskyy on North Korean soldiers",
    "uploadDate": "2024-12-17T18:31:00Z",
    "duration": "PT31S",
    "contentUrl": "https://news.example.org/media/zelenskyy-31s.mp4"
  }
  </script>
  <script type="application/ld+json">{ "@type": "NewsArticle", "headline": broken </script>
</head>
<body>
  <article>
    <h1>Zelenskyy: Russia burns faces of killed North Korean soldiers</h1>
    <video src="/media/zelenskyy-31s.mp4" controls>
      <track kind="captions" src="/media/zelenskyy-31s.vtt" srclang="en" label="English">
    </video>
  </article>
</body>
</html>
HTML

# The public X syndication answer (cdn.syndication.twimg.com/tweet-result) for one post, cut
# to the fields that matter plus a few others. Media URLs use the placeholder host
# FIXTURE_HOST, which tests replace with their local server; the variant paths name the
# fixture files above (best mp4 → zelenskyy-31s.mp4, the low one → variant-30s.mp4).
# The text is a paraphrase for testing, not a quotation.
cat >"$out/syndication-post.json" <<'JSON'
{
  "__typename": "Tweet",
  "lang": "en",
  "favorite_count": 10234,
  "possibly_sensitive": true,
  "created_at": "Tue Dec 17 18:31:00 +0000 2024",
  "display_text_range": [0, 166],
  "entities": {
    "hashtags": [],
    "urls": [],
    "user_mentions": [],
    "symbols": []
  },
  "id_str": "1869038340384076117",
  "text": "Russian troops are burning the faces of North Korean soldiers killed in battle, trying to hide that North Korea is fighting in this war. (fixture text, paraphrased)",
  "user": {
    "id_str": "1120633726478823425",
    "name": "Volodymyr Zelenskyy / Володимир Зеленський",
    "screen_name": "ZelenskyyUa",
    "is_blue_verified": true,
    "verified_type": "Government",
    "profile_image_shape": "Square"
  },
  "mediaDetails": [
    {
      "display_url": "pic.x.com/fixture",
      "expanded_url": "https://x.com/ZelenskyyUa/status/1869038340384076117/video/1",
      "ext_media_availability": { "status": "Available" },
      "media_url_https": "http://FIXTURE_HOST/media/poster.jpg",
      "original_info": { "height": 64, "width": 96 },
      "type": "video",
      "video_info": {
        "aspect_ratio": [3, 2],
        "duration_millis": 31000,
        "variants": [
          {
            "content_type": "application/x-mpegURL",
            "url": "http://FIXTURE_HOST/media/playlist.m3u8?tag=16"
          },
          {
            "bitrate": 256000,
            "content_type": "video/mp4",
            "url": "http://FIXTURE_HOST/media/variant-30s.mp4?tag=16"
          },
          {
            "bitrate": 2176000,
            "content_type": "video/mp4",
            "url": "http://FIXTURE_HOST/media/zelenskyy-31s.mp4?tag=16"
          }
        ]
      }
    }
  ],
  "photos": [],
  "conversation_count": 812,
  "news_action_type": "conversation",
  "isEdited": false,
  "isStaleEdit": false
}
JSON

echo "fixtures in $out:"
for f in "$out"/*; do
  printf '  %-24s %7d bytes\n' "$(basename "$f")" "$(wc -c <"$f")"
done
