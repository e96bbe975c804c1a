import { describe, expect, it } from 'vitest';

import { AppError, ErrorCode } from '../../../electron/common/contract';
import { CONNECTION_ERROR, describeError, ERROR_WORDS, toErrorInfo } from '../../../renderer/src/errors/words';

describe('error words', () => {
  it('has words for every code of the contract', () => {
    for (const code of ErrorCode.options) {
      const w = ERROR_WORDS[code];
      expect(w.title.length, code).toBeGreaterThan(3);
      expect(w.message.endsWith('.'), code).toBe(true);
      // words for users: no codes, errno names or stack traces
      expect(`${w.title} ${w.message} ${w.hint ?? ''}`, code).not.toMatch(/[A-Z]{2,}_[A-Z]|E[A-Z]{3,}|\bat \w+ \(/);
    }
  });

  it('tells a missing bucket from a missing folder by the reason the S3 backend gives (every reason of the contract is read)', () => {
    const d = describeError(new AppError('REPO_NOT_FOUND', 'connect to s3://h/b: the bucket b does not exist on h', { reason: 'no-such-bucket' }));
    expect(d.title).toBe('The bucket does not exist');
    expect(d.hint).toContain('Create the bucket');
    expect(describeError(new AppError('REPO_NOT_FOUND', 'gone', { path: '/x' })).title).toBe(ERROR_WORDS.REPO_NOT_FOUND.title);
  });

  it('keeps the technical message and details for "show details"', () => {
    const d = describeError(new AppError('WRONG_PASSPHRASE', 'repos.unlock: key derivation failed', { repositoryId: 'r1' }));
    expect(d).toEqual({
      code: 'WRONG_PASSPHRASE',
      ...ERROR_WORDS.WRONG_PASSPHRASE,
      technical: 'repos.unlock: key derivation failed',
      details: { repositoryId: 'r1' },
    });
  });

  it('treats plain errors and unknown codes as internal, and connection errors as such', () => {
    expect(toErrorInfo(new Error('boom'))).toEqual({ code: 'INTERNAL', message: 'boom' });
    expect(toErrorInfo({ code: 'ENOENT', message: 'x' })).toEqual({ code: 'INTERNAL', message: '[object Object]' });
    expect(toErrorInfo({ code: 'TARGET_TOO_SMALL', message: 'x' })).toEqual({ code: 'TARGET_TOO_SMALL', message: 'x' });
    const lost = Object.assign(new Error('open Snapkeep with the link that `snapkeep serve` printed'), { name: CONNECTION_ERROR });
    expect(describeError(lost)).toMatchObject({ title: 'No connection to Snapkeep', message: lost.message });
  });
});
