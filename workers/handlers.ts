// Every job handler, by catalogue name. The worker process refuses to start when a
// catalogued job has no entry here or one has two.
import type { JobHandler } from './handler.ts';
import { captureSourceJob } from './jobs/capture-source.job.ts';
import { captureSweepJob } from './jobs/capture-sweep.job.ts';
import { exportBuildJob } from './jobs/export-build.job.ts';
import { exportSweepJob } from './jobs/export-sweep.job.ts';
import { verifySubjectJob } from './jobs/verify-subject.job.ts';

export const handlers: readonly JobHandler[] = [
  verifySubjectJob as JobHandler,
  captureSourceJob as JobHandler,
  captureSweepJob as JobHandler,
  exportBuildJob as JobHandler,
  exportSweepJob as JobHandler,
];
