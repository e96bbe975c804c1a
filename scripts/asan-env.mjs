// The sanitizer build flags and the environment that loads an ASan+UBSan
// addon into an ordinary node: libasan must come first in the process
// (LD_PRELOAD), and node itself leaks by design at exit, so leak checking
// is off. Any report aborts the process, so a test cannot pass over one.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const SANITIZE = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer', '-g', '-O1'];

export const ASAN_ADDON = join(root, 'out/asan/snapkeep.node');

export function asanEnv() {
  const libasan = execFileSync('g++', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
  return {
    SNAPKEEP_NATIVE_PATH: ASAN_ADDON,
    LD_PRELOAD: libasan,
    ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1:detect_odr_violation=0',
    UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
  };
}
