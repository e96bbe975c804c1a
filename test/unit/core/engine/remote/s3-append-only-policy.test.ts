// The append-only bucket policy (docs/append-only-design.md §3.1) as a pure
// function: what it grants and denies, and the inputs it refuses. The real
// server's reading of it is s3-append-only.test.ts.
import { describe, expect, it } from 'vitest';

import { appendOnlyPolicy, userArn } from '../../../../../electron/core/engine/remote/s3-append-only-policy';

describe('appendOnlyPolicy', () => {
  it("is §3.1's policy for bucket backups, prefix laptop", () => {
    const p = appendOnlyPolicy({ bucket: 'backups', prefix: 'laptop', owner: 'owner', client: 'laptop-ao' });
    const by = Object.fromEntries(p.Statement.map((s) => [s.Sid, s]));
    expect(Object.keys(by)).toEqual(['Owner', 'ClientList', 'ClientRead', 'ClientAdd', 'ClientNoRead', 'ClientNever']);
    expect(by['Owner']).toEqual({ Sid: 'Owner', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam:::user/owner'] }, Action: 's3:*', Resource: ['arn:aws:s3:::backups', 'arn:aws:s3:::backups/*'] });
    const client = { AWS: ['arn:aws:iam:::user/laptop-ao'] };
    expect(by['ClientList']).toEqual({ Sid: 'ClientList', Effect: 'Allow', Principal: client, Action: 's3:ListBucket', Resource: 'arn:aws:s3:::backups' });
    expect(by['ClientRead']?.Action).toBe('s3:GetObject');
    expect(by['ClientRead']?.Resource).toEqual(['config', 'keys/client', 'index/*', 'lists/*', 'points/*', 'locks/*'].map((r) => `arn:aws:s3:::backups/laptop/${r}`));
    expect(by['ClientAdd']?.Action).toBe('s3:PutObject');
    expect(by['ClientAdd']?.Resource).toEqual(['packs/*', 'index/*', 'lists/*', 'points/*', 'locks/*'].map((r) => `arn:aws:s3:::backups/laptop/${r}`));
    // Denied, not only not allowed: radosgw lets a writer read its own objects through their ACL.
    expect(by['ClientNoRead']).toEqual({ Sid: 'ClientNoRead', Effect: 'Deny', Principal: client, Action: 's3:GetObject', Resource: ['arn:aws:s3:::backups/laptop/packs/*', 'arn:aws:s3:::backups/laptop/keys/owner'] });
    expect(by['ClientNever']?.Effect).toBe('Deny');
    expect(by['ClientNever']?.Principal).toEqual(client);
    expect(by['ClientNever']?.Action).toEqual(expect.arrayContaining(['s3:GetObjectVersion', 's3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention', 's3:PutObjectRetention', 's3:PutBucketPolicy', 's3:PutBucketVersioning']));
    expect(by['ClientNever']?.Resource).toEqual(['arn:aws:s3:::backups', 'arn:aws:s3:::backups/*']);
    // Nothing grants the client packs for reading, keys/owner, config or keys/ for writing.
    const granted = (action: string) => p.Statement.filter((s) => s.Effect === 'Allow' && s.Principal.AWS.includes(client.AWS[0] ?? '') && [s.Action].flat().includes(action)).flatMap((s) => [s.Resource].flat());
    expect(granted('s3:GetObject').filter((r) => /packs|keys\/owner/.test(r))).toEqual([]);
    expect(granted('s3:PutObject').filter((r) => /config|keys\//.test(r))).toEqual([]);
  });

  it('covers the whole bucket with an empty prefix, and takes tenants and ARNs', () => {
    const p = appendOnlyPolicy({ bucket: 'bk1', prefix: '', owner: 'arn:aws:iam::acme:user/boss', client: 'acme$pc' });
    expect(p.Statement[2]?.Resource).toContain('arn:aws:s3:::bk1/config');
    expect(p.Statement[0]?.Principal.AWS).toEqual(['arn:aws:iam::acme:user/boss']);
    expect(p.Statement[1]?.Principal.AWS).toEqual(['arn:aws:iam::acme:user/pc']);
    expect(userArn('a.b@c')).toBe('arn:aws:iam:::user/a.b@c');
  });

  it('refuses what would make a wrong policy', () => {
    const ok = { bucket: 'backups', prefix: 'laptop', owner: 'owner', client: 'laptop-ao' };
    for (const bad of [{ bucket: 'a' }, { bucket: 'b/c' }, { prefix: '/laptop' }, { prefix: 'laptop/' }, { prefix: 'a//b' }, { prefix: 'a*' }, { client: 'owner' }, { client: 'a b' }, { owner: '' }, { client: 'arn:aws:iam:::user/owner' }])
      expect(() => appendOnlyPolicy({ ...ok, ...bad }), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
