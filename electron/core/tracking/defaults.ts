// Where kept change maps live on an installed system, and where the boot
// tool is: installed next to the module (/usr/sbin), or built in a source
// checkout (out/boot, `npm run build:boot`). SNAPKEEP_BOOT_CONFIG and
// SNAPKEEP_MAPS_DIR move the config and the stores (tests; only whoever
// starts the helper sets its environment).
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import type { KeptMapsOptions } from './kept-maps';

export function defaultKeptMapsOptions(over: Partial<KeptMapsOptions> = {}): KeptMapsOptions {
  // out/js/electron/core/tracking when built, electron/core/tracking under vitest.
  const repos = [path.resolve(__dirname, '../../../../..'), path.resolve(__dirname, '../../..')];
  const tool = ['/usr/sbin/snapkeep-boot', ...repos.map((r) => path.join(r, 'out/boot/snapkeep-boot'))].find((t) => existsSync(t)) ?? '/usr/sbin/snapkeep-boot';
  // The installed helper is sandboxed (/boot read-only): systemd runs the
  // rebuild in the installer's oneshot unit. Elsewhere (a root shell, a
  // checkout) update-initramfs itself.
  const unit = '/etc/systemd/system/snapkeep-initramfs.service';
  const direct = ['/usr/sbin/update-initramfs', '/sbin/update-initramfs'].find((t) => existsSync(t));
  const update = existsSync(unit) && existsSync('/run/systemd/system') ? ['systemctl', 'start', 'snapkeep-initramfs.service'] : direct !== undefined ? [direct, '-u', '-k', 'all'] : null;
  return {
    tool,
    config: process.env['SNAPKEEP_BOOT_CONFIG'] ?? '/etc/snapkeep/boot.conf',
    storeDir: process.env['SNAPKEEP_MAPS_DIR'] ?? '/var/lib/snapkeep/maps',
    sysRoot: '/sys',
    devRoot: '/dev',
    updateInitramfs: update,
    ...over,
  };
}
