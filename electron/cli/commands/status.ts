import { systemInfo } from '../../core/system/system-info';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';

export const statusCommand: Command = {
  name: 'status',
  summary: 'show the version, the kernel and the kernel module state',
  usage: 'snapkeep status [--json]',
  async run({ json, out }) {
    const info = await systemInfo('local');
    if (json) {
      out(JSON.stringify(info));
    } else {
      out(`snapkeep ${info.appVersion} on ${info.hostname}, kernel ${info.kernel}`);
      const m = info.module;
      out(m.loaded ? `kernel module: loaded (ABI ${m.abiMajor}.${m.abiMinor}, ${m.moduleVersion})` : `kernel module: ${m.problem ?? 'not loaded'}`);
      out(`secure boot: ${m.secureBoot}`);
    }
    return EXIT.OK;
  },
};
