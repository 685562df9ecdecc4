// The repeating jobs' scheduler entries (the capture and export sweeps: `everyMs` in the
// catalogue). Every worker process installs them at start: one entry each however many workers
// start (an upsert is idempotent). The entries live in Redis, so a Redis that comes back empty
// (restarted without persistence, failed over to a replica that had not caught up, flushed)
// has lost them, and with them the very sweeps that repair what such a loss leaves behind:
// capture and export rows whose jobs are gone (src/queue/lost-jobs.ts) would stay queued until
// some worker restarted. So each worker also looks for its entries whenever the connection it
// installs them on is ready again, and once per interval of the most frequent one, and puts
// back any that is missing (the sweep then runs at once).
import type { AppContext } from '../src/context.ts';
import { findJobSpec, jobNames, type QueueName } from '../src/jobs/catalogue.ts';
import { retention } from '../src/queue/queues.ts';

interface Schedule {
  id: string;
  name: string;
  queue: QueueName;
  every: number;
}

/** The repeating jobs among `handled`. The id is the job name with `-` for `.` (`capture-sweep`,
 * the id earlier versions installed, so an upgrade replaces its entry). */
function schedulesOf(ctx: AppContext, handled: ReadonlySet<string>): Schedule[] {
  return jobNames.flatMap((name) => {
    const spec = findJobSpec(name);
    if (!spec?.everyMs || !handled.has(name)) return [];
    return [{ id: name.replaceAll('.', '-'), name, queue: spec.queue, every: spec.everyMs(ctx.config) }];
  });
}

const install = (ctx: AppContext, s: Schedule) =>
  ctx.queues
    .get(s.queue)
    .upsertJobScheduler(s.id, { every: s.every }, { name: s.name, data: {}, opts: { ...retention } });

export async function installSchedules(ctx: AppContext, handled: ReadonlySet<string>): Promise<void> {
  for (const s of schedulesOf(ctx, handled)) await install(ctx, s);
}

/**
 * Puts back any entry Redis lost: on every reconnect of ctx.redis (the connection the entries
 * are installed on) and every interval of the most frequent schedule. An entry that is there
 * is left alone: the check is one read, and the entry keeps its own next run. `stop()` ends
 * the watch.
 */
export function keepSchedules(ctx: AppContext, handled: ReadonlySet<string>): { stop(): void } {
  const schedules = schedulesOf(ctx, handled);
  if (schedules.length === 0) return { stop() {} };
  let checking = false; // one check at a time: a reconnect may come during the timer's
  const check = () => {
    if (checking) return;
    checking = true;
    void (async () => {
      for (const s of schedules) {
        if (await ctx.queues.get(s.queue).getJobScheduler(s.id)) continue;
        await install(ctx, s);
        ctx.log.warn(
          { scheduler: s.id },
          'repeating job missing from Redis (Redis lost its data?): installed again',
        );
      }
    })()
      .catch((err: Error) => ctx.log.warn({ err: err.message }, 'could not check the repeating jobs'))
      .finally(() => {
        checking = false;
      });
  };
  ctx.redis.on('ready', check);
  const timer = setInterval(check, Math.min(...schedules.map((s) => s.every)));
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      ctx.redis.off('ready', check);
    },
  };
}
