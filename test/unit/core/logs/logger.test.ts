// The service log: filters by source, survives a restart through its file,
// rotates instead of growing forever, and pushes entries as events.
import { readdirSync } from 'node:fs';
import * as path from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import type { LogEntry } from '../../../../electron/common/contract';
import { EventBus } from '../../../../electron/core/api/event-bus';
import { Logger } from '../../../../electron/core/logs/logger';
import { tempDir } from '../../../support/temp-dirs';

let tmp: ReturnType<typeof tempDir>;
beforeEach(() => (tmp = tempDir('snapkeep-log-')));
afterEach(() => tmp.remove());

describe('Logger', () => {
  it('filters by source, exactly or by prefix before ":"', () => {
    const log = new Logger();
    log.for('job:a').info('one');
    log.for('job:b').warn('two');
    log.for('helper').error('three');
    expect(log.list(10, 'job').map((e) => e.message)).toEqual(['one', 'two']);
    expect(log.list(10, 'job:b').map((e) => e.message)).toEqual(['two']);
    expect(log.list(1).map((e) => e.message)).toEqual(['three']);
  });

  it('reloads the earlier run from its file and rotates once past the size limit', async () => {
    const file = path.join(tmp.dir, 'logs', 'snapkeep.log');
    const first = new Logger({ file, maxFileBytes: 2000 });
    await first.open();
    for (let i = 0; i < 40; i++) first.for('helper').info(`line ${i}`);
    await first.flush();
    expect(readdirSync(path.dirname(file)).sort()).toEqual(['snapkeep.log', 'snapkeep.log.1']);

    const second = new Logger({ file, maxFileBytes: 2000 });
    await second.open();
    const kept = second.list(100).map((e) => e.message);
    expect(kept.at(-1)).toBe('line 39');
    expect(kept.length).toBeGreaterThan(10);
  });

  it('pushes info and above as log.entry events, not debug', () => {
    const bus = new EventBus();
    const seen: LogEntry[] = [];
    bus.listen((n, p) => n === 'log.entry' && seen.push(p as LogEntry));
    const log = new Logger({ bus });
    log.for('x').debug('quiet');
    log.for('x').warn('loud');
    expect(seen.map((e) => e.message)).toEqual(['loud']);
  });
});
