// Every job handler, by catalogue name. The worker process refuses to start when a
// catalogued job has no entry here or one has two. Each job's module is imported when the
// process runs its first job of that kind (lazyHandler): start-up loads none of them.
import { type JobHandler, lazyHandler } from './handler.ts';

export const handlers: readonly JobHandler[] = [
  lazyHandler(
    'custody.verify-subject',
    async () => (await import('./jobs/verify-subject.job.ts')).verifySubjectJob,
  ),
  lazyHandler('capture.source', async () => (await import('./jobs/capture-source.job.ts')).captureSourceJob),
  lazyHandler('capture.sweep', async () => (await import('./jobs/capture-sweep.job.ts')).captureSweepJob),
  lazyHandler('export.build', async () => (await import('./jobs/export-build.job.ts')).exportBuildJob),
  lazyHandler('export.sweep', async () => (await import('./jobs/export-sweep.job.ts')).exportSweepJob),
] as JobHandler[];
