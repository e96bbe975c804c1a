// The service log: what the helper did and why, for the Logs view, the
// journal (stderr under systemd) and a support request. Entries are kept in
// memory for logs.list and appended as JSON lines to one file that rotates
// once, so the log never grows without bound.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { LogEntry } from '../../common/contract';
import type { EventBus } from '../api/event-bus';

export type LogLevel = LogEntry['level'];

export interface LoggerOptions {
  /** JSON-lines file; none keeps the log in memory only. */
  file?: string;
  bus?: EventBus;
  /** Also write each line here (stderr for the journal). */
  echo?: (line: string) => void;
  /** Rotate the file past this size (default 4 MiB). */
  maxFileBytes?: number;
  now?: () => Date;
}

/** A logger bound to one source ("helper", "job:<id>", "scheduler", ...). */
export interface SourceLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Entries kept in memory: the most logs.list may ask for. */
const RING = 5000;

export class Logger {
  private readonly ring: LogEntry[] = [];
  private chain: Promise<void> = Promise.resolve();
  private bytes = 0;

  constructor(private readonly options: LoggerOptions = {}) {}

  /** Loads the tail of an earlier run's log, so logs.list survives a restart. */
  async open(): Promise<void> {
    const file = this.options.file;
    if (!file) return;
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
    const older = await readLines(file + '.1');
    const current = await readLines(file);
    this.bytes = current.reduce((n, l) => n + l.length + 1, 0);
    for (const line of [...older, ...current].slice(-RING)) {
      try {
        const entry = LogEntry.safeParse(JSON.parse(line));
        if (entry.success) this.ring.push(entry.data);
      } catch {
        // a line cut short by a crash: skip it
      }
    }
  }

  log(level: LogLevel, source: string, message: string): void {
    const entry: LogEntry = { time: (this.options.now?.() ?? new Date()).toISOString(), level, source, message };
    this.ring.push(entry);
    if (this.ring.length > RING) this.ring.splice(0, this.ring.length - RING);
    this.options.echo?.(`${level}: [${source}] ${message}`);
    if (level !== 'debug') this.options.bus?.emit('log.entry', entry);
    if (this.options.file) this.append(this.options.file, JSON.stringify(entry) + '\n');
  }

  for(source: string): SourceLogger {
    return {
      debug: (m) => this.log('debug', source, m),
      info: (m) => this.log('info', source, m),
      warn: (m) => this.log('warn', source, m),
      error: (m) => this.log('error', source, m),
    };
  }

  /**
   * The newest `limit` entries, oldest first. `source` matches exactly or as
   * a prefix before ":" ("job" matches "job:nightly").
   */
  list(limit: number, source?: string): LogEntry[] {
    const match = (s: string) => source === undefined || s === source || s.startsWith(source + ':');
    return this.ring.filter((e) => match(e.source)).slice(-limit);
  }

  /** Resolves when every line logged so far is on disk (tests, shutdown). */
  flush(): Promise<void> {
    return this.chain;
  }

  private append(file: string, line: string): void {
    const max = this.options.maxFileBytes ?? 4 << 20;
    this.chain = this.chain
      .then(async () => {
        if (this.bytes + line.length > max) {
          await fs.rename(file, file + '.1').catch(() => undefined);
          this.bytes = 0;
        }
        await fs.appendFile(file, line, { mode: 0o640 });
        this.bytes += line.length;
      })
      .catch((e: unknown) => {
        // Logging must never take the service down; say it once on stderr.
        process.stderr.write(`snapkeep: cannot write log ${file}: ${e instanceof Error ? e.message : String(e)}\n`);
      });
  }
}

async function readLines(file: string): Promise<string[]> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  return text.split('\n').filter((l) => l.length > 0);
}
