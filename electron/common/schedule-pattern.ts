// A job's schedule as the five-field cron pattern it means. Shared by the
// scheduler (which runs it) and the job wizard (which previews the next
// runs), so both read a schedule the same way.
import type { Schedule } from './contract';

export function cronPattern(s: Schedule): string | null {
  const hm = (at: string) => {
    const [h, m] = at.split(':');
    return `${Number(m)} ${Number(h)}`;
  };
  switch (s.kind) {
    case 'manual':
      return null;
    case 'hourly':
      return `${s.minute} * * * *`;
    case 'daily':
      return `${hm(s.at)} * * *`;
    case 'weekly':
      return `${hm(s.at)} * * ${s.day}`;
    case 'cron':
      return s.expression.trim();
  }
}
