// snapkeep-boot reads /etc/snapkeep/boot.conf at boot, where a crash would
// leave every device untracked and a misread range would let the module
// overwrite somebody else's sectors. The tool is built with ASan + UBSan
// here and fed valid, hostile and random configs through its `check` and
// `attach` commands: each bad line is reported with its number and left
// out, the good ones stay, and nothing crashes or trips a sanitizer.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// @ts-expect-error -- plain JavaScript
import { buildBootTool } from '../../../scripts/build-boot.mjs';

let tool = '';
let dir = '';

beforeAll(() => {
  tool = buildBootTool({ asan: true }) as string;
  dir = mkdtempSync(join(tmpdir(), 'skboot-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(text: string | Buffer, ...args: string[]) {
  const conf = join(dir, 'boot.conf');
  writeFileSync(conf, text);
  chmodSync(conf, 0o644);
  const cmd = args.length ? args : ['check'];
  const r = spawnSync(tool, ['--config', conf, ...cmd], {
    encoding: 'utf8',
    // Sanitizer reports fail the run with a distinct status.
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:exitcode=99', UBSAN_OPTIONS: 'halt_on_error=1:exitcode=98' },
  });
  return { status: r.status, signal: r.signal, out: r.stdout, err: r.stderr };
}

const good = 'track /dev/disk/by-id/virtio-data0 identity=virtio-data0 store=/dev/disk/by-partuuid/1234-01 ranges=2048+8,4096+16 stamp=4112';

describe('snapkeep-boot config', () => {
  it('accepts a stamp page next to the ranges, and a line without one (an older store)', () => {
    const r = run('track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 stamp=16\ntrack /dev/vdc identity=b store=/dev/vda1 stamp=0 ranges=8+8 nointent\ntrack /dev/vdd identity=c store=/dev/vda1 ranges=24+8\n');
    expect(r.err).toBe('');
    expect(r.out).toContain('3 device(s), 0 line(s) left out');
    expect(r.status).toBe(0);
  });

  it('accepts a valid config with comments, blank lines and nointent', () => {
    const r = run(`# tracked devices\n\n${good}\n  track /dev/vdc identity=wwn-0x5000 store=/dev/vda1 ranges=0+24 nointent\n`);
    expect(r.err).toBe('');
    expect(r.out).toContain('2 device(s), 0 line(s) left out');
    expect(r.status).toBe(0);
  });

  const bad: [string, string][] = [
    ['track /dev/vdb identity=x store=/dev/vda1 ranges=8+8,12+8', 'not 4096-byte aligned'],
    ['track /dev/vdb identity=x store=/dev/vda1 ranges=8+8,0+16', 'ranges overlap'],
    ['track /dev/vdb identity=x store=/dev/vda1 ranges=99999999999999999999+8', 'two decimal numbers'],
    ['track /dev/vdb identity=x store=/dev/vda1 ranges=18446744073709551608+8', 'beyond any device'],
    ['track /dev/vdb identity=x store=/dev/vda1 ranges=-8+8', 'two decimal numbers'],
    ['track /dev/vdb identity=x store=/dev/vda1 ranges=8+0', 'a range is empty'],
    ['track /dev/vdb identity=x store=/dev/vda1 ranges=8-8', 'not <start>+<count>'],
    ['track /dev/vdb identity=x store=/dev/vda1 ranges=', 'not <start>+<count>'],
    ['track /dev/vdb identity= store=/dev/vda1 ranges=8+8', '1..64 characters'],
    [`track /dev/vdb identity=${'a'.repeat(65)} store=/dev/vda1 ranges=8+8`, '1..64 characters'],
    ['track /dev/vdb identity=a identity=b store=/dev/vda1 ranges=8+8', 'identity given twice'],
    ['track vdb identity=a store=/dev/vda1 ranges=8+8', 'not a path under /dev/'],
    [`track /dev/${'x'.repeat(300)} identity=a store=/dev/vda1 ranges=8+8`, 'path too long'],
    ['track /dev/vdb identity=a store=vda1 ranges=8+8', 'not a path under /dev/'],
    ['track /dev/vdb identity=a store=/dev/vda1', 'no ranges='],
    ['track /dev/vdb identity=a ranges=8+8', 'no store='],
    ['track /dev/vdb store=/dev/vda1 ranges=8+8', 'no identity='],
    ['track', 'no device'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 extra', 'unknown word'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 size=4', 'unknown key'],
    ['untrack /dev/vdb', 'unknown keyword'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 stamp=20', 'stamp is not 4096-byte aligned'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 stamp=x', 'stamp is not a decimal number'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 stamp=', 'stamp is not a decimal number'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 stamp=-8', 'stamp is not a decimal number'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 stamp=16 stamp=24', 'stamp given twice'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+16 stamp=16', 'stamp overlaps the ranges'],
    ['track /dev/vdb identity=a store=/dev/vda1 stamp=8 ranges=0+16', 'stamp overlaps the ranges'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 stamp=18446744073709551608', 'stamp lies beyond any device'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 stamp=99999999999999999999', 'stamp is not a decimal number'],
    ['track /dev/vdb identity=\u00e9 store=/dev/vda1 ranges=8+8', 'control or non-ASCII'],
    ['track /dev/vdb identity=a store=/dev/vda1 ranges=8+8\r', 'control or non-ASCII'],
  ];
  for (const [line, why] of bad) {
    it(`leaves out "${line.slice(0, 60)}": ${why}`, () => {
      const r = run(`${good}\n${line}\n`);
      expect(r.status).toBe(1);
      const line2 = r.err.split('\n').find((l) => l.includes('.conf:2: '));
      expect(line2, r.err).toContain(why);
      expect(r.out).toContain('1 device(s), 1 line(s) left out');
    });
  }

  it('reads checkpoint lines: a device may be tracked and checkpointed, a checkpoint line may name a stamp page, nointent is for track lines', () => {
    const r = run([
      'track /dev/vdb identity=a store=/dev/vda1 ranges=8+8 stamp=16',
      'checkpoint /dev/vdb identity=a store=/dev/vda2 ranges=0+4096',
      'checkpoint /dev/vdc identity=c store=/dev/vda2 ranges=0+4096',
      'checkpoint /dev/vdd identity=d store=/dev/vda2 ranges=0+4096 stamp=8192',
      'checkpoint /dev/vde identity=e store=/dev/vda2 ranges=0+4096 nointent',
      'checkpoint /dev/vdc identity=c2 store=/dev/vda3 ranges=0+4096',
      'checkpoint=x /dev/vdf identity=f store=/dev/vda2 ranges=0+4096',
    ].join('\n'));
    expect(r.out).toContain('4 device(s), 3 line(s) left out');
    expect(r.err).not.toMatch(/\.conf:4:/);
    expect(r.err).toMatch(/\.conf:5: .*nointent is for track lines/);
    expect(r.err).toMatch(/\.conf:6: .*device listed twice/);
    expect(r.err).toMatch(/\.conf:7: .*unknown keyword/);
    expect(r.status).toBe(1);
  });

  it('rollback refuses a store that holds no checkpoint, and says why', () => {
    const r = run(`checkpoint /dev/null identity=a store=/dev/null ranges=0+2048\n`, 'rollback', '--check');
    expect(r.status).toBe(1);
    expect(r.err).toMatch(/rollback refused: cannot (open|read) the store|not a block device|no valid checkpoint header/);
  });

  it('leaves out the second line of a device listed twice', () => {
    const r = run(`${good}\n${good}\n`);
    expect(r.err).toContain(':2: device listed twice: line 1');
    expect(r.status).toBe(1);
  });

  it('takes at most the ranges the module accepts', () => {
    const ranges = (n: number) => Array.from({ length: n }, (_, i) => `${i * 16}+8`).join(',');
    expect(run(`track /dev/vdb identity=a store=/dev/vda1 ranges=${ranges(65536)}\n`).status).toBe(0);
    const r = run(`track /dev/vdb identity=a store=/dev/vda1 ranges=${ranges(65537)}\n`);
    expect(r.err).toContain('more ranges than the module accepts');
    expect(r.status).toBe(1);
  });

  it('refuses a file with NUL bytes, a symbolic link and a missing file', () => {
    expect(run(Buffer.from(`${good}\n\0`)).err).toContain('holds NUL bytes');
    const link = join(dir, 'link.conf');
    rmSync(link, { force: true });
    symlinkSync(join(dir, 'boot.conf'), link);
    const r = spawnSync(tool, ['--config', link, 'check'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('Too many levels of symbolic links');
    const m = spawnSync(tool, ['--no-kmsg', '--config', join(dir, 'none.conf'), 'attach'], { encoding: 'utf8' });
    expect(m.status).toBe(1);
    expect(m.stderr).toContain('nothing attached');
  });

  it('attach refuses a config others may write (it chooses sectors the module overwrites)', () => {
    const conf = join(dir, 'boot.conf');
    writeFileSync(conf, `${good}\n`);
    chmodSync(conf, 0o664);
    const r = spawnSync(tool, ['--no-kmsg', '--config', conf, 'attach'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('must be owned by root and writable by root only');
  });

  it('survives random and mutated configs', () => {
    let seed = 14;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const alphabet = 'track /dev/=+,#0123456789identitystorerangesstamp\n\t \r\u00ff';
    for (let i = 0; i < 60; i++) {
      let text: string;
      if (i % 2) {
        text = Array.from({ length: rand(400) }, () => alphabet.charAt(rand(alphabet.length))).join('');
      } else {
        const chars = [...`${good}\n${good.replace('data0', 'data1')}\n`];
        for (let k = 0; k < 1 + rand(6); k++) chars[rand(chars.length)] = alphabet.charAt(rand(alphabet.length));
        text = chars.join('');
      }
      const r = run(text);
      expect(r.signal, text).toBeNull();
      expect([0, 1], `${text}\n${r.err}`).toContain(r.status);
    }
  });
});
