// Configuration: defaults, one named problem per bad variable, the CLI refusing to start
// half-configured, and .env.example / docker-compose.yml agreeing with src/config/env.ts.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, configVariables, parseConfig } from '../../src/config/env.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

function runCli(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/claimtrail.mjs', ...args], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // A process that starts anyway would never exit by itself: stop it and let the test fail.
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('parseConfig', () => {
  it('gives every variable a working default', () => {
    const cfg = parseConfig({});
    expect(cfg).toMatchObject({
      NODE_ENV: 'development',
      PORT: 3000,
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgresql://claimtrail_app:claimtrail_app@127.0.0.1:5432/claimtrail',
      MIGRATION_DATABASE_URL: 'postgresql://postgres:postgres@127.0.0.1:5432/claimtrail',
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_PREFIX: 'claimtrail',
      LOG_ORIGIN: 'claimtrail.local/log',
      FETCH_ALLOWLIST: [],
      FETCH_MAX_BYTES: 1024 ** 3,
      BODY_LIMIT_BYTES: 1024 * 1024,
      SHUTDOWN_TIMEOUT_MS: 10_000,
    });
    // Unset means something of its own for these: AWS S3 itself, no bucket (BLOB_STORE=local),
    // the AWS SDK's default credential chain.
    const unsetByDefault = [
      'S3_ENDPOINT',
      'S3_BUCKET',
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
    ];
    expect(Object.keys(cfg).sort()).toEqual(
      configVariables.filter((v) => !unsetByDefault.includes(v)).sort(),
    );
    expect(cfg).toMatchObject({ BLOB_STORE: 'local', S3_REGION: 'us-east-1', S3_PREFIX: '' });
  });

  it('BLOB_STORE=s3 needs a bucket, and credentials come in pairs', () => {
    expect(() => parseConfig({ BLOB_STORE: 's3' })).toThrow('S3_BUCKET: required when BLOB_STORE=s3');
    expect(() => parseConfig({ AWS_ACCESS_KEY_ID: 'a' })).toThrow('set both or neither');
    expect(() => parseConfig({ S3_BUCKET: 'No_Such' })).toThrow('S3_BUCKET');
    expect(() => parseConfig({ S3_ENDPOINT: 'minio:9000' })).toThrow('S3_ENDPOINT');
    const cfg = parseConfig({ BLOB_STORE: 's3', S3_BUCKET: 'evidence', S3_PREFIX: 'newsroom/a' });
    expect(cfg).toMatchObject({ BLOB_STORE: 's3', S3_BUCKET: 'evidence', S3_PREFIX: 'newsroom/a/' });
    expect(parseConfig({ S3_PREFIX: 'p/' }).S3_PREFIX).toBe('p/');
    for (const bad of ['/p', 'a//b', 'a b'])
      expect(() => parseConfig({ S3_PREFIX: bad }), bad).toThrow('S3_PREFIX');
  });

  it('migrates as the owner and runs as another role unless DATABASE_URL alone is set', () => {
    const one = 'postgresql://owner:pw@db.example:5433/ct';
    expect(parseConfig({ DATABASE_URL: one })).toMatchObject({
      DATABASE_URL: one,
      MIGRATION_DATABASE_URL: one,
    });
    expect(parseConfig({ MIGRATION_DATABASE_URL: one })).toMatchObject({
      DATABASE_URL: 'postgresql://claimtrail_app:claimtrail_app@db.example:5433/ct',
      MIGRATION_DATABASE_URL: one,
    });
    const runtime = 'postgresql://app:x@db.example:5433/ct';
    expect(parseConfig({ DATABASE_URL: runtime, MIGRATION_DATABASE_URL: one })).toMatchObject({
      DATABASE_URL: runtime,
      MIGRATION_DATABASE_URL: one,
    });
  });

  it('treats empty strings as unset and coerces numbers and lists', () => {
    const cfg = parseConfig({
      PORT: '',
      FETCH_MAX_BYTES: '2048',
      FETCH_ALLOWLIST: ' 127.0.0.1:8080, ,10.0.0.0/8',
    });
    expect(cfg.PORT).toBe(3000);
    expect(cfg.FETCH_MAX_BYTES).toBe(2048);
    expect(cfg.FETCH_ALLOWLIST).toEqual(['127.0.0.1:8080', '10.0.0.0/8']);
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '0'],
    ['PORT', '80.5'],
    ['DATABASE_URL', 'nonsense'],
    ['DATABASE_URL', 'mysql://root@localhost/claimtrail'],
    ['MIGRATION_DATABASE_URL', 'nonsense'],
    ['REDIS_URL', 'http://x'],
    ['FETCH_MAX_BYTES', '-1'],
    ['LOG_ORIGIN', 'claimtrail local/log'],
    ['LOG_ORIGIN', 'claimtrail+log'],
    ['REDIS_PREFIX', 'has space'],
    ['X_SYNDICATION_URL', 'ftp://example.com'],
    ['LOG_LEVEL', 'verbose'],
    ['NODE_ENV', 'prod'],
  ])('names %s when it is %j', (name, value) => {
    const problems = problemsOf({ [name]: value });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(new RegExp(`^${name}: `));
  });

  it('names every bad variable at once', () => {
    const problems = problemsOf({ PORT: 'abc', REDIS_URL: 'http://x', BODY_LIMIT_BYTES: '0' });
    expect(problems.map((p) => p.split(':')[0]).sort()).toEqual(['BODY_LIMIT_BYTES', 'PORT', 'REDIS_URL']);
  });
});

describe('the CLI with a bad variable', () => {
  it.each([
    ['PORT', 'abc'],
    ['DATABASE_URL', 'nonsense'],
  ])('exits non-zero with one stderr line naming %s', async (name, value) => {
    const { code, stdout, stderr } = await runCli(['api'], { [name]: value });
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(name);
    expect(stdout).toBe(''); // nothing started, not even a log line
  });
});

describe('.env.example', () => {
  const text = readFileSync(`${root}.env.example`, 'utf8');
  const entries = text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.trimStart().startsWith('#'))
    .map((l) => {
      const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(l);
      if (!m) throw new Error(`.env.example: cannot read line ${JSON.stringify(l)}`);
      return [m[1]!, m[2]!] as const;
    });

  it('lists exactly the variables the service reads, once each', () => {
    const names = entries.map(([n]) => n);
    expect(names.length).toBe(new Set(names).size);
    expect([...names].sort()).toEqual([...configVariables].sort());
  });

  it('shows the defaults', () => {
    expect(parseConfig(Object.fromEntries(entries))).toEqual(parseConfig({}));
  });
});

// --- docker-compose.yml, read line by line (the format it must keep is described at its top) ---

interface Service {
  command: string;
  environment: Map<string, string>;
  dependsOn: Map<string, string>;
  volumes: string[];
}

const unquote = (v: string) => v.trim().replace(/^(["'])(.*)\1$/, '$2');

function parseCompose(text: string) {
  const anchors = new Map<string, Map<string, string>>();
  const services = new Map<string, Service>();
  let anchor: Map<string, string> | undefined;
  let inServices = false;
  let service: Service | undefined;
  let block = '';
  let dependency = '';
  for (const [i, raw] of text.split('\n').entries()) {
    const fail: () => never = () => {
      throw new Error(`docker-compose.yml:${i + 1}: cannot read ${JSON.stringify(raw)}`);
    };
    const line = raw.replace(/\s+#.*$/, '').trimEnd();
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const indent = line.length - line.trimStart().length;
    const m = /^\s*([^:\s]+):\s*(.*)$/.exec(line);
    const key = m?.[1];
    const value = unquote(m?.[2] ?? '');
    if (indent === 0) {
      if (key === undefined) fail();
      const anchorName = /^&([\w-]+)$/.exec(value)?.[1];
      anchor = anchorName === undefined ? undefined : new Map();
      if (anchorName !== undefined && anchor) anchors.set(anchorName, anchor);
      inServices = key === 'services';
    } else if (anchor) {
      if (indent !== 2 || key === undefined) fail();
      anchor.set(key, value);
    } else if (inServices && indent === 2) {
      if (key === undefined || value !== '') fail();
      service = { command: '', environment: new Map(), dependsOn: new Map(), volumes: [] };
      services.set(key, service);
    } else if (inServices && service && indent === 4) {
      if (key === undefined) fail();
      block = key;
      if (block === 'command') service.command = value;
      if (block === 'environment' && value !== '') fail(); // only the mapping form
    } else if (inServices && service && indent === 6) {
      if (block === 'environment') {
        if (key === undefined) fail();
        if (key === '<<') {
          const merged = anchors.get(value.replace(/^\*/, '')) ?? fail();
          for (const [k, v] of merged) service.environment.set(k, v);
        } else service.environment.set(key, value);
      } else if (block === 'depends_on' && key !== undefined) dependency = key;
      else if (block === 'volumes' && line.trimStart().startsWith('- ')) {
        service.volumes.push(unquote(line.trimStart().slice(2)));
      }
    } else if (inServices && service && indent === 8 && block === 'depends_on' && key === 'condition') {
      service.dependsOn.set(dependency, value);
    }
  }
  return services;
}

describe('docker-compose.yml', () => {
  const services = parseCompose(readFileSync(`${root}docker-compose.yml`, 'utf8'));
  const ours = [...services].filter(([, s]) => s.command.includes('bin/claimtrail.mjs'));

  it('the reader refuses what it cannot read (list-form environment)', () => {
    expect(() => parseCompose('services:\n  api:\n    environment:\n      - PORT=3000\n')).toThrow(/:4:/);
  });

  it('has postgres, redis (noeviction), minio and its bucket set-up, migrate, api, worker and sequencer', () => {
    expect([...services.keys()].sort()).toEqual([
      'api',
      'buckets',
      'migrate',
      'minio',
      'postgres',
      'redis',
      'sequencer',
      'worker',
    ]);
    expect(ours.map(([n]) => n).sort()).toEqual(['api', 'migrate', 'sequencer', 'worker']);
    expect(services.get('redis')?.command).toMatch(/maxmemory-policy"?,?\s*"?noeviction/);
  });

  it('gives claimtrail services only variables the service reads, with valid values', () => {
    for (const [name, s] of ours) {
      const unknown = [...s.environment.keys()].filter((k) => !configVariables.includes(k));
      expect(unknown, `service ${name}`).toEqual([]);
      expect(() => parseConfig(Object.fromEntries(s.environment)), `service ${name}`).not.toThrow();
    }
  });

  it.each(['api', 'worker', 'sequencer'])(
    '%s has the database, Redis, its data volume and waits for migrate',
    (name) => {
      const s = services.get(name)!;
      expect(s.command).toMatch(new RegExp(`bin/claimtrail\\.mjs"?,\\s*"?${name}\\b`));
      expect(s.environment.get('DATABASE_URL')).toMatch(/^postgresql:\/\/.*@postgres:5432\//);
      expect(s.environment.get('REDIS_URL')).toBe('redis://redis:6379');
      expect(s.dependsOn.get('migrate')).toBe('service_completed_successfully');
      const mounts = s.volumes.map((v) => v.split(':')[1]);
      for (const file of [s.environment.get('BLOB_DIR'), s.environment.get('LOG_SIGNING_KEY_FILE')]) {
        expect(
          mounts.some((m) => m && file?.startsWith(`${m}/`)),
          `${name}: ${file} on a volume`,
        ).toBe(true);
      }
    },
  );

  it('migrates as the owner and runs api, worker and sequencer as another role of the same database', () => {
    const migrate = parseConfig(Object.fromEntries(services.get('migrate')!.environment));
    const owner = new URL(migrate.MIGRATION_DATABASE_URL);
    expect(migrate.DATABASE_URL).not.toBe(migrate.MIGRATION_DATABASE_URL);
    for (const name of ['api', 'worker', 'sequencer']) {
      const env = services.get(name)!.environment;
      // Owner credentials only where migrations run.
      expect(env.has('MIGRATION_DATABASE_URL'), name).toBe(false);
      const runtime = new URL(parseConfig(Object.fromEntries(env)).DATABASE_URL);
      expect(runtime.toString(), name).toBe(migrate.DATABASE_URL);
      expect(runtime.username, name).not.toBe(owner.username);
      expect(`${runtime.host}${runtime.pathname}`, name).toBe(`${owner.host}${owner.pathname}`);
    }
  });

  it('api, worker and sequencer keep evidence in the MinIO bucket, as a user other than MinIO root', () => {
    const minio = services.get('minio')!;
    const buckets = services.get('buckets')!;
    expect(buckets.dependsOn.get('minio')).toBe('service_healthy');
    for (const name of ['api', 'worker', 'sequencer']) {
      const cfg = parseConfig(Object.fromEntries(services.get(name)!.environment));
      expect(cfg.BLOB_STORE, name).toBe('s3');
      expect(new URL(cfg.S3_ENDPOINT!).host, name).toBe('minio:9000');
      expect(buckets.command, name).toContain(`mc mb --ignore-existing root/${cfg.S3_BUCKET}`);
      expect(buckets.command, name).toContain(
        `mc admin user add root ${cfg.AWS_ACCESS_KEY_ID} ${cfg.AWS_SECRET_ACCESS_KEY}`,
      );
      expect(cfg.AWS_ACCESS_KEY_ID, name).not.toBe(minio.environment.get('MINIO_ROOT_USER'));
    }
    for (const name of ['api', 'worker']) {
      expect(services.get(name)!.dependsOn.get('buckets'), name).toBe('service_completed_successfully');
    }
  });

  it('api listens on all interfaces on port 3000', () => {
    expect(services.get('api')?.environment.get('HOST')).toBe('0.0.0.0');
    expect(parseConfig(Object.fromEntries(services.get('api')!.environment)).PORT).toBe(3000);
  });
});
