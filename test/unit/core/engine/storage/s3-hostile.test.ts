// An S3 server that lies, played by a small HTTP server on loopback (radosgw
// cannot be made to): announced sizes beyond the bound, a range answered
// with the whole object, no length, listings that name keys outside the
// prefix or that cannot be file names, a paging token that never moves, and
// a server that only answers 503. Each is a clear error, and no answer is
// buffered beyond what was asked.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { isAppError } from '../../../../../electron/common/contract';
import { parseS3Location } from '../../../../../electron/core/engine/storage/location';
import { S3Storage } from '../../../../../electron/core/engine/storage/s3';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected a failure');
}

function listing(keys: string[], opts: { truncated?: boolean; token?: string; prefixes?: string[] } = {}): string {
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/\n/g, '&#10;');
  return (
    '<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bkt</Name><Prefix>r/</Prefix>' +
    `<KeyCount>${keys.length}</KeyCount><MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><IsTruncated>${opts.truncated ? 'true' : 'false'}</IsTruncated>` +
    (opts.token ? `<NextContinuationToken>${opts.token}</NextContinuationToken>` : '') +
    keys.map((k) => `<Contents><Key>${esc(k)}</Key><Size>1</Size><LastModified>2026-12-05T10:00:00.000Z</LastModified><ETag>"x"</ETag></Contents>`).join('') +
    (opts.prefixes ?? []).map((p) => `<CommonPrefixes><Prefix>${esc(p)}</Prefix></CommonPrefixes>`).join('') +
    '</ListBucketResult>'
  );
}

describe('an S3 server that lies', () => {
  let server: http.Server;
  let handler: Handler = (_q, r) => r.end();
  let requests = 0;
  let s3: S3Storage;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      requests++;
      req.resume();
      handler(req, res);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    s3 = new S3Storage(parseS3Location(`s3+http://127.0.0.1:${port}/bkt/r`), { accessKeyId: 'AK', secretAccessKey: 'SK' }, { retry: { attempts: 3, baseDelayMs: 10 }, connectTimeoutMs: 1000 });
  });
  afterAll(async () => {
    await s3.close();
    await new Promise((r) => server.close(r));
  });

  it('refuses an object announced beyond its bound without reading it', async () => {
    let sent = 0;
    handler = (_q, res) => {
      res.writeHead(200, { 'content-length': String(64 * 1024 * 1024) });
      // A trickle: the body is never read to its end.
      const t = setInterval(() => {
        if (res.destroyed || sent > 1024 * 1024) return clearInterval(t);
        sent += 16 * 1024;
        res.write(Buffer.alloc(16 * 1024));
      }, 5);
      res.on('close', () => clearInterval(t));
    };
    const f = await failure(s3.load('config', { maxBytes: 1024 * 1024 }));
    expect(f.code).toBe('REPO_CORRUPT');
    expect(f.message).toMatch(/67108864 bytes, more than the 1048576/);
  });

  it('refuses a range answered with the whole object, and an answer with no length', async () => {
    handler = (_q, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.end(Buffer.alloc(100));
    };
    expect((await failure(s3.load('packs/ab/x', { maxBytes: 1000, offset: 10, length: 20 }))).code).toBe('REPO_CORRUPT');
    handler = (_q, res) => {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      res.end(Buffer.alloc(100));
    };
    const f = await failure(s3.load('config', { maxBytes: 1000 }));
    expect(f.code).toBe('REPO_CORRUPT');
  });

  it('refuses a body shorter than announced', async () => {
    handler = (_q, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write(Buffer.alloc(40));
      setTimeout(() => res.destroy(), 20);
    };
    const f = await failure(s3.load('config', { maxBytes: 1000 }));
    expect(['REPO_CORRUPT', 'REMOTE_UNAVAILABLE']).toContain(f.code);
  });

  it.each([
    ['a key outside the prefix', listing(['other/config']), /outside the prefix/],
    ['a name with a newline', listing(['r/new\nline']), /cannot be a file name/],
    ['a name ".."', listing([], { prefixes: ['r/../'] }), /cannot be a file name/],
    ['a folder without its delimiter', listing([], { prefixes: ['r/x'] }), /without its delimiter/],
    ['a truncated page without a token', listing(['r/a'], { truncated: true }), /no new page token/],
  ])('refuses a listing with %s', async (_what, body, why) => {
    handler = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(body);
    };
    const f = await failure(s3.list(''));
    expect(f.code).toBe('REPO_UNSAFE');
    expect(f.message).toMatch(why);
  });

  it('refuses a paging token that never moves', async () => {
    handler = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(listing(['r/a'], { truncated: true, token: 'same' }));
    };
    const f = await failure(s3.list(''));
    expect(f.code).toBe('REPO_UNSAFE');
  });

  it('retries a server that only answers 503, then says it is unavailable', async () => {
    handler = (_q, res) => {
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>busy</Message></Error>');
    };
    requests = 0;
    const f = await failure(s3.save('config', Buffer.from('x')));
    expect(f.code).toBe('REMOTE_UNAVAILABLE');
    expect(f.message).toMatch(/after 3 attempts/);
    expect(requests).toBe(3);
  });
});
