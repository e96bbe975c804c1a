// The VM harness's test-file header: the keys that decide how qemu runs.
import { describe, expect, it } from 'vitest';

// @ts-expect-error -- the harness is plain JavaScript without typings
import { parseTest } from '../../vm/lib/test-file.mjs';

type Spec = { smp: number; tcg: string; disks: number[]; memory: number };
const parse = (header: string): Spec => parseTest(`${header}\nset -e\n`, '/x/t.sh') as Spec;

describe('vm test header', () => {
  it('defaults to one vCPU and single-threaded TCG', () => {
    expect(parse('# nothing declared')).toMatchObject({ smp: 1, tcg: 'single', memory: 1024 });
  });

  it('reads smp and tcg', () => {
    expect(parse('# vm: disks=2x64M smp=2 tcg=multi')).toMatchObject({
      smp: 2,
      tcg: 'multi',
      disks: [64 * 2 ** 20, 64 * 2 ** 20],
    });
  });

  it('rejects an unknown tcg mode and an unknown key with the file and line', () => {
    expect(() => parse('# vm: tcg=parallel')).toThrow(/t\.sh:1: tcg is single or multi, not "parallel"/);
    expect(() => parse('# vm: threads=2')).toThrow(/unknown key "threads".* tcg /);
  });
});
