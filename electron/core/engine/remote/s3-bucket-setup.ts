// What an append-only S3 repository needs of its bucket
// (docs/append-only-design.md §3.1), asked of the server with the owner's
// login: versioning (an overwrite by a client then keeps the old version),
// Object Lock with a default retention (a stolen owner login or a mistake
// cannot destroy versions before it ends), the bucket's owner (the policy's
// owner statement), and applying the policy.
import {
  GetBucketAclCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  PutBucketPolicyCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';

import { AppError } from '../../../common/contract';
import type { S3Location } from '../storage/location';
import type { S3Credentials } from '../storage/s3';

export interface BucketProtection {
  /** The bucket owner's id as the server gives it (radosgw: the uid, "tenant$uid" with a tenant). */
  ownerId: string | undefined;
  versioning: 'enabled' | 'suspended' | 'off';
  objectLock: { enabled: false } | { enabled: true; mode?: string; days?: number; years?: number };
}

export interface BucketSetup {
  read(): Promise<BucketProtection>;
  applyPolicy(policy: string): Promise<void>;
  close(): void;
}

export function bucketSetup(loc: S3Location, creds: S3Credentials): BucketSetup {
  if (creds.accessKeyId === undefined || creds.secretAccessKey === undefined)
    throw new AppError('REMOTE_AUTH_FAILED', `${loc.url}: the owner's access key id and its secret are needed (SNAPKEEP_S3_ACCESS_KEY_ID, SNAPKEEP_S3_SECRET_ACCESS_KEY)`, { location: loc.url });
  const client = new S3Client({
    endpoint: loc.endpoint,
    region: creds.region ?? 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const Bucket = loc.bucket;
  const ask = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      throw mapError(e, `${what} of bucket ${Bucket} on ${loc.host}:${loc.port}`, loc.url);
    }
  };
  return {
    async read() {
      const acl = await ask('read the owner', () => client.send(new GetBucketAclCommand({ Bucket })));
      const v = await ask('read the versioning', () => client.send(new GetBucketVersioningCommand({ Bucket })));
      let objectLock: BucketProtection['objectLock'] = { enabled: false };
      try {
        const l = await client.send(new GetObjectLockConfigurationCommand({ Bucket }));
        const r = l.ObjectLockConfiguration?.Rule?.DefaultRetention;
        if (l.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled')
          objectLock = { enabled: true, ...(r?.Mode !== undefined && { mode: r.Mode }), ...(r?.Days !== undefined && { days: r.Days }), ...(r?.Years !== undefined && { years: r.Years }) };
      } catch (e) {
        // A bucket made without Object Lock has no configuration to give (404).
        if (!(e instanceof S3ServiceException && (e.$metadata.httpStatusCode === 404 || e.name === 'ObjectLockConfigurationNotFoundError'))) throw mapError(e, `read the Object Lock of bucket ${Bucket}`, loc.url);
      }
      return { ownerId: acl.Owner?.ID, versioning: v.Status === 'Enabled' ? 'enabled' : v.Status === 'Suspended' ? 'suspended' : 'off', objectLock };
    },
    async applyPolicy(policy) {
      await ask('apply the policy', () => client.send(new PutBucketPolicyCommand({ Bucket, Policy: policy })));
    },
    close() {
      client.destroy();
    },
  };
}

function mapError(e: unknown, what: string, location: string): AppError {
  if (e instanceof AppError) return e;
  const code = e instanceof S3ServiceException ? e.name : '';
  const status = e instanceof S3ServiceException ? e.$metadata.httpStatusCode : undefined;
  const msg = e instanceof Error ? e.message : String(e);
  const details = { location, s3Code: code, ...(status !== undefined && { httpStatus: status }) };
  if (['InvalidAccessKeyId', 'SignatureDoesNotMatch'].includes(code)) return new AppError('REMOTE_AUTH_FAILED', `${what}: the server refused the access key (${code}: wrong access key id or secret?)`, details);
  if (code === 'NoSuchBucket') return new AppError('REPO_NOT_FOUND', `${what}: the bucket does not exist (the owner creates it, with Object Lock)`, { ...details, reason: 'no-such-bucket' });
  if (code === 'MalformedPolicy') return new AppError('IO_ERROR', `${what}: the server did not accept the policy (${msg})`, details);
  if (code === 'AccessDenied' || status === 403) return new AppError('PERMISSION_DENIED', `${what}: the server denied it: is this the bucket owner's login?`, { ...details, errnoName: 'EACCES' });
  if (!(e instanceof S3ServiceException)) return new AppError('REMOTE_UNAVAILABLE', `${what}: ${msg}`, details);
  return new AppError('IO_ERROR', `${what}: ${code ? `${code}: ` : ''}${msg}`, details);
}
