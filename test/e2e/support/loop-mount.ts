// File restore on this host, which cannot load the nbd module: the same
// service and engine, with the restore point's device copied into a sparse
// image file and attached read-only as a loop device in place of the NBD
// export. Mounting, browsing, searching and copying are the service's own
// (electron/core/nbd mountAll, electron/core/service). Needs root.
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { mountAll, unmountAll } from '../../../electron/core/nbd/attach';
import type { MountBackend } from '../../../electron/core/service/mount-manager';

const CHUNK = 4 << 20;

export function loopMountBackend(): MountBackend {
  return {
    async mount(repo, o) {
      const reader = await repo.openReader(o.pointId, o.source);
      const dir = mkdtempSync(path.join(tmpdir(), 'snapkeep-loop-'));
      const image = path.join(dir, 'point.img');
      const fd = openSync(image, 'w');
      try {
        for (let off = 0; off < reader.sizeBytes; off += CHUNK) {
          const buf = await reader.read(off, Math.min(CHUNK, reader.sizeBytes - off));
          if (buf.some((b) => b !== 0)) writeSync(fd, buf, 0, buf.length, off);
        }
        execFileSync('truncate', ['-s', String(reader.sizeBytes), image]);
      } finally {
        closeSync(fd);
        await reader.close();
      }
      const device = execFileSync('losetup', ['-f', '--show', '-r', '-P', image], { encoding: 'utf8' }).trim();
      const filesystems = await mountAll(device, o.baseDir);
      let release!: () => void;
      const finished = new Promise<void>((resolve) => (release = resolve));
      return {
        device,
        filesystems,
        finished,
        async unmount() {
          await unmountAll(filesystems);
          execFileSync('losetup', ['-d', device]);
          rmSync(dir, { recursive: true, force: true });
          release();
        },
      };
    },
    async release(device) {
      execFileSync('losetup', ['-d', device]);
    },
  };
}
