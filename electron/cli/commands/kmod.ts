// snapkeep kmod: drive the kernel module by hand (as root), one ioctl per
// subcommand, through the same typed bindings the service uses
// (native/kmod.ts). For people debugging, tests and scripts; the job runner
// never shells out to this.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../common/contract';
import { allocateFile, fileExtents, kmod, moduleVersion, type SectorRange } from '../../../native';
import { changedRanges } from '../../core/engine/changed-ranges';
import { kmodError } from '../../core/snapshot/kmod-errors';
import type { Command, CommandContext } from '../command';
import { EXIT } from '../exit-codes';

const USAGE = `snapkeep kmod <subcommand> [--json]
  version                         ABI and release of the loaded module
  attach DEV | detach DEV         start / stop tracking a block device
  trackers                        tracked devices and their maps
  info DEV                        a device's tracker (generation, number, block size)
  map DEV [--since N] [--out F]   byte ranges changed since snapshot number N
                                  (cells >= N of the map frozen at the latest take);
                                  --out writes the raw map (one byte per block)
  dirty DEV START:COUNT...        mark sector ranges changed in both maps
  create DEV...                   a snapshot of the devices (prints its id)
  storage ID DEV START:COUNT...   append sector ranges of DEV as difference storage
  storage ID --file PATH [--allocate SIZE]
                                  append the extents of a file (created first with
                                  --allocate, e.g. 512M)
  take ID                         take the snapshot (freeze, switch maps, thaw)
  snapshots                       existing snapshots
  snapshot ID                     a snapshot's state, storage and images
  events ID [--timeout MS] [--follow]
                                  wait for low-space and overflow events
  destroy ID                      destroy a snapshot (trackers keep tracking)`;

function need(args: string[], n: number, what: string): string[] {
  if (args.length < n) throw new AppError('INVALID_ARGUMENT', `${what}\n\n${USAGE}`);
  return args;
}

function device(arg: string | undefined): string {
  if (!arg) throw new AppError('INVALID_ARGUMENT', `name a block device\n\n${USAGE}`);
  return path.resolve(arg);
}

function ranges(args: string[]): SectorRange[] {
  if (!args.length) throw new AppError('INVALID_ARGUMENT', 'name at least one START:COUNT sector range');
  return args.map((a) => {
    const m = /^(\d+):(\d+)$/.exec(a);
    if (!m) throw new AppError('INVALID_ARGUMENT', `bad range "${a}": START:COUNT in 512-byte sectors`);
    return { start: Number(m[1]), count: Number(m[2]) };
  });
}

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined) throw new AppError('INVALID_ARGUMENT', `${name} needs a value`);
  args.splice(i, 2);
  return v;
}

function sizeArg(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new AppError('INVALID_ARGUMENT', `bad size "${s}"`);
  return Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] ?? '').toUpperCase() || ' ');
}

async function run({ args, json, out }: CommandContext): Promise<number> {
  const [sub, ...rest] = args;
  const print = (value: unknown, text: string) => out(json ? JSON.stringify(value) : text);
  switch (sub) {
    case 'version': {
      const v = moduleVersion();
      print(v, `snapkeep.ko ${v.moduleVersion}, ABI ${v.abiMajor}.${v.abiMinor}`);
      return EXIT.OK;
    }
    case 'attach':
    case 'detach': {
      const dev = device(rest[0]);
      await (sub === 'attach' ? kmod.attach(dev) : kmod.detach(dev));
      print({ device: dev }, `${sub === 'attach' ? 'tracking' : 'stopped tracking'} ${dev}`);
      return EXIT.OK;
    }
    case 'trackers': {
      const list = await kmod.listTrackers();
      const infos = await Promise.all(list.map((t) => kmod.trackerInfo(t.device ?? '/nonexistent').catch(() => null)));
      print(
        list.map((t, i) => ({ ...t, info: infos[i] })),
        list
          .map((t, i) => {
            const info = infos[i];
            return `${t.device ?? `${t.major}:${t.minor}`}: ${info ? `number ${info.number}, generation ${info.generation}, ${info.blockCount} blocks of ${info.blockSize} B${info.snapshot ? `, in snapshot ${info.snapshot}` : ''}` : '?'}`;
          })
          .join('\n') || 'no device is tracked',
      );
      return EXIT.OK;
    }
    case 'info': {
      const t = await kmod.trackerInfo(device(rest[0]));
      print(t, `number ${t.number}, generation ${t.generation}, ${t.blockCount} blocks of ${t.blockSize} B, device ${t.deviceSize} B${t.snapshot ? `, in snapshot ${t.snapshot}` : ''}`);
      return EXIT.OK;
    }
    case 'map': {
      const file = option(rest, '--out');
      const since = option(rest, '--since');
      const dev = device(rest[0]);
      const [t, map] = await Promise.all([kmod.trackerInfo(dev), kmod.readCbtMap(dev)]);
      if (file) {
        fs.writeFileSync(file, map);
        print({ file, bytes: map.length }, `${map.length} bytes written to ${file}`);
        return EXIT.OK;
      }
      const n = since === undefined ? 1 : Number(since);
      if (!Number.isInteger(n) || n < 0 || n > 255) throw new AppError('INVALID_ARGUMENT', '--since takes a snapshot number 0..255');
      const r = changedRanges(map, t.blockSize, n, t.deviceSize);
      print({ generation: t.generation, number: t.number, blockSize: t.blockSize, since: n, ranges: r }, r.map(([o, l]) => `${o} ${l}`).join('\n') || `nothing changed since ${n}`);
      return EXIT.OK;
    }
    case 'dirty': {
      need(rest, 2, 'name a device and ranges');
      await kmod.markDirty(device(rest[0]), ranges(rest.slice(1)));
      print({ ok: true }, 'marked');
      return EXIT.OK;
    }
    case 'create': {
      need(rest, 1, 'name the devices');
      const id = await kmod.create(rest.map(device));
      print({ id }, id);
      return EXIT.OK;
    }
    case 'storage': {
      const file = option(rest, '--file');
      const allocate = option(rest, '--allocate');
      const [id] = need(rest, 1, 'name the snapshot');
      if (file) {
        const p = path.resolve(file);
        if (allocate) await allocateFile(p, sizeArg(allocate));
        const fx = await fileExtents(p);
        const r = fx.extents.map((e) => ({ start: e.physical / 512, count: Math.min(e.length, fx.size - e.logical) / 512 }));
        const dev = fs.readFileSync(`/sys/dev/block/${fx.major}:${fx.minor}/uevent`, 'utf8').match(/^DEVNAME=(.+)$/m)?.[1];
        if (!dev) throw new AppError('DEVICE_NOT_FOUND', `the device of ${p} (${fx.major}:${fx.minor}) has no node`);
        await kmod.appendStorage(id as string, `/dev/${dev}`, r);
        print({ device: `/dev/${dev}`, ranges: r }, `${r.length} extent(s) of ${p} on /dev/${dev} appended`);
        return EXIT.OK;
      }
      need(rest, 3, 'name the snapshot, a device and ranges');
      await kmod.appendStorage(id as string, device(rest[1]), ranges(rest.slice(2)));
      print({ ok: true }, 'appended');
      return EXIT.OK;
    }
    case 'take':
    case 'destroy': {
      const [id] = need(rest, 1, 'name the snapshot');
      await (sub === 'take' ? kmod.take(id as string) : kmod.destroy(id as string));
      print({ id }, `${sub === 'take' ? 'taken' : 'destroyed'}: ${id}`);
      return EXIT.OK;
    }
    case 'snapshots': {
      const ids = await kmod.list();
      const infos = await Promise.all(ids.map((id) => kmod.info(id)));
      print(infos, infos.map((s) => `${s.id} ${s.corrupted ? `corrupted (${s.errno})` : s.taken ? 'taken' : 'created'}: ${s.devices.map((d) => d.device ?? `${d.dev.major}:${d.dev.minor}`).join(', ')}`).join('\n') || 'no snapshot');
      return EXIT.OK;
    }
    case 'snapshot': {
      const [id] = need(rest, 1, 'name the snapshot');
      const s = await kmod.info(id as string);
      print(
        s,
        [
          `${s.id}: ${s.corrupted ? `corrupted (${s.errno})` : s.taken ? 'taken' : 'created, not taken'}`,
          `storage: ${s.storageSectors / 2048} MiB, used ${(s.storageUsedSectors / 2048).toFixed(1)} MiB`,
          ...s.devices.map((d) => `  ${d.device ?? `${d.dev.major}:${d.dev.minor}`} -> ${d.imagePath ?? '(no image yet)'}, chunk ${d.chunkSize} B, ${d.chunksCopied} copied`),
        ].join('\n'),
      );
      return EXIT.OK;
    }
    case 'events': {
      const timeout = Number(option(rest, '--timeout') ?? '1000');
      const follow = rest.includes('--follow');
      const [id] = need(
        rest.filter((a) => a !== '--follow'),
        1,
        'name the snapshot',
      );
      if (!Number.isSafeInteger(timeout) || timeout < 0) throw new AppError('INVALID_ARGUMENT', '--timeout takes milliseconds');
      do {
        const ev = await kmod.waitEvent(id as string, timeout);
        if (ev) print(ev, ev.kind === 'low-space' ? `low space: ${ev.requestedSectors} sectors requested` : ev.kind === 'overflow' ? `overflow on ${ev.device ?? `${ev.dev.major}:${ev.dev.minor}`}: ${ev.errno}` : `event ${ev.code}`);
        else if (!follow) print(null, 'no event');
      } while (follow);
      return EXIT.OK;
    }
    default:
      throw new AppError('INVALID_ARGUMENT', USAGE);
  }
}

export const kmodCommand: Command = {
  name: 'kmod',
  summary: 'drive the kernel module by hand: trackers, change maps, snapshots (root)',
  usage: USAGE,
  async run(ctx) {
    try {
      return await run(ctx);
    } catch (e) {
      throw kmodError(e, `kmod ${ctx.args[0] ?? ''}`.trim());
    }
  },
};
