// Every job handler, by catalogue name. The worker process refuses to start when a
// catalogued job has no entry here or one has two.
import type { JobHandler } from './handler.ts';
import { verifySubjectJob } from './jobs/verify-subject.job.ts';

export const handlers: readonly JobHandler[] = [verifySubjectJob as JobHandler];
