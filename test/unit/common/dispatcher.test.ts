import { describe, expect, it } from 'vitest';

import { AppError } from '../../../electron/common/contract';
import { Dispatcher } from '../../../electron/common/rpc/dispatcher';
import {
  RPC_APP_ERROR,
  RPC_INTERNAL_ERROR,
  RPC_INVALID_PARAMS,
  RPC_INVALID_REQUEST,
  RPC_METHOD_NOT_FOUND,
  RPC_PARSE_ERROR,
} from '../../../electron/common/rpc/jsonrpc';

const ctx = {};

function errorOf(frame: string | null): { code: number; message: string; data?: { code: string; message: string } } {
  expect(frame).not.toBeNull();
  const msg = JSON.parse(frame as string) as { error?: { code: number; message: string; data?: { code: string; message: string } } };
  expect(msg.error).toBeDefined();
  return msg.error as { code: number; message: string; data?: { code: string; message: string } };
}

describe('Dispatcher', () => {
  const dispatcher = new Dispatcher<object>({
    'jobs.delete': ({ id }) => {
      if (id === 'missing') throw new AppError('NOT_FOUND', `no job "${id}"`, { id });
      if (id === 'bug') throw new Error('boom');
      return { ok: true as const };
    },
    // deliberately breaks its contract
    'jobs.run': () => ({ taskId: 'not a valid id!' }),
  });

  it('answers a valid call with the result', async () => {
    const out = await dispatcher.handleText('{"jsonrpc":"2.0","id":1,"method":"jobs.delete","params":{"id":"abc"}}', ctx);
    expect(JSON.parse(out as string)).toEqual({ jsonrpc: '2.0', id: 1, result: { ok: true } });
  });

  it('rejects text that is not JSON', async () => {
    expect(errorOf(await dispatcher.handleText('{nope', ctx)).code).toBe(RPC_PARSE_ERROR);
  });

  it('rejects a frame that is not a request', async () => {
    expect(errorOf(await dispatcher.handleText('{"id":1,"method":3}', ctx)).code).toBe(RPC_INVALID_REQUEST);
  });

  it('rejects unknown methods and methods this server does not serve', async () => {
    expect(errorOf(await dispatcher.handleText('{"jsonrpc":"2.0","id":1,"method":"rm -rf"}', ctx)).code).toBe(RPC_METHOD_NOT_FOUND);
    const e = errorOf(await dispatcher.handleText('{"jsonrpc":"2.0","id":2,"method":"devices.list"}', ctx));
    expect(e.code).toBe(RPC_METHOD_NOT_FOUND);
    expect(e.message).toContain('devices.list');
  });

  it('names the bad field when parameters fail validation', async () => {
    const e = errorOf(await dispatcher.handleText('{"jsonrpc":"2.0","id":1,"method":"jobs.delete","params":{"id":"../etc"}}', ctx));
    expect(e.code).toBe(RPC_INVALID_PARAMS);
    expect(e.data?.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/^jobs\.delete: id: /);
  });

  it('rejects unexpected extra parameters', async () => {
    const e = errorOf(await dispatcher.handleText('{"jsonrpc":"2.0","id":1,"method":"jobs.delete","params":{"id":"a","x":1}}', ctx));
    expect(e.code).toBe(RPC_INVALID_PARAMS);
  });

  it('carries application errors with their code and details', async () => {
    const e = errorOf(await dispatcher.handleText('{"jsonrpc":"2.0","id":1,"method":"jobs.delete","params":{"id":"missing"}}', ctx));
    expect(e.code).toBe(RPC_APP_ERROR);
    expect(e.data).toEqual({ code: 'NOT_FOUND', message: 'no job "missing"', details: { id: 'missing' } });
  });

  it('turns bugs into INTERNAL errors and reports them', async () => {
    const seen: string[] = [];
    const d = new Dispatcher<object>(
      { 'jobs.delete': () => Promise.reject(new Error('boom')) },
      { onInternalError: (m) => seen.push(m) },
    );
    const e = errorOf(await d.handleText('{"jsonrpc":"2.0","id":1,"method":"jobs.delete","params":{"id":"a"}}', ctx));
    expect(e.code).toBe(RPC_INTERNAL_ERROR);
    expect(e.data?.code).toBe('INTERNAL');
    expect(seen).toEqual(['jobs.delete']);
  });

  it('refuses to return a result that breaks the contract', async () => {
    const e = errorOf(await dispatcher.handleText('{"jsonrpc":"2.0","id":1,"method":"jobs.run","params":{"id":"a"}}', ctx));
    expect(e.code).toBe(RPC_INTERNAL_ERROR);
    expect(e.message).toContain('bad result');
  });

  it('sends nothing back for notifications', async () => {
    expect(await dispatcher.handleText('{"jsonrpc":"2.0","method":"jobs.delete","params":{"id":"a"}}', ctx)).toBeNull();
  });
});
