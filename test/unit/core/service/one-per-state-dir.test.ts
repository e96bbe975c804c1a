import { describe, expect, it } from 'vitest';

import { isAppError } from '../../../../electron/common/contract';
import { LocalBackend } from '../../../../electron/core/api/local-backend';
import { tempServiceDirs } from '../../../support/temp-dirs';

describe('one service per state directory', () => {
  it('refuses a second service on the same directories and admits it after the first closes', async () => {
    const t = tempServiceDirs();
    const first = await LocalBackend.open({ dirs: t.dirs, schedule: false });
    const err: unknown = await LocalBackend.open({ dirs: t.dirs, schedule: false }).catch((e: unknown) => e);
    expect(isAppError(err) && err.code).toBe('CONFLICT');
    expect((err as Error).message).toContain('another Snapkeep service');
    await first.close();
    const second = await LocalBackend.open({ dirs: t.dirs, schedule: false });
    await second.close();
    t.remove();
  });
});
