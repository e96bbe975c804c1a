// How sizes, rates, durations and times read everywhere: the window, the
// tray, the notifications and the CLI. Pure and free of Vue, the DOM and
// Node, so every process imports the same file and says things one way.
//
// Sizes are in IEC units (KiB, MiB, GiB: powers of 1024), as the engine,
// the kernel and `du -h` count them; one unit system, so a file shows the
// same figure in the app and in a terminal. Dates have one style: the day
// in words when it is near ("today 14:02", "Mon 3 Mar 14:02"), else
// "3 Mar 2025 14:02"; the exact form adds the weekday, year and seconds
// ("Mon 2 Mar 2026 14:02:05"), for tooltips, logs and the CLI.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 0 B, 1023 B, 1.00 KiB, 12.3 MiB, 466 GiB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** 45 s, 4 min 12 s, 2 h 5 min. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 1) return 'less than a second';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

/**
 * Time left, rounded up the way people say it; unknown while the rate
 * settles. `final`: the phase is the task's last, so its end is the task's
 * end; before that, the estimate covers only this step and says so, and
 * "almost done" is never said.
 */
export function formatEta(seconds: number | undefined, o: { final?: boolean } = {}): string {
  const final = o.final ?? true;
  if (seconds === undefined || !Number.isFinite(seconds)) return 'estimating time left';
  const step = final ? '' : ' in this step';
  if (seconds < 5) return final ? 'almost done' : 'finishing this step';
  if (seconds < 60) return `${Math.ceil(seconds / 5) * 5} s left${step}`;
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min left${step}`;
  return `${formatDuration(Math.ceil(seconds / 60) * 60)} left${step}`;
}

export function formatPercent(done: number, total: number): number {
  if (!(total > 0)) return 0;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number) => String(n).padStart(2, '0');

function toDate(time: string | Date): Date | null {
  const d = typeof time === 'string' ? new Date(time) : time;
  return Number.isNaN(d.getTime()) ? null : d;
}

/** "today 14:02", "yesterday 09:10", "tomorrow 02:00", "Mon 3 Mar 14:02", "3 Mar 14:02", "3 Mar 2025 14:02" (local time). */
export function formatWhen(time: string | Date, now: Date = new Date()): string {
  const d = toDate(time);
  if (!d) return '?';
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const midnight = (x: Date) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  // Rounded: a day across a daylight-saving change is 23 or 25 hours long.
  const diff = Math.round((midnight(d) - midnight(now)) / 86_400_000);
  if (diff === 0) return `today ${hm}`;
  if (diff === -1) return `yesterday ${hm}`;
  if (diff === 1) return `tomorrow ${hm}`;
  const date = `${d.getDate()} ${MONTHS[d.getMonth()]}`;
  if (Math.abs(diff) < 7) return `${DAYS[d.getDay()]} ${date} ${hm}`;
  return d.getFullYear() === now.getFullYear() ? `${date} ${hm}` : `${date} ${d.getFullYear()} ${hm}`;
}

/** The exact local time in the same style: "Mon 2 Mar 2026 14:02:05". */
export function formatTimestamp(time: string | Date): string {
  const d = toDate(time);
  if (!d) return '?';
  return `${DAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
