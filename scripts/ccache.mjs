// ccache in front of the compiler when the machine has it (npm test
// installs it): a fresh clone rebuilds the native addon, its ASan build and
// the fuzz harnesses from the cache in seconds instead of minutes on 2
// cores. CCACHE_BASEDIR makes paths inside the checkout relative, so clones
// at other paths share entries; the hash covers the preprocessed sources,
// the flags and the compiler, so a changed header or compiler compiles
// again. SNAPKEEP_NO_CCACHE=1 turns it off.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The environment ccache needs, or null when it is off or missing. */
export function ccacheEnv() {
  if (process.env.SNAPKEEP_NO_CCACHE === '1') return null;
  if (spawnSync('ccache', ['--version'], { stdio: 'ignore' }).status !== 0) return null;
  return { CCACHE_BASEDIR: root, CCACHE_NOHASHDIR: '1' };
}

/**
 * [command, args] compiling with `compiler` through ccache when it is on.
 * @param {string} compiler
 * @param {string[]} args
 * @returns {[string, string[]]}
 */
export function cached(compiler, args) {
  return ccacheEnv() ? ['ccache', [compiler, ...args]] : [compiler, args];
}
