// What the full-boot tests install into the guest as a package would
// (build/linux/ does not ship the boot integration yet): snapkeep.ko for
// the guest's kernel, snapkeep-boot, the initramfs-tools hook and local-top
// script, the systemd-shutdown hook and, when asked, the GRUB snippet.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBootTool } from '../../../../scripts/build-boot.mjs';
import { buildKmod } from '../../../../scripts/build-kmod.mjs';
import { resolveKernel } from '../../../../scripts/kernels.mjs';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const BOOT = join(REPO, 'kmod', 'boot');

/**
 * Builds the module for the guest's kernel (without debug info: the agent
 * carries files as one base64 line, which the guest's bash reads byte by
 * byte) and the boot tool, on the host.
 * @param {any} t the test's context
 * @returns {{ rel: string, ko: string, tool: string }}
 */
export function buildForGuest(t) {
	const rel = t.image.kernels[t.kernel].release;
	const ko = join(t.dir, 'snapkeep.ko');
	const strip = spawnSync('strip', ['--strip-debug', '-o', ko,
		buildKmod(resolveKernel(rel), { log: t.log })], { encoding: 'utf8' });
	if (strip.status !== 0)
		throw new Error(`strip snapkeep.ko: ${strip.stderr}`);
	return { rel, ko, tool: buildBootTool() };
}

/**
 * Installs what buildForGuest() made, the hooks and scripts, and runs
 * depmod; `grub` adds /etc/grub.d/42_snapkeep.
 * @param {any} g the booted guest
 * @param {{ rel: string, ko: string, tool: string }} built
 * @param {{ grub?: boolean }} [o]
 */
export async function installBootIntegration(g, built, o = {}) {
	await g.copyIn(built.ko, `/lib/modules/${built.rel}/updates/snapkeep.ko`);
	await g.copyIn(built.tool, '/usr/sbin/snapkeep-boot', 0o755);
	await g.copyIn(join(BOOT, 'initramfs-tools', 'hooks', 'snapkeep'),
		'/usr/share/initramfs-tools/hooks/snapkeep', 0o755);
	await g.copyIn(join(BOOT, 'initramfs-tools', 'scripts', 'local-top', 'snapkeep'),
		'/usr/share/initramfs-tools/scripts/local-top/snapkeep', 0o755);
	await g.copyIn(join(BOOT, 'system-shutdown', 'snapkeep.shutdown'),
		'/usr/lib/systemd/system-shutdown/snapkeep.shutdown', 0o755);
	if (o.grub)
		await g.copyIn(join(BOOT, 'grub.d', '42_snapkeep'), '/etc/grub.d/42_snapkeep', 0o755);
	await g.sh(`depmod -a ${built.rel}`, { timeoutMs: 600_000 });
}

/** The CLI of the checkout, as the guest sees it over the `repo` share. */
export const GUEST_CLI = 'node /mnt/repo/out/js/electron/cli/snapkeep.js';

/** The 9p shares installHelper() needs: pass them to t.boot(). */
export function helperShares() {
	return [{ tag: 'repo', path: REPO }, { tag: 'hostnode', path: dirname(process.execPath) }];
}

/**
 * The helper installed as a user installs it (`snapkeep-helper install`,
 * node and the checkout from the host over 9p, the module given: no DKMS
 * in the guest); it is running afterwards, with apt's hook and the GRUB
 * snippet in place.
 * @param {any} t the test's context
 * @param {any} g the guest, booted with helperShares()
 * @param {{ rel: string, ko: string }} built
 */
export async function installHelper(t, g, built) {
	await g.sh('mkdir -p /mnt/repo /mnt/hostnode && ' +
		'mount -t 9p -o trans=virtio,version=9p2000.L repo /mnt/repo && ' +
		'mount -t 9p -o trans=virtio,version=9p2000.L hostnode /mnt/hostnode && ' +
		'cp /mnt/hostnode/node /usr/local/bin/node && node --version', { timeoutMs: 600_000 });
	await g.copyIn(built.ko, `/lib/modules/${built.rel}/updates/snapkeep.ko`);
	await g.sh(`depmod -a ${built.rel}`, { timeoutMs: 600_000 });
	const t0 = Date.now();
	const inst = await g.run(`node /mnt/repo/out/js/electron/helper/main.js install --module /lib/modules/${built.rel}/updates/snapkeep.ko --no-apt`,
		{ timeoutMs: 600_000 });
	t.log(`install (${(Date.now() - t0) / 1000} s, exit ${inst.code}):\n${inst.stdout}${inst.stderr}`);
	if (inst.code !== 0)
		throw new Error(`snapkeep-helper install failed (${inst.code}): ${inst.stdout.slice(-1500)}${inst.stderr.slice(-1500)}`);
	await g.sh('systemctl is-active snapkeep-helper.service && test -f /etc/apt/apt.conf.d/80snapkeep-checkpoint && ' +
		'test -x /etc/grub.d/42_snapkeep');
}
