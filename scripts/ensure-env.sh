#!/usr/bin/env bash
# Prepares a machine for `npm start` and `npm test`: installs packages when missing,
# generates the Prisma client, and — when DATABASE_URL / MIGRATION_DATABASE_URL / REDIS_URL are
# not set and nothing answers on the default ports — starts the local Postgres and Redis,
# installing them with apt-get first when they are missing (Debian/Ubuntu, as root). Sourced by
# start.sh/test.sh. The local default uses two roles: `postgres` (the owner) migrates and
# creates `claimtrail_app`, the role the service and the tests run as (src/config/env.ts).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'claimtrail setup: %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do port_open "$1" && return 0; sleep 0.5; done
  return 1
}

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

apt_install() {
  say "installing $* with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "$@" >/dev/null
}

ensure_packages() {
  if [ -L node_modules ]; then
    # A checkout sharing another one's packages (a git worktree): `npm ci` through the link
    # would empty the other checkout's node_modules under whatever is running there.
    say "node_modules is a link to another checkout's packages: not reinstalling through it"
  elif [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing npm packages (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  if [ ! -f src/generated/prisma/client.ts ] || [ prisma/schema.prisma -nt src/generated/prisma/client.ts ]; then
    say "generating the Prisma client"
    node bin/claimtrail.mjs db generate >/dev/null
  fi
}

ensure_postgres() {
  # Either URL set: the database is someone else's to run.
  if [ -n "${DATABASE_URL:-}" ] || [ -n "${MIGRATION_DATABASE_URL:-}" ]; then return 0; fi
  if port_open 5432; then return 0; fi
  if ! command -v pg_ctlcluster >/dev/null; then
    if can_install; then
      apt_install postgresql
      installed_pg=1
    else
      say "PostgreSQL is not running on 127.0.0.1:5432 and cannot be installed by this user."
      say "Run as root: apt-get install -y postgresql && pg_ctlcluster \$(ls /etc/postgresql) main start"
      say "or set DATABASE_URL to a PostgreSQL 15+ server."
      exit 1
    fi
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  say "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null ||
    pg_ctlcluster "$version" main start
  wait_port 5432 || { say "PostgreSQL did not start on port 5432"; exit 1; }
  if [ "${installed_pg:-0}" = 1 ]; then
    # A fresh Debian cluster asks for a password over TCP: give `postgres` the default one.
    su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  fi
}

ensure_redis() {
  if [ -n "${REDIS_URL:-}" ]; then return 0; fi
  if port_open 6379; then return 0; fi
  if ! command -v redis-server >/dev/null; then
    if can_install; then
      apt_install redis-server
    else
      say "Redis is not running on 127.0.0.1:6379 and cannot be installed by this user."
      say "Run as root: apt-get install -y redis-server, or set REDIS_URL."
      exit 1
    fi
  fi
  port_open 6379 && return 0
  say "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --maxmemory-policy noeviction --logfile /tmp/claimtrail-redis.log
  wait_port 6379 || { say "Redis did not start on port 6379"; exit 1; }
}

# Only for `npm test`: the /docs test renders the page in a real headless Chromium (Debian's
# `chromium`, driven by playwright-core). Without one that test is skipped, loudly.
ensure_browser() {
  case "$(basename "${BASH_SOURCE[-1]}")" in test.sh) ;; *) return 0 ;; esac
  if [ -x /usr/lib/chromium/chromium ]; then return 0; fi
  if can_install; then
    apt_install chromium
  else
    say "Chromium is missing: the browser test of /docs will be skipped."
    say "Run as root: apt-get install -y chromium"
  fi
}

# Only for `npm test`: a command some tests require (they fail without it), installed from
# Debian's package when missing. $1 command, $2 package, $3 what fails without it.
ensure_test_command() {
  case "$(basename "${BASH_SOURCE[-1]}")" in test.sh) ;; *) return 0 ;; esac
  if command -v "$1" >/dev/null; then return 0; fi
  if can_install; then
    apt_install "$2"
  else
    say "$1 is missing: $3 will fail."
    say "Run as root: apt-get install -y $2"
  fi
}

ensure_packages
ensure_postgres
ensure_redis
ensure_browser
# The platform video tests run yt-dlp's generic extractor against a loopback page.
ensure_test_command yt-dlp yt-dlp "the platform video tests (test/platform)"
# Tests that restart Redis start a redis-server of their own, even where the shared Redis is a
# service of the machine.
ensure_test_command redis-server redis-server "the tests that restart Redis (test/scale, test/capture/redis-loss)"
