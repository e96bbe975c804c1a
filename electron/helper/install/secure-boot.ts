// Secure Boot and unsigned modules: when the kernel refuses the module
// because its signature is not trusted, say so and show (or run) the
// enrolment of DKMS's signing key instead of failing with a bare errno.
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import type { Exec } from './exec';

export type SecureBoot = 'enabled' | 'disabled' | 'unknown';

export async function secureBootState(exec: Exec): Promise<SecureBoot> {
  if (!exec.which('mokutil')) return 'unknown';
  const r = await exec.run('mokutil', ['--sb-state'], { timeoutMs: 10_000 });
  const text = r.stdout + r.stderr;
  if (/SecureBoot enabled/i.test(text)) return 'enabled';
  if (/SecureBoot disabled/i.test(text) || /not supported|EFI variables are not supported/i.test(text)) return 'disabled';
  return 'unknown';
}

/** The kernel's words for "signature not trusted" (insmod/modprobe stderr). */
export function isSignatureRefusal(stderr: string): boolean {
  return /Key was rejected by service|Required key not available|module verification failed|bad signature/i.test(stderr);
}

export function dkmsKey(dkmsLib: string): { pub: string; exists: boolean } {
  const pub = path.join(dkmsLib, 'mok.pub');
  return { pub, exists: existsSync(pub) };
}

export function enrolmentGuide(pub: string, keyExists: boolean): string[] {
  const lines = [
    'Secure Boot is enabled, and the kernel refused the snapkeep module: it is signed with a key the firmware does not trust yet.',
  ];
  if (!keyExists) {
    lines.push(
      `DKMS has no signing key (${pub}). Install dkms 3.0.10 or newer (it creates one), run this installer again, then enrol the key as below.`,
    );
    return lines;
  }
  lines.push(
    `DKMS signs the modules it builds with its own key (${pub}). Enrol that key once:`,
    `  1. sudo mokutil --import ${pub}   (choose a one-time password)`,
    '  2. Reboot. A blue "MOK management" screen appears: Enroll MOK -> Continue -> Yes -> type the password -> Reboot.',
    '  3. sudo snapkeep-helper install   (loads the module now that the key is trusted)',
    'Or run `sudo snapkeep-helper install --enroll-key` to do step 1 now.',
  );
  return lines;
}
