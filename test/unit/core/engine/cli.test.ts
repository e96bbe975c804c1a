// The CLI's documented exit codes (docs/cli.md) and its --json error shape,
// run as a user would run it. Needs the built CLI (npm run build).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { afterAll, expect, it } from 'vitest';

import { makeImage, scratch } from './fixtures';

const CLI = path.resolve(__dirname, '../../../../out/js/electron/cli/snapkeep.js');
const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function run(args: string[], password?: string) {
  const env = { ...process.env };
  delete env['SNAPKEEP_PASSWORD'];
  if (password !== undefined) env['SNAPKEEP_PASSWORD'] = password;
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

it('maps failures to the documented exit codes and prints JSON errors with --json', () => {
  const dir = scratch('cli');
  tmp.push(dir);
  const repo = path.join(dir, 'repo');
  const image = path.join(dir, 'disk.img');
  makeImage(image, 2 << 20, 51);
  expect(run(['init', repo], 'pw').code).toBe(0);
  const pwFile = path.join(dir, 'pw.txt');
  fs.writeFileSync(pwFile, 'pw\n');
  const b = run(['backup', repo, image, '--json', '--password-file', pwFile]);
  expect(b.code).toBe(0);
  const point = JSON.parse(b.out) as { id: string; kind: string };
  expect(point.kind).toBe('full');

  const wrong = run(['list', repo, '--json'], 'nope');
  expect(wrong.code).toBe(4);
  expect(JSON.parse(wrong.out)).toMatchObject({ error: { code: 'WRONG_PASSPHRASE' } });
  expect(run(['list', repo]).code).toBe(4); // no passphrase, no terminal
  expect(run(['list', path.join(dir, 'none')], 'pw').code).toBe(3);
  expect(run(['restore', repo, 'no-such-point', path.join(dir, 'o.img')], 'pw').code).toBe(3);
  expect(run(['backup', repo], 'pw').code).toBe(2);
  expect(run(['frobnicate']).code).toBe(2);

  const list = run(['list', repo, '--json'], 'pw');
  expect((JSON.parse(list.out) as Array<{ id: string }>).map((p) => p.id)).toEqual([point.id]);
  expect(run(['verify', repo, '--data'], 'pw').code).toBe(0);
  // Damage every pack: verify exits 6 and names the point.
  for (const sub of fs.readdirSync(path.join(repo, 'packs')))
    for (const f of fs.readdirSync(path.join(repo, 'packs', sub))) {
      const p = path.join(repo, 'packs', sub, f);
      const buf = fs.readFileSync(p);
      buf[20] = (buf[20] ?? 0) ^ 1;
      fs.writeFileSync(p, buf);
    }
  const v = run(['verify', repo, '--data', '--json'], 'pw');
  expect(v.code).toBe(6);
  expect((JSON.parse(v.out) as { damagedPoints: string[] }).damagedPoints).toEqual([point.id]);
  const r = run(['restore', repo, 'latest', path.join(dir, 'out.img'), '--json'], 'pw');
  expect(r.code).toBe(6);
  expect(JSON.parse(r.out)).toMatchObject({ error: { code: 'REPO_CORRUPT' } });
});
