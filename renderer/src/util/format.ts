// How sizes, rates, durations and times read everywhere in the app. Pure
// and free of Vue and the DOM: Electron main imports it for the tray and the
// notifications, so both say things the same way as the window.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal units, as disks are labelled: 500 GB, 1.5 TB. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
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

/** Time left, rounded up the way people say it; unknown while the rate settles. */
export function formatEta(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds)) return 'estimating time left';
  if (seconds < 5) return 'almost done';
  if (seconds < 60) return `${Math.ceil(seconds / 5) * 5} s left`;
  if (seconds < 3600) return `${Math.ceil(seconds / 60)} min left`;
  return `${formatDuration(Math.ceil(seconds / 60) * 60)} left`;
}

export function formatPercent(done: number, total: number): number {
  if (!(total > 0)) return 0;
  return Math.max(0, Math.min(100, Math.floor((done / total) * 100)));
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad = (n: number) => String(n).padStart(2, '0');

/** "today 14:02", "yesterday 09:10", "tomorrow 02:00", "Mon 3 Mar 14:02", "3 Mar 2025 14:02" (local time). */
export function formatWhen(time: string | Date, now: Date = new Date()): string {
  const d = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(d.getTime())) return '?';
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

/** Full local date and time for tooltips and details: 2026-03-02 14:02:05. */
export function formatTimestamp(time: string | Date): string {
  const d = typeof time === 'string' ? new Date(time) : time;
  if (Number.isNaN(d.getTime())) return '?';
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
