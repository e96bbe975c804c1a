// The bucket policy of an append-only S3 repository
// (docs/append-only-design.md §3.1): the owner may do anything in the
// bucket; the client user may list it, read the repository's metadata and
// its own key slot, add objects under the repository's folders, and is
// denied every request that deletes, changes retention or changes the
// bucket's rules. It cannot read packs or keys/owner (denied: see
// CLIENT_NO_READ), nor any older version, nor write config or keys/
// (nothing allows it). Overwrites cannot be told from creates by a
// policy on radosgw 16.2: the bucket's versioning (Object Lock) keeps the
// old version.
import { AppError } from '../../../common/contract';

export interface AppendOnlyPolicyInput {
  bucket: string;
  /** The repository's key prefix in the bucket, without slashes at either end; '' for the whole bucket. */
  prefix: string;
  /** The owner user: a radosgw uid ("owner", "tenant$owner") or an IAM ARN. */
  owner: string;
  /** The append-only client user, written as `owner` is. */
  client: string;
}

/** What the client reads: the config, its key slot, and the metadata it dedups and chains against. */
const CLIENT_READS = ['config', 'keys/client', 'index/*', 'lists/*', 'points/*', 'locks/*'];
/** Where the client adds objects (never config or keys/). */
const CLIENT_ADDS = ['packs/*', 'index/*', 'lists/*', 'points/*', 'locks/*'];
/**
 * Reads refused to the client explicitly: radosgw (16.2, seen) lets the
 * writer of an object read it through the object's ACL when no statement
 * denies it, so an Allow list alone leaves the client its own packs.
 */
const CLIENT_NO_READ = ['packs/*', 'keys/owner'];
/** Refused to the client whatever else a policy or ACL grants. */
const CLIENT_NEVER = [
  's3:GetObjectVersion',
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:PutObjectRetention',
  's3:PutObjectLegalHold',
  's3:BypassGovernanceRetention',
  's3:PutObjectAcl',
  's3:PutObjectVersionAcl',
  's3:PutBucketAcl',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:PutBucketVersioning',
  's3:PutBucketObjectLockConfiguration',
  's3:PutLifecycleConfiguration',
  's3:DeleteBucket',
];

// S3's bucket names, as a repository location has them (contract/location.ts).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
// A radosgw uid, optionally with its tenant ("tenant$uid").
const UID = /^(?:([A-Za-z0-9_-]+)\$)?([A-Za-z0-9][A-Za-z0-9_.@+=,-]*)$/;
const ARN = /^arn:aws:iam::[A-Za-z0-9_-]*:user\/[A-Za-z0-9_.@+=,/-]+$/;

/** The principal ARN of a uid: `arn:aws:iam::<tenant>:user/<uid>` (radosgw's form; empty tenant for most users). */
export function userArn(user: string): string {
  if (ARN.test(user)) return user;
  const m = UID.exec(user);
  if (!m) throw new AppError('INVALID_ARGUMENT', `"${user}" is neither a user id (like laptop-ao, or tenant$laptop-ao) nor a user ARN (arn:aws:iam::<tenant>:user/<uid>)`);
  return `arn:aws:iam::${m[1] ?? ''}:user/${m[2] ?? ''}`;
}

export interface BucketPolicy {
  Version: '2012-10-17';
  Statement: Array<{ Sid: string; Effect: 'Allow' | 'Deny'; Principal: { AWS: string[] }; Action: string | string[]; Resource: string | string[] }>;
}

export function appendOnlyPolicy(input: AppendOnlyPolicyInput): BucketPolicy {
  const { bucket } = input;
  if (!BUCKET.test(bucket)) throw new AppError('INVALID_ARGUMENT', `"${bucket}" is not a bucket name`);
  if (input.prefix.startsWith('/') || input.prefix.endsWith('/') || /[*?]|\/\//.test(input.prefix))
    throw new AppError('INVALID_ARGUMENT', `the prefix "${input.prefix}" must have no leading or trailing '/', no '//' and no wildcard`);
  const owner = userArn(input.owner);
  const client = userArn(input.client);
  if (owner === client) throw new AppError('INVALID_ARGUMENT', `the owner and the append-only client are the same user (${owner}): the client needs a login of its own`);
  const under = (rel: string) => `arn:aws:s3:::${bucket}/${input.prefix === '' ? '' : `${input.prefix}/`}${rel}`;
  const whole = [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`];
  return {
    Version: '2012-10-17',
    Statement: [
      // The bucket owner is named too: radosgw checks an object's ACL, whose owner is its writer, so without it the owner could not read the client's objects.
      { Sid: 'Owner', Effect: 'Allow', Principal: { AWS: [owner] }, Action: 's3:*', Resource: whole },
      { Sid: 'ClientList', Effect: 'Allow', Principal: { AWS: [client] }, Action: 's3:ListBucket', Resource: `arn:aws:s3:::${bucket}` },
      { Sid: 'ClientRead', Effect: 'Allow', Principal: { AWS: [client] }, Action: 's3:GetObject', Resource: CLIENT_READS.map(under) },
      { Sid: 'ClientAdd', Effect: 'Allow', Principal: { AWS: [client] }, Action: 's3:PutObject', Resource: CLIENT_ADDS.map(under) },
      { Sid: 'ClientNoRead', Effect: 'Deny', Principal: { AWS: [client] }, Action: 's3:GetObject', Resource: CLIENT_NO_READ.map(under) },
      { Sid: 'ClientNever', Effect: 'Deny', Principal: { AWS: [client] }, Action: CLIENT_NEVER, Resource: whole },
    ],
  };
}
