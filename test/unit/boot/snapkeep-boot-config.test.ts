// snapkeep-boot reads /etc/snapkeep/boot.conf at boot, where a crash would
// leave every device untracked and a misread range would let the module
// overwrite somebody else's sectors. The tool is built with ASan + UBSan
// here and fed valid, hostile and random configs through its `check` and
// `attach` commands: each bad line is reported with its number and left
// out, the good ones stay, and nothing crashes or trips a sanitizer.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
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

// `snapkeep-boot checkpoint ...` on the host, without the module: the
// config's file= key, the TAB-separated list the app parses (a store that
// cannot be read is a line with error=, never a failed listing), and the
// arguments the tool refuses before anything is made (exit 2: a name the
// GRUB menu or the list could not carry, a bad device argument). The
// module-side paths run in test/vm/tests/132-boot-checkpoint-tool.mjs.
// (One file with the config tests: each file's beforeAll rebuilds the
// same binary, which would pull it from under the other's runs.)
function conf(text: string, mode = 0o644) {
  const path = join(dir, 'boot.conf');
  writeFileSync(path, text);
  chmodSync(path, mode);
  return path;
}

function runAt(path: string, ...args: string[]) {
  const r = spawnSync(tool, ['--config', path, '--no-kmsg', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:exitcode=99', UBSAN_OPTIONS: 'halt_on_error=1:exitcode=98' },
  });
  return { status: r.status, out: r.stdout, err: r.stderr };
}

const pair = [
  'checkpoint /dev/vdb identity=a store=/dev/nonexistent-store ranges=8+160 stamp=168 file=/mnt/s/ck.store',
  'checkpoint /dev/vdc identity=b store=/dev/nonexistent-store ranges=8+160 stamp=176 file=/mnt/s/ck.store',
];

describe('snapkeep-boot checkpoint', () => {
  it('reads file= on checkpoint lines (optional, an absolute path) and keeps old lines valid', () => {
    const path = conf(`${pair.join('\n')}\ncheckpoint /dev/vdd identity=d store=/dev/vda2 ranges=0+4096\ntrack /dev/vde identity=e store=/dev/vda1 ranges=8+8 file=/var/lib/e.store\n`);
    const r = runAt(path, 'check');
    expect(r.err).toBe('');
    expect(r.out).toContain('4 device(s), 0 line(s) left out');
    expect(r.status).toBe(0);
  });

  const bad: [string, string][] = [
    ['file=relative/path', 'file is not an absolute path'],
    ['file=', 'file is not an absolute path'],
    ['file=/', 'file is not an absolute path'],
    ['file=/a file=/b', 'file given twice'],
    [`file=/${'x'.repeat(300)}`, 'file path too long'],
  ];
  for (const [key, why] of bad) {
    it(`leaves out a line with ${key.slice(0, 30)}: ${why}`, () => {
      const r = runAt(conf(`${pair[0]}\ncheckpoint /dev/vdx identity=x store=/dev/vda2 ranges=0+4096 ${key}\n`), 'check');
      expect(r.status).toBe(1);
      expect(r.err).toMatch(new RegExp(`\\.conf:2: ${why}`));
    });
  }

  it('lists each checkpoint once, TAB-separated, an unreadable store as error=', () => {
    const path = conf(`# two checkpoints\n${pair.join('\n')}\ncheckpoint /dev/vdd identity=d store=/dev/null ranges=0+4096\n`);
    const r = runAt(path, 'checkpoint', 'list');
    expect(r.status).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect((lines[0] ?? '').split('\t')).toEqual([
      'store=/dev/nonexistent-store', 'file=/mnt/s/ck.store', 'devices=/dev/vdb,/dev/vdc',
      'error=cannot open the store device /dev/nonexistent-store: No such file or directory',
    ]);
    const f = (lines[1] ?? '').split('\t');
    expect(f.slice(0, 3)).toEqual(['store=/dev/null', 'file=', 'devices=/dev/vdd']);
    expect(f[3]).toMatch(/^error=[ -~]+$/);
  });

  it('list: no checkpoint, no line; a config that cannot be read exits 1', () => {
    expect(runAt(conf('track /dev/vde identity=e store=/dev/vda1 ranges=8+8\n'), 'checkpoint', 'list')).toMatchObject({ status: 0, out: '' });
    const r = runAt(join(dir, 'none.conf'), 'checkpoint', 'list');
    expect(r.status).toBe(1);
    expect(r.err).toContain('No such file or directory');
  });

  const args = ['--file', '/tmp/x.store', '--store-device', '/dev/null', '--pages', '100'];
  const names: [string, string][] = [
    ['', 'empty'], ['x'.repeat(65), '65 bytes'], ["it's", 'a quote'], ['a"b', 'a double quote'],
    ['a\\b', 'a backslash'], ['a`id`', 'a backquote'], ['$HOME', 'a dollar'], ['a\tb', 'a tab'],
    ['a\nb', 'a newline'], ['caf\u00e9', 'non-ASCII'], ['a\x7fb', 'DEL'],
  ];
  for (const [name, what] of names) {
    it(`create refuses a name with ${what} (exit 2, nothing made)`, () => {
      const path = conf('');
      const r = runAt(path, 'checkpoint', 'create', '--name', name, ...args, '/dev/null=x');
      expect(r.status).toBe(2);
      expect(r.err).toMatch(/the name must be|are needed/);
      expect(readFileSync(path, 'utf8')).toBe('');
      expect(existsSync('/tmp/x.store')).toBe(false);
    });
  }

  const usage: [string[], RegExp][] = [
    [['--name', 'ok', ...args], /DEVICE=IDENTITY are needed/],
    [['--name', 'ok', ...args, '/dev/null'], /want DEVICE=IDENTITY/],
    [['--name', 'ok', ...args, 'vdb=x'], /a path under \/dev\//],
    [['--name', 'ok', ...args, '/dev/null='], /1\.\.64 printable/],
    [['--name', 'ok', ...args, `/dev/null=${'i'.repeat(65)}`], /1\.\.64 printable/],
    [['--name', 'ok', ...args, '/dev/null=a b'], /1\.\.64 printable/],
    [['--name', 'ok', '--file', 'rel.store', '--store-device', '/dev/null', '--pages', '100', '/dev/null=x'], /absolute path/],
    [['--name', 'ok', '--file', '/tmp/x.store', '--store-device', '/dev/null', '--pages', '5', '/dev/null=x'], /--pages: 20\.\./],
    [['--name', 'ok', '--file', '/tmp/x.store', '--store-device', '/dev/null', '--pages', '-1', '/dev/null=x'], /are needed/],
    [['--name', 'ok', ...args, ...Array.from({ length: 17 }, (_, i) => `/dev/d${i}=x`)], /1\.\.16 devices/],
  ];
  for (const [a, want] of usage) {
    it(`create refuses ${(a.slice(-1)[0] ?? '').slice(0, 30)} ${a.includes('--pages') ? a[a.indexOf('--pages') + 1] : ''} (exit 2)`, () => {
      const r = runAt(conf(''), 'checkpoint', 'create', ...a);
      expect(r.status).toBe(2);
      expect(r.err).toMatch(want);
    });
  }

  it('create refuses devices that are not block devices (exit 1, nothing made)', () => {
    const path = conf('');
    const r = runAt(path, 'checkpoint', 'create', '--name', 'before upgrade', ...args, '/dev/null=x');
    expect(r.status).toBe(1);
    expect(r.err).toContain('/dev/null is not a block device');
    expect(readFileSync(path, 'utf8')).toBe('');
  });

  it('commit, abandon and remove want an id', () => {
    const path = conf(`${pair.join('\n')}\n`);
    expect(runAt(path, 'checkpoint', 'commit', 'nope').status).toBe(2);
    expect(runAt(path, 'checkpoint', 'abandon').status).toBe(2);
    expect(runAt(path, 'checkpoint', 'remove').status).toBe(2);
    expect(runAt(path, 'checkpoint', 'frobnicate').status).toBe(2);
    const r = runAt(path, 'checkpoint', 'remove', '12345678-1234-1234-1234-123456789abc');
    expect(r.status).toBe(1);
    expect(r.err).toContain('no checkpoint with this id');
  });

  it('remove takes an unreadable checkpoint by its store file path: its lines go, the others and the mode stay', () => {
    const other = 'checkpoint /dev/vdd identity=d store=/dev/vda2 ranges=0+4096';
    const path = conf(`# kept\n${pair[0]}\n${other}\n${pair[1]}\n`, 0o600);
    const r = runAt(path, 'checkpoint', 'remove', '/mnt/s/ck.store');
    expect(r.status).toBe(0);
    expect(r.out).toContain('removed 2 line(s) of checkpoint (unreadable)');
    expect(r.out).toContain('/mnt/s/ck.store: gone already');
    expect(readFileSync(path, 'utf8')).toBe(`# kept\n${other}\n`);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(existsSync(`${path}.tmp`)).toBe(false);
  });
});
