// The one mapping from error code + context to words, table-driven: every
// code of the contract in every context has words that say what happened,
// why and what to do, without codes or errno names; and the contexts the
// review found mixed up (a mistyped file worded as an unplugged disk, a
// missing nbd module worded as a busy device, a missing folder, a damaged
// repository with generic words) each get their own words.
import { describe, expect, it } from 'vitest';

import { AppError, ErrorCode, type ErrorInfo } from '../../../electron/common/contract';
import { describeError, ERROR_SUBJECTS, ERROR_WORDS } from '../../../renderer/src/errors/words';

const JARGON = /[A-Z]{2,}_[A-Z]|\bE[A-Z]{3,}\b|\bat \w+ \(|errno|undefined|null/;

describe('error mapping: every code in every context', () => {
  for (const code of ErrorCode.options) {
    for (const subject of [undefined, ...ERROR_SUBJECTS]) {
      it(`${code} about ${subject ?? 'nothing in particular'}`, () => {
        const d = describeError(new AppError(code, 'lower layer text'), subject ? { subject } : undefined);
        expect(d.code).toBe(code);
        expect(d.title.length).toBeGreaterThan(3);
        expect(d.message.endsWith('.')).toBe(true);
        expect(`${d.title} ${d.message} ${d.hint ?? ''}`).not.toMatch(JARGON);
        // The technical part stays available on demand.
        expect(d.technical).toBe('lower layer text');
      });
    }
  }
});

interface Case {
  name: string;
  error: ErrorInfo;
  subject?: (typeof ERROR_SUBJECTS)[number];
  title: RegExp;
  not?: RegExp;
}

const CASES: Case[] = [
  {
    name: 'file restore without the nbd module says so, not "device busy"',
    error: { code: 'DEVICE_BUSY', message: 'the nbd kernel module is not available (modprobe nbd failed)' },
    title: /nbd/i,
    not: /busy|wait for the other backup/i,
  },
  {
    name: 'the nbd reason given in details wins over the message',
    error: { code: 'DEVICE_BUSY', message: 'x', details: { reason: 'nbd-unavailable' } },
    title: /nbd/i,
    not: /busy/i,
  },
  {
    name: 'every nbd device in use is "busy", and says which kind',
    error: { code: 'DEVICE_BUSY', message: 'every /dev/nbd device is in use' },
    title: /network block devices|nbd/i,
    not: /other backup/i,
  },
  {
    name: 'a mistyped image file is a missing file, not an unplugged disk',
    error: { code: 'DEVICE_NOT_FOUND', message: 'source /home/ann/disk.img does not exist', details: { source: '/home/ann/disk.img' } },
    title: /file/i,
    not: /plug|unplugged/i,
  },
  {
    name: 'a missing disk is an unplugged disk',
    error: { code: 'DEVICE_NOT_FOUND', message: 'source /dev/sdz does not exist (disk unplugged?)', details: { source: '/dev/sdz' } },
    title: /disk|device/i,
  },
  {
    name: 'a path that is not a block device says so',
    error: { code: 'DEVICE_NOT_FOUND', message: '/tmp/x.img is not a block device', details: { path: '/tmp/x.img' } },
    title: /not a disk/i,
    not: /plug/i,
  },
  {
    name: 'a missing parent folder of a restore target is a missing folder',
    error: { code: 'NOT_FOUND', message: 'the folder /home/ann/restored does not exist', details: { path: '/home/ann/restored/disk.img' } },
    title: /folder/i,
    not: /deleted in the meantime/i,
  },
  {
    name: 'the engine words a missing target folder differently; same words',
    error: { code: 'NOT_FOUND', message: 'the directory of restore target /x/y.img does not exist', details: { path: '/x/y.img' } },
    title: /folder/i,
  },
  {
    name: 'a destination for copied files that is not a folder',
    error: { code: 'NOT_FOUND', message: 'destination /home/ann/nothere is not an existing directory', details: { path: '/home/ann/nothere' } },
    title: /folder/i,
  },
  {
    name: 'a file the UI asked about (context given by the caller)',
    error: { code: 'NOT_FOUND', message: 'no such thing' },
    subject: 'file',
    title: /file/i,
  },
  {
    name: 'a damaged repository has its own words, never the generic ones',
    error: { code: 'REPO_CORRUPT', message: 'pack 1f2e damaged' },
    title: /damaged/i,
    not: /Something went wrong/i,
  },
  {
    name: 'a folder that is not a repository is not an unplugged disk',
    error: { code: 'REPO_NOT_FOUND', message: '/home/ann/stuff is not a Snapkeep repository', details: { path: '/home/ann/stuff' } },
    title: /not a Snapkeep repository/i,
    not: /plug/i,
  },
  {
    name: 'a repository that is not reachable may be on an unplugged disk',
    error: { code: 'REPO_NOT_FOUND', message: 'repository Home is not reachable at /media/usb/repo (disk unplugged or path removed?)' },
    title: /not (found|reachable)/i,
  },
  {
    name: 'permission denied on a file names the file permissions, not the group',
    error: { code: 'PERMISSION_DENIED', message: 'EACCES: open /root/x.img', details: { path: '/root/x.img' } },
    title: /permission/i,
    not: /snapkeep" group/i,
  },
  {
    name: 'the restore target holding the repository',
    error: { code: 'DEVICE_BUSY', message: '/dev/sdb1 holds the repository being restored from', details: { path: '/dev/sdb1', repositoryPath: '/mnt/b' } },
    title: /repository/i,
  },
];

describe('error mapping: the contexts that need their own words', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const d = describeError(c.error, c.subject ? { subject: c.subject } : undefined);
      expect(d.title).toMatch(c.title);
      if (c.not) expect(`${d.title} ${d.message} ${d.hint ?? ''}`).not.toMatch(c.not);
      expect(d.technical).toBe(c.error.message);
    });
  }

  it('REPO_CORRUPT never falls back to the generic words', () => {
    const d = describeError({ code: 'REPO_CORRUPT', message: 'index damaged' });
    expect(d.title).not.toBe(ERROR_WORDS.INTERNAL.title);
    expect(d.message).not.toBe(ERROR_WORDS.INTERNAL.message);
    expect(d.hint).toMatch(/Verify/);
  });
});
