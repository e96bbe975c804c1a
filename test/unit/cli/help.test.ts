// `snapkeep <command> --help` prints the command's usage and succeeds for
// every command (serve --help was an error: "Unknown option '--help'").
import { afterEach, describe, expect, it, vi } from 'vitest';

import { main } from '../../../electron/cli/snapkeep';

afterEach(() => vi.restoreAllMocks());

describe('snapkeep --help', () => {
  for (const name of ['serve', 'status', 'init', 'backup', 'info', 'list', 'restore', 'verify', 'prune', 'mount', 'umount', 'jobs', 'kmod']) {
    it(`${name} --help prints its usage and exits 0`, async () => {
      const out: string[] = [];
      vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
      vi.spyOn(console, 'error').mockImplementation(() => undefined);
      expect(await main([name, '--help'])).toBe(0);
      expect(out.join('\n')).toContain(`usage: snapkeep ${name}`);
    });
  }
});
