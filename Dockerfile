# claimtrail: one image for every process (api, worker, sequencer, migrate); the command
# chooses which. Sources run through tsx (bin/claimtrail.mjs), so there is no build output.
FROM node:20-bookworm-slim

# ffprobe/ffmpeg inspect captured media.
RUN apt-get update \
  && apt-get install -y --no-install-recommends ffmpeg ca-certificates \
  && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# Dependencies first so source edits reuse this layer. Runtime needs only: the Prisma CLI and
# its adapter (prisma.config.ts), which run `db migrate` and `db generate`, are dependencies.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

COPY . .

# The Prisma client is generated from prisma/schema.prisma; DATABASE_URL is only parsed here,
# nothing connects to it at build time.
RUN DATABASE_URL=postgresql://build:build@localhost:5432/build node bin/claimtrail.mjs db generate \
  && mkdir -p /app/.data \
  && chown node:node /app/.data

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3000

USER node
# /app/.data holds evidence blobs and the log signing key: mount a volume there
# (docker-compose.yml does).
EXPOSE 3000
# See scripts/start.sh: a bounded old space keeps export jobs under 256 MiB of RSS.
ENV NODE_OPTIONS=--max-old-space-size=192
CMD ["node", "bin/claimtrail.mjs", "start"]
