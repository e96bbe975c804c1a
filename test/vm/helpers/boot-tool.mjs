// The boot tool (out/boot/snapkeep-boot) as the 12x tests run it in the
// guest: one config file, messages to stderr only (no kernel log), each
// line of its output in the test's log unless quiet.
import { spawnSync } from 'node:child_process';
import { log, R } from './kmodlib.mjs';

export const BOOT_TOOL = `${R}/out/boot/snapkeep-boot`;
export const BOOT_CONF = '/tmp/snapkeep-boot.conf';

/** Runs the tool with `args` (env: additions); its exit status and output. */
export function bootTool(args, { env = {}, quiet = false } = {}) {
  const r = spawnSync(BOOT_TOOL, ['--config', BOOT_CONF, '--no-kmsg', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  const out = `${r.stdout}${r.stderr}`.trim();
  if (!quiet) for (const line of out.split('\n')) if (line) log(`  | ${line}`);
  return { status: r.status, out };
}
