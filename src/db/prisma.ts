// Prisma Client (generator `prisma-client`, Prisma 7: no native engine) through the pg driver adapter.
import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient } from '../generated/prisma/client.ts';

export { Prisma } from '../generated/prisma/client.ts';
export { PrismaClient };

export function createPrisma(databaseUrl: string, poolMax = 10): PrismaClient {
  const adapter = new PrismaPg({ connectionString: databaseUrl, max: poolMax });
  return new PrismaClient({ adapter });
}
