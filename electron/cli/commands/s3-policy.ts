import { parseArgs } from 'node:util';

import { AppError, isS3Location, parseS3Location } from '../../common/contract';
import { appendOnlyPolicy } from '../../core/engine/remote/s3-append-only-policy';
import type { BucketProtection } from '../../core/engine/remote/s3-bucket-setup';
import type { Command } from '../command';
import { EXIT } from '../exit-codes';
import { remoteLogin, repoPath } from './engine-common';

// The bucket policy of an append-only S3 repository (docs/append-only-design.md
// §3.1): printed for the owner to apply, or applied with the owner's login,
// and the bucket checked for what the policy cannot give by itself.
export const s3PolicyCommand: Command = {
  name: 's3-policy',
  summary: "print or apply the bucket policy of an append-only S3 repository, and check the bucket's versioning and Object Lock",
  usage:
    'snapkeep s3-policy <s3 location> --client-user UID [--owner-user UID] [--check | --apply] [--json]\n' +
    '  Without --check or --apply: prints the policy (needs --owner-user; asks no server).\n' +
    "  --check: also reads the bucket's versioning and Object Lock; --apply: applies the policy, then checks.\n" +
    "  Both use the bucket owner's login (SNAPKEEP_S3_ACCESS_KEY_ID, SNAPKEEP_S3_SECRET_ACCESS_KEY), which is not kept;\n" +
    "  --owner-user defaults to the bucket's owner. UIDs are radosgw user ids (tenant$uid with a tenant) or IAM user ARNs.",
  async run({ args, json, out, err }) {
    const { values, positionals } = parseArgs({
      args,
      options: { 'client-user': { type: 'string' }, 'owner-user': { type: 'string' }, check: { type: 'boolean' }, apply: { type: 'boolean' } },
      allowPositionals: true,
    });
    if (positionals.length > 1) throw new AppError('INVALID_ARGUMENT', `one location only (got ${positionals.length})`);
    const where = repoPath(positionals[0]);
    if (!isS3Location(where)) throw new AppError('INVALID_ARGUMENT', `${where} is not an S3 location (s3://host[:port]/bucket[/prefix], or s3+http://)`);
    const loc = parseS3Location(where);
    const clientUser = values['client-user'];
    if (clientUser === undefined) throw new AppError('INVALID_ARGUMENT', "--client-user is missing: the append-only login's user id");
    const ask = values.check === true || values.apply === true;
    if (values.check && values.apply) throw new AppError('INVALID_ARGUMENT', '--check or --apply, not both (--apply checks too)');

    if (!ask) {
      const ownerUser = values['owner-user'];
      if (ownerUser === undefined) throw new AppError('INVALID_ARGUMENT', "--owner-user is missing (without --check or --apply no server is asked for the bucket's owner)");
      const policy = appendOnlyPolicy({ bucket: loc.bucket, prefix: loc.prefix, owner: ownerUser, client: clientUser });
      if (json) out(JSON.stringify({ policy }));
      else {
        out(JSON.stringify(policy, null, 2));
        err('not checked: run with --check (or --apply) and the owner\'s login to see whether the bucket has versioning and Object Lock');
      }
      return EXIT.OK;
    }

    const login = await remoteLogin(where);
    // The AWS SDK only when a server is asked: it slows every command's start.
    const { bucketSetup } = await import('../../core/engine/remote/s3-bucket-setup.js');
    const setup = bucketSetup(loc, login ?? {});
    try {
      const before = await setup.read();
      const ownerUser = values['owner-user'] ?? before.ownerId;
      if (ownerUser === undefined) throw new AppError('INVALID_ARGUMENT', `the server did not name the owner of bucket ${loc.bucket}: give --owner-user`);
      const policy = appendOnlyPolicy({ bucket: loc.bucket, prefix: loc.prefix, owner: ownerUser, client: clientUser });
      if (values.apply) await setup.applyPolicy(JSON.stringify(policy));
      const { missing, notes } = judge(before);
      if (json) out(JSON.stringify({ policy, applied: values.apply === true, versioning: before.versioning, objectLock: before.objectLock, missing }));
      else {
        out(values.apply ? `applied the append-only policy to bucket ${loc.bucket} (owner ${ownerUser}, client ${clientUser}${loc.prefix ? `, repository ${loc.prefix}` : ''})` : JSON.stringify(policy, null, 2));
        for (const n of notes) out(n);
        for (const m of missing) out(`MISSING: ${m}`);
      }
      // Without versioning the policy cannot keep an overwritten object: the protection is not there.
      return before.versioning === 'enabled' ? EXIT.OK : EXIT.FAILURE;
    } finally {
      setup.close();
    }
  },
};

/** What the bucket has and lacks, in words. */
function judge(b: BucketProtection): { missing: string[]; notes: string[] } {
  const missing: string[] = [];
  const notes: string[] = [];
  if (b.versioning === 'enabled') notes.push('versioning: enabled (an overwrite by a client keeps the old version)');
  else
    missing.push(
      `versioning is ${b.versioning}: a client could replace index files, lists and restore points for good (no policy can refuse an overwrite). ` +
        'Create the bucket with Object Lock (which turns versioning on), or at least enable versioning.',
    );
  const lock = b.objectLock;
  if (lock.enabled) {
    const period = lock.days !== undefined ? `${lock.days} day${lock.days === 1 ? '' : 's'}` : lock.years !== undefined ? `${lock.years} year${lock.years === 1 ? '' : 's'}` : undefined;
    if (lock.mode !== undefined && period !== undefined) notes.push(`Object Lock: enabled, default retention ${lock.mode} ${period} (nobody deletes a version before it ends)`);
    else missing.push('Object Lock is enabled without a default retention: set one (PutObjectLockConfiguration, e.g. GOVERNANCE 30 days), or versions can still be deleted by the owner login at once.');
  } else
    missing.push(
      'Object Lock is not enabled (recommended: a stolen owner login could otherwise delete every version). ' +
        'It cannot be added to an existing bucket on radosgw 16.2: make a new bucket with Object Lock and a default retention.',
    );
  return { missing, notes };
}
