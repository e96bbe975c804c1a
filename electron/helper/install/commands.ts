// The install, uninstall and check commands of snapkeep-helper: argument
// parsing and output; the work is in installer.ts.
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { parseArgs } from 'node:util';

import { realExec } from './exec';
import { EXIT_FAILED, EXIT_NOT_ROOT, EXIT_OK, Installer } from './installer';
import { defaultLayout } from './layout';

function installer(): Installer {
  return new Installer(defaultLayout(), realExec, os.release(), (line) => console.log(line));
}

function requireRoot(what: string): boolean {
  if (process.getuid?.() === 0) return true;
  console.error(`snapkeep-helper ${what}: must run as root (sudo snapkeep-helper ${what})`);
  return false;
}

/** The user who asked for the install through sudo or pkexec, to add to the group. */
function invokingUser(env: NodeJS.ProcessEnv): string | undefined {
  const sudo = env['SUDO_USER'];
  if (sudo && sudo !== 'root') return sudo;
  const pk = env['PKEXEC_UID'];
  if (pk && /^\d+$/.test(pk) && pk !== '0') {
    try {
      // userInfo() only answers for the current process; read the passwd database instead.
      const line = readFileSync('/etc/passwd', 'utf8')
        .split('\n')
        .find((l) => l.split(':')[2] === pk);
      return line?.split(':')[0];
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export async function runInstall(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      user: { type: 'string', multiple: true },
      module: { type: 'string' },
      'enroll-key': { type: 'boolean' },
      'no-apt': { type: 'boolean' },
      'no-invoking-user': { type: 'boolean' },
    },
    allowPositionals: false,
  });
  if (!requireRoot('install')) return EXIT_NOT_ROOT;
  const users = [...(values.user ?? [])];
  const me = values['no-invoking-user'] ? undefined : invokingUser(process.env);
  if (me && !users.includes(me)) users.push(me);
  return installer().install({
    users,
    ...(values.module !== undefined && { module: values.module }),
    enrollKey: values['enroll-key'] ?? false,
    apt: !(values['no-apt'] ?? false),
  });
}

export async function runUninstall(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { purge: { type: 'boolean' } }, allowPositionals: false });
  if (!requireRoot('uninstall')) return EXIT_NOT_ROOT;
  return installer().uninstall({ purge: values.purge ?? false });
}

export async function runCheck(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } }, allowPositionals: false });
  const report = await installer().check();
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    console.log(`installed: ${report.installed ? `${report.installed.appVersion} (${report.installed.mode}, ${report.installed.installedAt})` : 'no'}`);
    console.log(`module: ${report.loaded ? 'loaded' : 'not loaded'}`);
    console.log(`secure boot: ${report.secureBoot}`);
    for (const k of report.kernels)
      console.log(`kernel ${k.kernel}${k.running ? ' (running)' : ''}: ${k.built ? 'module built' : 'NO MODULE'}${k.headers ? '' : ', no headers'}`);
    if (report.installed?.mode === 'direct') console.log('note: installed with a direct build (--module), not DKMS: other kernels get no module');
    for (const p of report.problems) console.log(`problem: ${p}`);
    if (report.problems.length === 0) console.log('all good');
  }
  return report.problems.length === 0 ? EXIT_OK : EXIT_FAILED;
}
