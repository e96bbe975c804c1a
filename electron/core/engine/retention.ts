// Which restore points a retention policy keeps: the newest keepLast, and
// the newest point of each of the last keepDaily days, keepWeekly ISO
// weeks and keepMonthly months that have points (GFS). Calendar units are
// the machine's local time. Points are grouped per job (or, without a job,
// per set of sources) and the policy applies to each group alone.
import type { Retention } from '../../common/contract';

export interface RetentionPoint {
  id: string;
  createdAt: string;
  group: string;
}

function isoWeek(d: Date): string {
  // The week belongs to the year of its Thursday (ISO 8601).
  const t = new Date(Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86400000 + 1) / 7);
  return `${t.getUTCFullYear()}-W${week}`;
}

const buckets: Array<{ key: keyof Retention; of: (d: Date) => string }> = [
  { key: 'keepDaily', of: (d) => `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}` },
  { key: 'keepWeekly', of: isoWeek },
  { key: 'keepMonthly', of: (d) => `${d.getFullYear()}-${d.getMonth()}` },
];

export function selectKept(points: RetentionPoint[], policy: Retention): { keep: Set<string>; remove: string[] } {
  const keep = new Set<string>();
  const groups = new Map<string, RetentionPoint[]>();
  for (const p of points) groups.set(p.group, [...(groups.get(p.group) ?? []), p]);
  for (const list of groups.values()) {
    const newestFirst = [...list].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
    newestFirst.slice(0, policy.keepLast).forEach((p) => keep.add(p.id));
    for (const b of buckets) {
      const limit = policy[b.key];
      const seen = new Set<string>();
      for (const p of newestFirst) {
        if (seen.size >= limit) break;
        const k = b.of(new Date(p.createdAt));
        if (seen.has(k)) continue;
        seen.add(k);
        keep.add(p.id);
      }
    }
  }
  return { keep, remove: points.filter((p) => !keep.has(p.id)).map((p) => p.id) };
}
