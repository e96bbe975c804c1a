// The default kernel matrix and the debug kernel's config check.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

// @ts-expect-error -- the harness is plain JavaScript without typings
import { kernelRun, MATRIX, matrixKernels } from '../../vm/lib/matrix.mjs';
// @ts-expect-error -- plain JavaScript
import { CI as FULLBOOT_CI } from '../../vm/fullboot/lib/matrix.mjs';
// @ts-expect-error -- plain JavaScript
import { missingOptions } from '../../../scripts/debug-kernel.mjs';
// @ts-expect-error -- plain JavaScript
import { aptPackages, KERNEL_NAMES, nameOf } from '../../../scripts/kernels.mjs';

describe('kernel matrix', () => {
  it('runs everything on 6.12, chosen module tests on 6.1, 6.1-rt and the debug kernel', () => {
    expect(matrixKernels('000-harness-selfcheck')).toEqual(['6.12']);
    expect(matrixKernels('001-module-version')).toEqual(['6.1', '6.12']);
    expect(matrixKernels('105-kmod-teardown')).toEqual(['6.1', '6.12']);
    expect(matrixKernels('107-kmod-memory')).toEqual(['6.12']);
    expect(matrixKernels('108-kmod-bad-input')).toEqual(['6.12']);
    expect(matrixKernels('109-kmod-discard')).toEqual(['6.1', '6.12', '6.1-rt', 'debug']);
    expect(matrixKernels('101-kmod-image-exact')).toEqual(['6.1', '6.12', '6.1-rt']);
    expect(matrixKernels('102-kmod-cbt')).toEqual(['6.1', '6.12']);
    expect(matrixKernels('118-kmod-concurrent')).toEqual(['6.1', '6.12', 'debug']);
    expect(matrixKernels('103-kmod-coherent')).toEqual(['6.12', '6.1-rt']);
    expect(matrixKernels('202-engine-live')).toEqual(['6.12']);
    expect(matrixKernels('301-helper-runs')).toEqual(['6.12']);
    expect(matrixKernels('kmod-bench')).toEqual(['6.12']);
  });

  it('names only tests that exist (a renamed test must not drop out of a kernel unseen)', () => {
    const names = readdirSync(fileURLToPath(new URL('../../vm/tests/', import.meta.url))).map((f) => f.replace(/\.(sh|mjs)$/, ''));
    for (const row of MATRIX as { kernel: string; tests: RegExp }[]) {
      const listed = /^\^\(([\d|]+)\)-\/?$/.exec(row.tests.source)?.[1]?.split('|') ?? [];
      for (const n of listed) expect(names.some((t) => t.startsWith(`${n}-`)), `${row.kernel}: ${n}`).toBe(true);
    }
  });

  it('names only kernels the harness knows', () => {
    for (const row of MATRIX as { kernel: string }[]) expect(KERNEL_NAMES).toContain(row.kernel);
  });

  it('gives the debug kernel more time, and unknown kernels the plain defaults', () => {
    expect(kernelRun('debug').timeoutScale).toBeGreaterThan(1);
    expect(kernelRun('6.12')).toEqual({ tcg: 'single', timeoutScale: 1 });
    expect(kernelRun('7.0')).toEqual({ tcg: 'single', timeoutScale: 1 });
  });
});

describe('full-boot runs for npm test (run.mjs --ci)', () => {
  it('names tests that exist, each on a kernel it runs on, both kernels booted', async () => {
    const runs = FULLBOOT_CI as { test: string; kernel: string }[];
    expect(runs.length).toBeGreaterThan(0);
    for (const r of runs) {
      const mod = (await import(`../../vm/fullboot/tests/${r.test}.mjs`)) as { kernels?: string[]; run?: unknown };
      expect(typeof mod.run, r.test).toBe('function');
      expect(mod.kernels ?? ['6.1', '6.12'], r.test).toContain(r.kernel);
    }
    expect(new Set(runs.map((r) => r.kernel))).toEqual(new Set(['6.1', '6.12']));
  });
});

describe('kernel names', () => {
  it('names installed releases and their packages', () => {
    expect(nameOf('6.1.0-57-rt-amd64')).toBe('6.1-rt');
    expect(nameOf('6.12.118+deb12-amd64')).toBe('6.12');
    expect(aptPackages('6.1-rt')).toEqual({ image: 'linux-image-rt-amd64', headers: 'linux-headers-rt-amd64' });
    expect(aptPackages('6.12-rt')).toEqual({
      image: 'linux-image-6.12-rt-amd64',
      headers: 'linux-headers-6.12-rt-amd64',
    });
  });
});

describe('debug kernel config check', () => {
  const config = ['CONFIG_KASAN=y', 'CONFIG_DEFAULT_HUNG_TASK_TIMEOUT=60', '# CONFIG_MODULE_SIG is not set'].join('\n');

  it('accepts a config that has every option of the fragment', () => {
    expect(missingOptions('# c\nCONFIG_KASAN=y\nCONFIG_MODULE_SIG=n\nCONFIG_DEFAULT_HUNG_TASK_TIMEOUT=60\n', config)).toEqual([]);
  });

  it('names options dropped or changed by Kconfig', () => {
    expect(missingOptions('CONFIG_KFENCE=y\nCONFIG_KASAN=n\nCONFIG_DEFAULT_HUNG_TASK_TIMEOUT=120\n', config)).toEqual([
      'CONFIG_KFENCE=y (got not set)',
      'CONFIG_KASAN=n (got y)',
      'CONFIG_DEFAULT_HUNG_TASK_TIMEOUT=120 (got 60)',
    ]);
  });
});
