// Prisma CLI configuration. Prisma's native engines cannot be downloaded on our machines, so
// the CLI runs its JavaScript schema engine through a driver adapter. The adapter for the
// CLI is @prisma/adapter-pg 7.x (aliased as @prisma/adapter-pg-v7) because 6.19's fails to
// read catalog columns of type `name` (prisma/orm#27403). The runtime client uses 6.19's.
// Run the CLI through `claimtrail db …` or src/db/migrate.ts, which set the engine variables.
import { PrismaPg } from '@prisma/adapter-pg-v7';
import { defineConfig } from 'prisma/config';
import { config } from './src/config/env.ts';

export default defineConfig({
  experimental: { adapter: true },
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  engine: 'js',
  adapter: async () => new PrismaPg({ connectionString: config().DATABASE_URL }),
});
