// The DDL Prisma derives from schema.prisma (what `prisma migrate diff --from-empty
// --to-schema … --script` prints). Prisma 7's CLI runs that command only on its native schema
// engine, which cannot be downloaded on our machines, so this drives Prisma's WebAssembly build
// of the same engine (@prisma/schema-engine-wasm, the one Prisma 6's CLI bundled) through the
// pg driver adapter. Its version is pinned to the engines of the installed @prisma/client.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import * as engineBindings from '@prisma/schema-engine-wasm/schema_engine_bg';

// Node has WebAssembly, but the project's type libraries (ES2023 + node, no DOM) do not declare it.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const { Module, Instance } = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let loaded: Promise<typeof engineBindings.SchemaEngine> | undefined;

/** Instantiates the engine's wasm once per process (the package expects a bundler to do it). */
function schemaEngine(): Promise<typeof engineBindings.SchemaEngine> {
  loaded ??= (async () => {
    const bindingsPath = createRequire(import.meta.url).resolve(
      '@prisma/schema-engine-wasm/schema_engine_bg',
    );
    const bytes = await readFile(join(dirname(bindingsPath), 'schema_engine_bg.wasm'));
    const instance = new Instance(new Module(bytes), {
      './schema_engine_bg.js': engineBindings,
    });
    engineBindings.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return engineBindings.SchemaEngine;
  })();
  return loaded;
}

/** The SQL that creates, on an empty database, what `schemaPath` describes. The engine needs a
 * connection for its dialect, to `databaseUrl`; it does not change that database. */
export async function schemaSql(schemaPath: string, databaseUrl: string): Promise<string> {
  const content = await readFile(schemaPath, 'utf8');
  const SchemaEngine = await schemaEngine();
  const adapter = bindMigrationAwareSqlAdapterFactory(new PrismaPg({ connectionString: databaseUrl }));
  const engine = await SchemaEngine.new({ datamodels: [[schemaPath, content]] }, () => {}, adapter);
  try {
    const result = await engine.diff({
      from: { tag: 'empty' },
      to: { tag: 'schemaDatamodel', files: [{ path: schemaPath, content }] },
      script: true,
      exitCode: null,
      filters: { externalTables: [], externalEnums: [] },
    });
    if (result.stdout === null) throw new Error('the schema engine returned no script');
    return result.stdout;
  } finally {
    engine.free();
  }
}
