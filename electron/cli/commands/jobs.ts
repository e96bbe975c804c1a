// `snapkeep jobs`: the jobs the service runs, through the same client the
// app uses: the root helper when it answers on its socket, else the service
// in this process with the user's own directories.
import { parseArgs } from 'node:util';

import { AppError, fullReadWords, type Job, runResult } from '../../common/contract';
import { formatBytes, formatDuration, formatTimestamp } from '../../common/format';
import { openClient } from '../../helper/client';
import { selectBackend } from '../../helper/select-backend';
import type { Command } from '../command';
import { EXIT, exitCodeFor } from '../exit-codes';

function schedule(j: Job): string {
  const s = j.schedule;
  switch (s.kind) {
    case 'manual':
      return 'manual';
    case 'hourly':
      return `hourly at :${String(s.minute).padStart(2, '0')}`;
    case 'daily':
      return `daily at ${s.at}`;
    case 'weekly':
      return `weekly on ${['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][s.day]} at ${s.at}`;
    case 'cron':
      return `cron ${s.expression}`;
  }
}

export const jobsCommand: Command = {
  name: 'jobs',
  summary: 'list jobs, run one now, or show their history (through the helper when it runs)',
  usage: 'snapkeep jobs [list | run <job-id> [--wait] | history [<job-id>] [--limit N]] [--local] [--json]',
  async run({ args, json, out, err }) {
    const { values, positionals } = parseArgs({
      args,
      options: { wait: { type: 'boolean' }, limit: { type: 'string' }, local: { type: 'boolean' } },
      allowPositionals: true,
    });
    const [sub = 'list', id] = positionals;
    if (!['list', 'run', 'history'].includes(sub)) throw new AppError('INVALID_ARGUMENT', `unknown subcommand "${sub}" (list, run, history)`);
    // A one-shot command must not start scheduled runs it would then kill on exit.
    const selected = await selectBackend({ forceLocal: values.local ?? false, local: { schedule: false } });
    if (selected.note !== undefined && !json) err(`note: ${selected.note}`);
    const client = await openClient(selected.backend);
    try {
      if (sub === 'list') {
        const jobs = await client.call('jobs.list', {});
        if (json) out(JSON.stringify(jobs));
        else if (jobs.length === 0) out('no jobs');
        else
          for (const j of jobs)
            out(
              `${j.id}  ${j.name}  ${schedule(j)}${j.enabled ? '' : ' (disabled)'}  next: ${j.nextRun ? formatTimestamp(j.nextRun) : '-'}  last: ${j.lastRun ? `${j.lastRun.result ?? j.lastRun.status} ${formatTimestamp(j.lastRun.at)}` : '-'}${j.running ? '  RUNNING' : ''}`,
            );
        return EXIT.OK;
      }
      if (sub === 'history') {
        const limit = values.limit === undefined ? 20 : Number(values.limit);
        if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new AppError('INVALID_ARGUMENT', '--limit must be 1-1000');
        const entries = await client.call('history.list', { limit, ...(id !== undefined && { jobId: id }) });
        if (json) out(JSON.stringify(entries));
        else
          for (const e of entries) {
            out(`${formatTimestamp(e.finishedAt)}  ${e.jobName}  ${runResult(e)}  read ${formatBytes(e.bytesRead)}, stored ${formatBytes(e.storedBytes ?? e.bytesWritten)} in ${formatDuration(e.durationMs / 1000)}${e.error ? `  ${e.error.code}: ${e.error.message}` : ''}`);
            for (const r of e.reads ?? []) if (r.reason) out(`    ${r.source}: ${fullReadWords(r)}`);
          }
        return EXIT.OK;
      }
      if (id === undefined) throw new AppError('INVALID_ARGUMENT', 'snapkeep jobs run <job-id>');
      const { taskId } = await client.call('jobs.run', { id });
      if (!values.wait) {
        out(json ? JSON.stringify({ taskId }) : `started: task ${taskId}`);
        return EXIT.OK;
      }
      for (;;) {
        const t = await client.call('tasks.get', { taskId });
        if (t.state !== 'running' && t.state !== 'queued') {
          if (json) out(JSON.stringify(t));
          else out(`${t.state}${t.error ? `: ${t.error.message}` : ''}${t.result?.['pointId'] ? ` (restore point ${String(t.result['pointId'])})` : ''}`);
          return t.error ? exitCodeFor(t.error.code) : EXIT.OK;
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    } finally {
      client.close();
      await selected.close();
    }
  },
};
