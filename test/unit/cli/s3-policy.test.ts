// snapkeep s3-policy without a server: the printed policy is §3.1's for the
// location's bucket and prefix, and what the command refuses. Checking and
// applying against a real radosgw: remote/s3-append-only.test.ts.
import { afterEach, beforeEach, expect, it } from 'vitest';

import { s3PolicyCommand } from '../../../electron/cli/commands/s3-policy';
import { main } from '../../../electron/cli/snapkeep';
import { appendOnlyPolicy } from '../../../electron/core/engine/remote/s3-append-only-policy';

async function policy(args: string[], json = false) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await s3PolicyCommand.run({ args, json, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

// No login may be read from this machine or its environment: the printed form asks no server.
const saved = { ...process.env };
beforeEach(() => {
  for (const k of ['SNAPKEEP_S3_ACCESS_KEY_ID', 'SNAPKEEP_S3_SECRET_ACCESS_KEY']) delete process.env[k];
  process.env['SNAPKEEP_REMOTES_DIR'] = '/nonexistent/snapkeep-remotes';
});
afterEach(() => {
  process.env = { ...saved };
});

it("prints §3.1's policy for the location's bucket and prefix, and says it checked nothing", async () => {
  const r = await policy(['s3://s3.example.net/backups/laptop', '--client-user', 'laptop-ao', '--owner-user', 'owner']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.out)).toEqual(appendOnlyPolicy({ bucket: 'backups', prefix: 'laptop', owner: 'owner', client: 'laptop-ao' }));
  expect(r.err).toMatch(/not checked: run with --check/);
  const j = await policy(['s3+http://127.0.0.1:7480/bk1', '--client-user', 'acme$pc', '--owner-user', 'acme$boss'], true);
  expect(JSON.parse(j.out)).toEqual({ policy: appendOnlyPolicy({ bucket: 'bk1', prefix: '', owner: 'acme$boss', client: 'acme$pc' }) });
});

it('refuses what it cannot make a right policy of, with the usage exit code', async () => {
  const refused = async (args: string[]) => {
    const e = await policy(args).then(
      () => undefined,
      (x: unknown) => x,
    );
    const { code, message } = (e ?? {}) as { code?: string; message?: string };
    return `${code ?? 'no error'}: ${message ?? ''}`;
  };
  expect(await refused(['sftp://u@h/x', '--client-user', 'c', '--owner-user', 'o'])).toMatch(/^INVALID_ARGUMENT: .*is not an S3 location/);
  expect(await refused(['s3://h/bkt', '--owner-user', 'o'])).toMatch(/^INVALID_ARGUMENT: --client-user is missing/);
  expect(await refused(['s3://h/bkt', '--client-user', 'c'])).toMatch(/^INVALID_ARGUMENT: --owner-user is missing/);
  expect(await refused(['s3://h/bkt', '--client-user', 'same', '--owner-user', 'same'])).toMatch(/^INVALID_ARGUMENT: the owner and the append-only client are the same user/);
  expect(await refused(['s3://h/bkt', '--client-user', 'c', '--check', '--apply'])).toMatch(/^INVALID_ARGUMENT: --check or --apply, not both/);
  // Through main, as a user runs it: listed, and a usage error exits 2.
  expect(await main(['s3-policy', 's3://h/bkt', '--client-user', 'c'])).toBe(2);
});
