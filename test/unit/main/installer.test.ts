import { describe, expect, it } from 'vitest';

import type { ModuleStatus } from '../../../electron/common/contract';
import { commandLine, helperCommand, PROMPT_DISMISSED, runInstaller, type ExecOutcome } from '../../../electron/main/installer';

const status = (over: Partial<ModuleStatus> = {}): ModuleStatus => ({
  loaded: false,
  runningKernel: '6.1.0-31-amd64',
  builtFor: [],
  missingForKernels: [],
  secureBoot: 'disabled',
  ...over,
});

const dev = helperCommand({ isPackaged: false, execPath: '/src/node_modules/electron/dist/electron', resourcesPath: '/x', appPath: '/src' });

function install(outcome: ExecOutcome, module: ModuleStatus = status()) {
  const commands: string[] = [];
  const result = runInstaller({
    command: dev,
    exec: (c) => {
      commands.push(c);
      return Promise.resolve(outcome);
    },
    moduleStatus: () => Promise.resolve(module),
  });
  return { result, commands };
}

describe('module installer', () => {
  it('runs a fixed command: our helper and "install", nothing from the renderer', async () => {
    expect(commandLine(dev)).toBe("ELECTRON_RUN_AS_NODE=1 '/src/node_modules/electron/dist/electron' '/src/out/js/electron/helper/main.js' 'install'");
    const packaged = helperCommand({ isPackaged: true, execPath: '/opt/Snapkeep/snapkeep', resourcesPath: '/opt/Snapkeep/resources', appPath: '/x' });
    expect(commandLine(packaged)).toBe("'/opt/Snapkeep/resources/snapkeep-helper' 'install'");
    const { result, commands } = install({ stdout: 'module loaded\n', stderr: '' }, status({ loaded: true }));
    expect((await result).outcome).toBe('installed');
    expect(commands).toEqual([commandLine(dev)]);
  });

  it('refuses paths a shell could misread, and says what to do instead', async () => {
    for (const bad of ['/home/u/$(rm -rf ~)/snapkeep', "/home/o'brien/app", '/a b/c', 'relative/path']) {
      expect(() => commandLine({ env: {}, argv: [bad, 'install'] })).toThrow(/unsafe/);
    }
    const exec = () => Promise.reject(new Error('must not run'));
    const r = await runInstaller({ command: { env: {}, argv: ['/a b/helper', 'install'] }, exec, moduleStatus: () => Promise.resolve(status()) });
    expect(r.outcome).toBe('failed');
    expect(r.output).toContain('sudo snapkeep-helper install');
  });

  it('reports a dismissed prompt as cancelled', async () => {
    const { result } = install({ error: new Error(PROMPT_DISMISSED), stdout: '', stderr: '' });
    expect(await result).toEqual({ outcome: 'cancelled', output: '' });
  });

  it('shows the Secure Boot guidance when the kernel refuses the unsigned module', async () => {
    const guidance = 'Secure Boot is enabled: run "sudo mokutil --import /var/lib/dkms/mok.pub", reboot and enroll the key.';
    const error = Object.assign(new Error('Command failed'), { code: 3 });
    const { result } = install({ error, stdout: 'built snapkeep for 6.1.0-31-amd64\n', stderr: guidance }, status({ secureBoot: 'enabled' }));
    expect(await result).toMatchObject({ outcome: 'secure-boot', exitCode: 3, output: `built snapkeep for 6.1.0-31-amd64\n${guidance}` });
  });

  it('reports other failures with the output and the exit code', async () => {
    const error = Object.assign(new Error('Command failed'), { code: 1 });
    const { result } = install({ error, stdout: '', stderr: 'E: Unable to locate package linux-headers-6.1.0-31-amd64' });
    expect(await result).toMatchObject({ outcome: 'failed', exitCode: 1, output: 'E: Unable to locate package linux-headers-6.1.0-31-amd64' });
    const noAgent = await install({ error: new Error('No polkit authentication agent found.'), stdout: '', stderr: '' }).result;
    expect(noAgent).toEqual({ outcome: 'failed', output: 'No polkit authentication agent found.' });
  });

  it('keeps only the end of a long output', async () => {
    const { result } = install({ stdout: 'x'.repeat(100_000) + 'END', stderr: '' }, status({ loaded: true }));
    const out = (await result).output;
    expect(out.length).toBeLessThan(17_000);
    expect(out.endsWith('END')).toBe(true);
  });
});
