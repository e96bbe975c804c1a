// What the repository commands share: the passphrase (SNAPKEEP_PASSWORD,
// --password-file, or a prompt on the terminal), opening a repository,
// progress on stderr, and Ctrl-C as a cooperative cancel.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { AppError, HostKeyFingerprint, type Progress, RemoteAccessFields, canonicalLocation, isRemoteLocation, isS3Location } from '../../common/contract';
import { engine, type RepositoryHandle } from '../../core/engine';
import { RemoteCredentials, type RemoteLogin } from '../../core/repos/remote-credentials';
import { formatBytes, formatEta } from '../../common/format';

export const passwordOption = { 'password-file': { type: 'string' } } as const;

/** Reads a passphrase without echo from the controlling terminal. */
function prompt(question: string, missing = 'a passphrase is needed: set SNAPKEEP_PASSWORD, pass --password-file, or run on a terminal'): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    if (!stdin.isTTY) {
      reject(new AppError('PASSPHRASE_REQUIRED', missing));
      return;
    }
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let answer = '';
    const onData = (b: Buffer) => {
      for (const ch of b.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(answer);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new AppError('CANCELLED', 'cancelled'));
          return;
        }
        if (ch === '\u007f') answer = answer.slice(0, -1);
        else answer += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

export async function passphrase(passwordFile: string | undefined, confirm = false, label = 'Passphrase'): Promise<string> {
  const env = process.env['SNAPKEEP_PASSWORD'];
  if (env !== undefined && env !== '') return env;
  return passphraseFrom(passwordFile, confirm, label);
}

/** The first line of `passwordFile`, or a prompt (typed twice with `confirm`); `missing` says what to do without a terminal. */
export async function passphraseFrom(passwordFile: string | undefined, confirm: boolean, label: string, missing?: string): Promise<string> {
  if (passwordFile !== undefined) {
    const text = fs.readFileSync(path.resolve(passwordFile), 'utf8');
    const first = text.split('\n')[0] ?? '';
    if (!first) throw new AppError('INVALID_ARGUMENT', `${passwordFile} holds no passphrase`);
    return first;
  }
  const p = await prompt(`${label}: `, missing);
  if (confirm && (await prompt(`${label} again: `, missing)) !== p) throw new AppError('INVALID_ARGUMENT', 'the passphrases differ');
  return p;
}

/** How the CLI names the key a handle was opened with; undefined for formats 1-2 (one key for everyone). */
export function roleWords(role: RepositoryHandle['role']): string | undefined {
  if (role === 'owner') return 'append-only (owner key)';
  if (role === 'client') return 'append-only (client key: adds backups only)';
  return undefined;
}

export function repoPath(p: string | undefined): string {
  if (!p) throw new AppError('INVALID_ARGUMENT', 'the repository path is missing');
  // Any scheme:// form goes to the location parser, which refuses the ones
  // not spoken here: "smb://nas/x" must not become the local ./smb:/nas/x.
  if (isRemoteLocation(p) || /^[a-z][a-z0-9+.-]*:\/\//i.test(p)) return canonicalLocation(p);
  return path.resolve(p);
}

/**
 * The login for a remote repository: what this computer stored (root-only,
 * core/repos/remote-credentials.ts), with the environment on top.
 * sftp://: SNAPKEEP_SSH_PASSWORD, SNAPKEEP_SSH_KEY_FILE (a private key, its
 * passphrase in SNAPKEEP_SSH_KEY_PASSPHRASE), SNAPKEEP_SSH_HOST_KEY (the
 * fingerprint to accept, e.g. after the server's keys were renewed).
 * s3:// and s3+http://: SNAPKEEP_S3_ACCESS_KEY_ID, SNAPKEEP_S3_SECRET_ACCESS_KEY,
 * SNAPKEEP_S3_REGION. Not AWS_ACCESS_KEY_ID and friends: keys meant for
 * another tool are never used for a repository by accident (the S3 client
 * is given only these, never the environment's or ~/.aws's).
 * Undefined for local paths.
 */
export async function remoteLogin(p: string): Promise<RemoteLogin | undefined> {
  if (!isRemoteLocation(p)) return undefined;
  const stored = await new RemoteCredentials().read(p);
  if (stored.kind === 'unusable') process.stderr.write(`snapkeep: the login stored for ${p} is not used: ${stored.problem}\n`);
  const login: RemoteLogin = stored.kind === 'login' ? { ...stored.login } : {};
  const env = process.env;
  if (isS3Location(p)) {
    if (env['SNAPKEEP_S3_ACCESS_KEY_ID']) login.accessKeyId = env['SNAPKEEP_S3_ACCESS_KEY_ID'];
    if (env['SNAPKEEP_S3_SECRET_ACCESS_KEY']) login.secretAccessKey = env['SNAPKEEP_S3_SECRET_ACCESS_KEY'];
    if (env['SNAPKEEP_S3_REGION']) login.region = env['SNAPKEEP_S3_REGION'];
    const checked = RemoteAccessFields.safeParse(login);
    if (!checked.success) throw new AppError('INVALID_ARGUMENT', `the S3 login for ${p} is not valid: ${checked.error.issues.map((i) => i.message).join('; ')}`);
    return checked.data;
  }
  if (env['SNAPKEEP_SSH_PASSWORD']) login.password = env['SNAPKEEP_SSH_PASSWORD'];
  if (env['SNAPKEEP_SSH_KEY_FILE']) login.privateKey = fs.readFileSync(path.resolve(env['SNAPKEEP_SSH_KEY_FILE']), 'utf8');
  if (env['SNAPKEEP_SSH_KEY_PASSPHRASE']) login.keyPassphrase = env['SNAPKEEP_SSH_KEY_PASSPHRASE'];
  if (env['SNAPKEEP_SSH_HOST_KEY']) login.hostKey = HostKeyFingerprint.parse(env['SNAPKEEP_SSH_HOST_KEY']);
  return login;
}

/**
 * Keeps the login that worked, and pins an SSH host key at first use (said
 * on stderr). Not the owner's login of an append-only repository: it is
 * typed for each owner operation and never stays on a computer that might
 * be a backed-up one (docs/append-only.md).
 */
export async function rememberLogin(p: string, login: RemoteLogin | undefined, handle: RepositoryHandle): Promise<void> {
  if (!login) return;
  if (handle.role === 'owner') {
    const key = handle.hostKey !== undefined && login.hostKey === undefined ? `; the server's host key is ${handle.hostKey} (SNAPKEEP_SSH_HOST_KEY requires it next time)` : '';
    process.stderr.write(`snapkeep: the owner's login for ${p} is not kept on this computer (append-only repository)${key}\n`);
    return;
  }
  if (isS3Location(p)) {
    // No host key: TLS (s3://) checks the server. The keys that worked are kept.
    if (login.accessKeyId !== undefined && login.secretAccessKey !== undefined) await new RemoteCredentials().store(p, login);
    return;
  }
  if (handle.hostKey === undefined) return;
  if (login.hostKey === undefined) process.stderr.write(`snapkeep: pinned the host key of ${p}: ${handle.hostKey}\n`);
  await new RemoteCredentials().store(p, { ...login, hostKey: handle.hostKey });
}

/**
 * Opens, asking for the passphrase only when the repository is encrypted.
 * A passphrase given up front (SNAPKEEP_PASSWORD, --password-file) means
 * the caller expects an encrypted repository: the engine then refuses an
 * unencrypted config (REPO_CONFIG_CHANGED) instead of opening it without
 * one, which is what a config swapped in by whoever can write the
 * repository would want.
 */
export async function openRepo(p: string, passwordFile: string | undefined): Promise<RepositoryHandle> {
  const login = await remoteLogin(p);
  const handle = await openWith(p, passwordFile, login);
  await rememberLogin(p, login, handle);
  return handle;
}

async function openWith(p: string, passwordFile: string | undefined, login: RemoteLogin | undefined): Promise<RepositoryHandle> {
  const remote = login && { remote: login };
  const env = process.env['SNAPKEEP_PASSWORD'];
  if ((env !== undefined && env !== '') || passwordFile !== undefined) return engine.open({ path: p, passphrase: await passphrase(passwordFile), ...remote });
  try {
    return await engine.open({ path: p, ...remote });
  } catch (e) {
    if (!(e instanceof AppError) || e.code !== 'PASSPHRASE_REQUIRED') throw e;
  }
  return engine.open({ path: p, passphrase: await passphrase(passwordFile), ...remote });
}

/**
 * Refuses what needs the owner's key when the client's opened the
 * repository, before the command writes anything of its own (restore makes
 * the target file before the engine would refuse). Same words as the engine.
 */
export function requireOwner(repo: RepositoryHandle, what: string): void {
  if (repo.role !== 'client') return;
  throw new AppError(
    'OWNER_KEY_REQUIRED',
    `${what} needs the owner's key: this computer can only add backups to ${repo.path} (open it with the owner passphrase, and for a server the owner's login)`,
    { path: repo.path, role: repo.role },
  );
}

// The app's own formatting (IEC units), so the CLI and the window agree.
const human = formatBytes;
export { human as humanBytes };

/** Progress on stderr, one updating line, only on a terminal and without --json. */
export function progressPrinter(json: boolean): ((p: Progress) => void) | undefined {
  if (json || !process.stderr.isTTY) return undefined;
  return (p) => {
    const pct = p.bytesTotal ? ((100 * p.bytesDone) / p.bytesTotal).toFixed(1) : '0.0';
    const eta = p.etaSeconds !== undefined ? `, ${formatEta(p.etaSeconds)}` : '';
    process.stderr.write(`\r${p.phase} ${pct}% ${human(p.bytesDone)}/${human(p.bytesTotal)} at ${human(p.bytesPerSecond)}/s${eta}    `);
    if (p.bytesDone >= p.bytesTotal) process.stderr.write('\n');
  };
}

/** An AbortSignal that fires on SIGINT/SIGTERM while `fn` runs. */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    return await fn(ac.signal);
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

export function intArg(v: string | undefined, name: string, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new AppError('INVALID_ARGUMENT', `--${name} must be an integer >= ${min}`);
  return n;
}

/** "latest" or a point id. */
export async function resolvePoint(repo: RepositoryHandle, id: string | undefined): Promise<string> {
  if (!id) throw new AppError('INVALID_ARGUMENT', 'the restore point id is missing (or "latest")');
  if (id !== 'latest') return id;
  const points = await repo.listPoints();
  const last = points[points.length - 1];
  if (!last) throw new AppError('NOT_FOUND', 'the repository has no restore points');
  return last.id;
}
