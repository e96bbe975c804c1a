// npm run bench:engine -- --remote: the same image backed up and restored
// with the repository on this disk, on an SFTP server (OpenSSH on
// loopback) and in S3 (a single-node Ceph radosgw on loopback), in one run,
// and restic's s3 backend against the same radosgw. The servers are the
// ones the tests start (test/support, loaded with jiti); loopback takes the
// network out, so what is measured is the protocol and crypto cost.
// Each engine step runs in its own Node process (engine.mjs --child), its
// remote login passed in the environment.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const MiB = 1 << 20;

async function servers() {
  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url);
  const { startSshd } = await jiti.import('../support/sshd.ts');
  const { startRadosgw } = await jiti.import('../support/radosgw.ts');
  const sshd = await startSshd();
  const gw = await startRadosgw();
  const { CreateBucketCommand, S3Client } = await import('@aws-sdk/client-s3');
  const client = new S3Client({ endpoint: gw.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: gw.user });
  await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
  client.destroy();
  return { sshd, gw };
}

/**
 * `image` of `size` bytes; `child(args, env)` runs one engine step;
 * `timeShell` times a command with caches dropped; `row` prints.
 */
export async function runRemote({ engine, image, size, dir, child, timeShell, row, restic }) {
  const { sshd, gw } = await servers();
  const out = { sizeBytes: size, targets: { remoteVsLocal: '>= 0.8', vsRestic: '> 1' } };
  try {
    const cacheDir = path.join(dir, 'remote-cache');
    const places = [
      { name: 'local', path: path.join(dir, 'repo-remote-local') },
      { name: 'sftp', path: sshd.url('bench'), remote: { password: sshd.password, hostKey: sshd.hostKey } },
      { name: 's3', path: `s3+http://127.0.0.1:${gw.port}/bench/snapkeep`, remote: { accessKeyId: gw.user.accessKeyId, secretAccessKey: gw.user.secretAccessKey } },
    ];
    for (const p of places) {
      const env = { BENCH_REMOTE: JSON.stringify({ remote: p.remote, cacheDir }) };
      const repo = await engine.init({ path: p.path, passphrase: 'bench', cacheDir, ...(p.remote && { remote: p.remote }) });
      await repo.close();
      const backup = child(['backup', p.path, '-', image, String(256 * 1024)], env);
      row(`snapkeep full to ${p.name}`, backup.seconds, size, `stored ${(backup.result.addedBytes / MiB).toFixed(0)} MiB, RSS ${(backup.maxRssKiB / 1024).toFixed(0)} MiB`);
      const target = path.join(dir, `restored-${p.name}.img`);
      const restore = child(['restore', p.path, backup.result.id, image, target], env);
      const same = spawnSync('cmp', ['-s', image, target]).status === 0;
      fs.rmSync(target);
      row(`snapkeep restore from ${p.name}`, restore.seconds, size, `RSS ${(restore.maxRssKiB / 1024).toFixed(0)} MiB${same ? '' : ', NOT identical'}`);
      out[p.name] = { backupMiBs: size / MiB / backup.seconds, restoreMiBs: size / MiB / restore.seconds, restoredIdentical: same };
    }
    for (const n of ['sftp', 's3']) {
      out[n].backupVsLocal = out[n].backupMiBs / out.local.backupMiBs;
      out[n].restoreVsLocal = out[n].restoreMiBs / out.local.restoreMiBs;
    }
    if (restic) {
      const env = {
        RESTIC_PASSWORD: 'bench',
        RESTIC_REPOSITORY: `s3:http://127.0.0.1:${gw.port}/bench/restic`,
        AWS_ACCESS_KEY_ID: gw.user.accessKeyId,
        AWS_SECRET_ACCESS_KEY: gw.user.secretAccessKey,
        RESTIC_CACHE_DIR: path.join(dir, 'restic-remote-cache'),
      };
      execFileSync('restic', ['init', '-q'], { env: { ...process.env, ...env } });
      const b = timeShell('sh', ['-c', 'restic backup -q --stdin --stdin-filename disk.img < "$0"', image], { env });
      row('restic backup --stdin to s3', b.seconds, size);
      const restoreDir = path.join(dir, 'restic-restore');
      const r = timeShell('restic', ['restore', '-q', 'latest', '--target', restoreDir], { env });
      row('restic restore from s3', r.seconds, size);
      fs.rmSync(restoreDir, { recursive: true, force: true });
      out.restic = { backupMiBs: size / MiB / b.seconds, restoreMiBs: size / MiB / r.seconds };
      out.s3.backupVsRestic = out.s3.backupMiBs / out.restic.backupMiBs;
      out.s3.restoreVsRestic = out.s3.restoreMiBs / out.restic.restoreMiBs;
    }
  } finally {
    await gw.stop();
    await sshd.stop();
  }
  return out;
}
