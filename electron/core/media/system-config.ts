// The medium's system, configured after apt: a console with root logged
// in on the screen and the first serial port (no password: the medium
// carries no secret), units that cost boot time masked, and what a live
// system does not need (documentation, apt's lists) removed.
import * as fs from 'node:fs';
import * as path from 'node:path';

export const HOSTNAME = 'snapkeep-recovery';

const MASKED = ['apt-daily.timer', 'apt-daily-upgrade.timer', 'e2scrub_all.timer', 'e2scrub_reap.service',
  'fstrim.timer', 'systemd-networkd-wait-online.service', 'mdcheck_start.timer', 'mdcheck_continue.timer',
  'mdmonitor-oneshot.timer', 'lvm2-monitor.service'];

const AUTOLOGIN = (tty: string): string =>
  `[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --noclear ${tty} $TERM\n`;

const BANNER = `#!/bin/sh
# Shown at each login on the recovery medium.
echo
echo "Snapkeep recovery medium: run 'snapkeep --help'."
echo "Restore from here is not built yet (issue 21): this medium runs the CLI."
echo
`;

/** Every text here shapes the medium: part of its cache key. */
export const SYSTEM_CONFIG_TEXT = [HOSTNAME, ...MASKED, AUTOLOGIN('x'), BANNER].join('\n');

export function configureSystem(root: string): void {
  fs.rmSync(path.join(root, 'usr/sbin/policy-rc.d'), { force: true });
  fs.writeFileSync(path.join(root, 'etc/hostname'), `${HOSTNAME}\n`);
  fs.writeFileSync(path.join(root, 'etc/hosts'), `127.0.0.1 localhost\n127.0.1.1 ${HOSTNAME}\n`);
  // Empty: systemd makes a transient id on each boot of the live system.
  fs.writeFileSync(path.join(root, 'etc/machine-id'), '');
  fs.writeFileSync(path.join(root, 'etc/fstab'), '# the live system: live-boot mounts the medium\n');
  const units = path.join(root, 'etc/systemd/system');
  for (const [unit, tty] of [['serial-getty@.service', '%I'], ['getty@tty1.service', 'tty1']] as const) {
    const d = path.join(units, `${unit}.d`);
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'autologin.conf'), AUTOLOGIN(tty));
  }
  for (const unit of MASKED) {
    fs.rmSync(path.join(units, unit), { force: true });
    fs.symlinkSync('/dev/null', path.join(units, unit));
  }
  fs.writeFileSync(path.join(root, 'etc/profile.d/snapkeep.sh'), BANNER);
  // Root without a password: the medium is a tool on the user's desk and
  // holds no secret (repository passphrases are asked at restore time).
  const shadow = path.join(root, 'etc/shadow');
  fs.writeFileSync(shadow, fs.readFileSync(shadow, 'utf8').replace(/^root:[^:]*:/m, 'root::'));
  for (const d of ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'var/lib/apt/lists', 'var/cache/apt']) {
    fs.rmSync(path.join(root, d), { recursive: true, force: true });
    fs.mkdirSync(path.join(root, d), { recursive: true });
  }
}
