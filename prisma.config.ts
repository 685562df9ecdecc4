// Prisma CLI configuration (Prisma 7). On our machines the CLI only runs `generate`: its
// migrate commands need a native schema engine that cannot be downloaded here, so
// src/db/migration-runner.ts applies prisma/migrations and the drift test derives the schema's
// SQL with Prisma's WebAssembly schema engine (README "Prisma on machines that cannot download
// engines"). The URL is for the CLI's other commands where the engine can be had.
import { defineConfig } from 'prisma/config';
import { config } from './src/config/env.ts';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: config().MIGRATION_DATABASE_URL },
});
