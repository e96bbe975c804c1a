// Every reason the module gives for restarting a kept map becomes a cause
// the history can put in words; a map continued at this boot but of
// another generation restarted earlier; a RAM-only map is "not persistent".
import { describe, expect, it } from 'vitest';

import { fullReadWords, trackerRestartWords, TrackerRestartCause, trackingWords, type TrackedDevice } from '../../../../electron/common/contract';
import { trackerRestart } from '../../../../electron/core/runner/tracker-restart';
import type { TrackerInfo, TrackerPersistence } from '../../../../electron/core/snapshot/driver';

const base: TrackerInfo = { generation: 'g', number: 1, blockSize: 65536, deviceSizeBytes: 1 << 30 };
const kept = (p: Partial<TrackerPersistence>): TrackerInfo => ({ ...base, persist: { continued: false, unclean: false, failed: false, reason: 'none', ...p } });
const at = '2026-11-30T22:15:00.000Z';

describe('trackerRestart', () => {
  it.each([
    ['new', 'new-store'],
    ['corrupt', 'corrupt'],
    ['identity', 'device-changed'],
    ['size', 'device-changed'],
    ['geometry', 'settings-changed'],
    ['version', 'settings-changed'],
    ['absent', 'absent'],
    ['something-newer', 'unknown'],
  ])('attach reason %s is cause %s', (reason, cause) => {
    expect(trackerRestart(kept({ reason, foundAt: at })).cause).toBe(cause);
  });

  it('a map in RAM only was lost with the restart', () => {
    expect(trackerRestart(base)).toEqual({ cause: 'not-persistent' });
  });

  it('an unclean restart and writes while absent carry when the map was last good', () => {
    expect(trackerRestart(kept({ reason: 'unclean', foundAt: at }))).toEqual({ cause: 'unclean', since: at });
    expect(trackerRestart(kept({ reason: 'absent', foundAt: at }))).toEqual({ cause: 'absent', since: at });
    expect(trackerRestart(kept({ reason: 'unclean' }))).toEqual({ cause: 'unclean' });
    // A damaged store's time is not evidence of anything.
    expect(trackerRestart(kept({ reason: 'corrupt', foundAt: at }))).toEqual({ cause: 'corrupt' });
  });

  it('a failed store wins over its attach reason; a continued map restarted earlier', () => {
    expect(trackerRestart(kept({ failed: true, continued: true }))).toEqual({ cause: 'store-failed' });
    expect(trackerRestart(kept({ continued: true, unclean: true }))).toEqual({ cause: 'earlier' });
  });
});

describe('words', () => {
  it('every cause has its own words', () => {
    const words = TrackerRestartCause.options.map((cause) => trackerRestartWords({ cause }));
    expect(new Set(words).size).toBe(TrackerRestartCause.options.length);
    for (const w of words) expect(w.length).toBeGreaterThan(20);
  });

  it('the history line names the cause and the time the map was last good', () => {
    const line = fullReadWords({ source: '/dev/sda', mode: 'full', reason: 'tracker-restarted', restart: { cause: 'unclean', since: at }, bytes: 1 });
    expect(line).toMatch(/^read in full: this computer was not shut down cleanly \(its change map was last saved \w{3} \d+ \w{3} 2026 \d\d:\d\d:\d\d\)/);
    expect(line).toContain('reads the whole device once');
    // Without a cause (records from before), the general words stay.
    expect(fullReadWords({ source: '/dev/sda', mode: 'full', reason: 'tracker-restarted', bytes: 1 })).toContain('the change tracker started over since the last backup');
  });
});

describe('tracked devices in words', () => {
  const d = (o: Partial<TrackedDevice>): TrackedDevice => ({ device: '/dev/sda', name: 'sda', tracked: true, kept: 'ram', ...o });
  it('says whether the map survives a reboot, since when it is continuous, and why it started over', () => {
    expect(trackingWords(d({ continuousSince: at }))).toMatch(/^tracked since .*2026.*, in memory only: the next reboot loses the map/);
    expect(trackingWords(d({ kept: 'across-reboots', continuedFrom: 'seal', lastSaved: at, continuousSince: at }))).toMatch(
      /^kept across reboots: tracking continuous since .*, continued from the clean shutdown of .*2026/,
    );
    expect(trackingWords(d({ kept: 'across-reboots', continuedFrom: 'crash', lastSaved: at }))).toContain('continued after a crash under write intent');
    expect(trackingWords(d({ kept: 'across-reboots', continuedFrom: 'seal', lastSaved: at }))).not.toContain('cannot be ruled out');
    expect(trackingWords(d({ kept: 'across-reboots', continuedFrom: 'crash', unverified: true }))).toContain("writes made while Snapkeep's module was not loaded (another system booted) cannot be ruled out");
    expect(trackingWords(d({ kept: 'across-reboots', restart: { cause: 'absent', since: at } }))).toMatch(/started over at this boot: the disk was written while Snapkeep's module was not loaded after/);
    expect(trackingWords(d({ kept: 'not-attached', tracked: false }))).toContain('not tracked now');
    expect(trackingWords(d({ kept: 'store-failed' }))).toContain('could not be written');
  });
});
