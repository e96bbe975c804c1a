#!/usr/bin/env node
// Where does update-initramfs spend its time in a full-boot guest? Boots
// the cached image on one kernel, runs `mkinitramfs -v` with the seconds
// since its start on every line, and prints the hooks and initramfs.conf
// it ran with, the total, the size of the result and every gap of 8 s or
// more with the line before it (what ran in the gap). Not a test: a probe
// for docs/testing-fullboot.md's figures (about 110 s on 2026-12-05, 690 s
// on the images of 2026-12-06, with nbd-client's hook).
//
//   node test/vm/fullboot/diag/initramfs-time.mjs [6.1|6.12]
//
// One guest, one core: run it on a quiet machine. Logs in
// out/vm/fullboot/diag/initramfs-<kernel>/ (console.log).

import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureGuestImage } from '../../../../scripts/guest-image.mjs';
import { boot } from '../lib/guest.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const kernel = process.argv[2] ?? '6.12';
if (!['6.1', '6.12'].includes(kernel)) {
	console.error('usage: initramfs-time.mjs [6.1|6.12]');
	process.exit(2);
}

const PROBE = `grep -v '^#' /etc/initramfs-tools/initramfs.conf | grep .
echo hooks: $(ls /usr/share/initramfs-tools/hooks /etc/initramfs-tools/hooks)
s=$(date +%s)
mkinitramfs -v -o /tmp/probe.img 2>&1 | while IFS= read -r l; do
	echo "$(( $(date +%s) - s )) $l"
done > /root/mkinitramfs.log
echo "total $(( $(date +%s) - s )) s, $(stat -c %s /tmp/probe.img) bytes, $(wc -l < /root/mkinitramfs.log) lines"
echo "gaps of 8 s or more (the line before each):"
awk 'NR > 1 && $1 - p >= 8 { print p " -> " $1 ": " prev } { p = $1; prev = $0 }' /root/mkinitramfs.log | cut -c1-200`;

const image = ensureGuestImage({});
const dir = join(REPO, 'out', 'vm', 'fullboot', 'diag', `initramfs-${kernel}`);
mkdirSync(dir, { recursive: true });
const g = await boot(image, { dir, kernel });
try {
	console.log(`booted ${kernel} in ${g.bootSeconds.map((s) => s.toFixed(0)).join(', ')} s`);
	const r = await g.run(PROBE, { timeoutMs: 1_800_000 });
	process.stdout.write(r.stdout + r.stderr);
} finally {
	await g.kill();
}
