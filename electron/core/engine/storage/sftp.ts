// The SFTP backend (ssh2): a repository in a folder of an SSH server.
//
// - Save: the object is written to `.snapkeep-tmp-<name>-<random>` beside
//   its final name (0600; 0640 and folders 2770 with `sharedGroup`, for
//   an append-only repository's owner), fsync'ed on the server
//   (fsync@openssh.com where offered), then renamed over the final name
//   (posix-rename@openssh.com, which replaces atomically; plain SFTP
//   rename otherwise). A killed save leaves only a temp file, which prune
//   sweeps after its margin.
// - The host key is pinned at first use: the caller gives the fingerprint
//   it saw before (`hostKey`); none given, the key is accepted and
//   `hostKey` says which it was, so the caller can show it and keep it. A
//   different key is REMOTE_HOST_KEY_CHANGED, never retried or accepted.
// - Keepalive every 10 s; a server that stops answering requests for
//   stallTimeoutMs (its storage hangs) counts as a dropped connection
//   (sftp-channel.ts); a connection that drops is opened again and the
//   operation retried with backoff (every operation is idempotent: a save
//   writes a new temp file, a remove of a gone file counts as done), and
//   after the last attempt the error says where and why
//   (REMOTE_UNAVAILABLE). A refused login is REMOTE_AUTH_FAILED at once.
// - The server is untrusted: names in listings are checked (checkName),
//   sizes are checked against the caller's bound before a byte is read,
//   reads never take more than was asked, a listing holds at most
//   MAX_LIST_ENTRIES entries, links and special files are REPO_UNSAFE.
import { createHash, randomBytes } from 'node:crypto';

import { Client, type ConnectConfig, type Stats } from 'ssh2';

import { AppError } from '../../../common/contract';
import type { SftpLocation } from './location';
import { SftpChannel } from './sftp-channel';
import { type LoadOptions, MAX_LIST_ENTRIES, type RepoStorage, type StorageEntry, type StorageStat, checkName, checkRelPath, unreachableError } from './storage';

export interface SftpCredentials {
  password?: string;
  /** An OpenSSH or PEM private key. */
  privateKey?: Buffer | string;
  /** Of the private key. */
  keyPassphrase?: string;
  /** The host key fingerprint seen before (`SHA256:...`); absent: accept and report the first one. */
  hostKey?: string;
}

export interface RetryPolicy {
  /** Attempts per operation, the first included. */
  attempts: number;
  /** Wait before the second attempt; doubled each time. */
  baseDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500 };

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
const SFTP_EOF = 1;
const SFTP_NO_SUCH_FILE = 2;
const SFTP_PERMISSION_DENIED = 3;

/**
 * Bytes per read or write request, and requests in flight per transfer:
 * OpenSSH takes requests up to 256 KiB (ssh2 splits bigger ones).
 */
const IO_CHUNK = 128 * 1024;
const IO_IN_FLIGHT = 16;

/**
 * AES-GCM first: with AES-NI it is several times faster than
 * ChaCha20-Poly1305 in Node's crypto, and the data is encrypted already
 * (encrypted repositories) or not secret to the server anyway.
 */
const CIPHERS = ['aes128-gcm@openssh.com', 'aes256-gcm@openssh.com', 'chacha20-poly1305@openssh.com', 'aes128-ctr', 'aes256-ctr'] as const;

/** OpenSSH's form: SHA256:<base64 without padding>. */
export function hostKeyFingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** An error of the SSH session itself, not of one file: worth a new connection and another try. */
function isConnectionError(e: unknown): boolean {
  if (e instanceof AppError) return false;
  const err = e as { code?: unknown; level?: string };
  return typeof err.code !== 'number';
}

function sftpCode(e: unknown): number | undefined {
  const c = (e as { code?: unknown }).code;
  return typeof c === 'number' ? c : undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function entryOf(name: string, st: Stats): StorageEntry {
  if (st.isFile()) return { name, type: 'file', what: 'regular file' };
  if (st.isDirectory()) return { name, type: 'dir', what: 'directory' };
  const what = st.isSymbolicLink() ? 'symbolic link' : st.isFIFO() ? 'FIFO' : st.isSocket() ? 'socket' : st.isBlockDevice() || st.isCharacterDevice() ? 'device' : 'special file';
  return { name, type: 'other', what };
}

export interface SftpStorageOptions {
  retry?: RetryPolicy;
  /** Connection (TCP + SSH handshake + login) timeout. */
  readyTimeoutMs?: number;
  /** No answer to any request in flight for this long ends the connection (default STALL_MS). */
  stallTimeoutMs?: number;
  /** Counts of what went over the wire, for tests and the progress view. */
  onSave?: (name: string, bytes: number) => void;
  /**
   * The repository's folder is shared with append-only clients through a
   * group (docs/append-only-design.md §3.2): folders made 2770 and files
   * 0640 (keys/owner still 0600), instead of 0700 and 0600.
   */
  sharedGroup?: boolean;
}

/** The owner's key object: never readable by the group, shared or not. */
const OWNER_KEYS = 'keys/owner';

export class SftpStorage implements RepoStorage {
  readonly remote = true;
  readonly location: string;
  /** The fingerprint of the key the server showed (after the first connection). */
  hostKey: string | undefined;
  private conn: Promise<SftpChannel> | undefined;
  private readonly madeDirs = new Set<string>();
  private closed = false;
  private readonly retry: RetryPolicy;
  /** SftpStorageOptions.sharedGroup, or shareWithGroup() once the format is known. */
  private sharedGroup: boolean;

  constructor(
    readonly loc: SftpLocation,
    private readonly creds: SftpCredentials,
    private readonly opts: SftpStorageOptions = {},
  ) {
    this.location = loc.url;
    this.retry = opts.retry ?? DEFAULT_RETRY;
    this.sharedGroup = opts.sharedGroup === true;
  }

  private abs(name: string): string {
    checkRelPath(this.location, name);
    return name === '' ? this.loc.path : `${this.loc.path}/${name}`;
  }

  /** Opens the SSH session and its SFTP channel. */
  private connect(): Promise<SftpChannel> {
    return new Promise<SftpChannel>((resolve, reject) => {
      const client = new Client();
      let keyError: AppError | undefined;
      let settled = false;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        client.end();
        reject(keyError ?? e);
      };
      client.on('ready', () => {
        client.sftp((err, sftp) => {
          if (err) return fail(err);
          settled = true;
          resolve(new SftpChannel(client, sftp, this.opts.stallTimeoutMs));
        });
      });
      client.on('error', fail);
      client.on('close', () => {
        if (this.conn) void this.conn.then((c) => c.client === client && (this.conn = undefined), () => undefined);
        fail(new Error('the connection closed'));
      });
      const cfg: ConnectConfig = {
        host: this.loc.host.replace(/^\[|\]$/g, ''),
        port: this.loc.port,
        username: this.loc.user,
        readyTimeout: this.opts.readyTimeoutMs ?? 20_000,
        keepaliveInterval: 10_000,
        keepaliveCountMax: 3,
        algorithms: { cipher: [...CIPHERS] },
        hostVerifier: (key: Buffer) => {
          const seen = hostKeyFingerprint(key);
          if (this.creds.hostKey !== undefined && this.creds.hostKey !== seen) {
            keyError = new AppError(
              'REMOTE_HOST_KEY_CHANGED',
              `the server ${this.loc.host}:${this.loc.port} showed host key ${seen}, but this computer knows it as ${this.creds.hostKey}: refusing to connect (another machine may be posing as it; if its keys were renewed on purpose, accept the new one)`,
              { location: this.location, expected: this.creds.hostKey, found: seen },
            );
            return false;
          }
          this.hostKey = seen;
          return true;
        },
        ...(this.creds.password !== undefined && { password: this.creds.password }),
        ...(this.creds.privateKey !== undefined && { privateKey: this.creds.privateKey }),
        ...(this.creds.keyPassphrase !== undefined && { passphrase: this.creds.keyPassphrase }),
      };
      client.connect(cfg);
    }).catch((e: unknown) => {
      throw this.connectError(e);
    });
  }

  private connectError(e: unknown): AppError | Error {
    if (e instanceof AppError) return e;
    const err = e as Error & { level?: string; code?: string };
    if (err.level === 'client-authentication')
      return new AppError('REMOTE_AUTH_FAILED', `the server ${this.loc.host}:${this.loc.port} refused the login of ${this.loc.user} (wrong password or key?)`, {
        location: this.location,
      });
    return err;
  }

  private session(): Promise<SftpChannel> {
    if (this.closed) return Promise.reject(new AppError('INTERNAL', `the connection to ${this.location} is closed`));
    if (!this.conn) {
      const c = this.connect();
      this.conn = c;
      c.catch(() => {
        if (this.conn === c) this.conn = undefined;
      });
    }
    return this.conn;
  }

  private drop(): void {
    const c = this.conn;
    this.conn = undefined;
    void c?.then((x) => x.client.end(), () => undefined);
  }

  /** Runs `fn` on the SFTP channel; a broken connection is opened again and `fn` retried with backoff. */
  private async run<T>(what: string, fn: (ch: SftpChannel) => Promise<T>): Promise<T> {
    let last: unknown;
    for (let attempt = 0; attempt < this.retry.attempts; attempt++) {
      if (attempt > 0) await sleep(this.retry.baseDelayMs * 2 ** (attempt - 1));
      try {
        const ch = await this.session();
        return await fn(ch);
      } catch (e) {
        if (!isConnectionError(e)) throw this.fileError(e, what);
        last = e;
        this.drop();
      }
    }
    const cause = last instanceof Error ? last.message : String(last);
    throw unreachableError(this.location, what, `${this.loc.host}:${this.loc.port}`, this.retry.attempts, cause);
  }

  private fileError(e: unknown, what: string): AppError {
    if (e instanceof AppError) return e;
    const code = sftpCode(e);
    const msg = e instanceof Error ? e.message : String(e);
    if (code === SFTP_NO_SUCH_FILE) return new AppError('NOT_FOUND', `${what}: no such file`, { location: this.location, errnoName: 'ENOENT' });
    if (code === SFTP_PERMISSION_DENIED) return new AppError('PERMISSION_DENIED', `${what}: the server denied it (${msg})`, { location: this.location, errnoName: 'EACCES' });
    return new AppError('IO_ERROR', `${what}: ${msg}`, { location: this.location, ...(code !== undefined && { sftpStatus: code }) });
  }

  private async mkdirs(ch: SftpChannel, dir: string): Promise<void> {
    let at = '';
    for (const part of dir.split('/').filter((x) => x !== '')) {
      at += `/${part}`;
      if (this.madeDirs.has(at)) continue;
      const mode = this.sharedGroup ? 0o2770 : 0o700;
      let made = false;
      try {
        await ch.call<void>((cb) => ch.sftp.mkdir(at, { mode }, (err) => cb(err, undefined)));
        made = true;
      } catch (e) {
        // Already there (or made by another process) is what we want; a
        // link or file in its place is refused when it is used.
        if (!isConnectionError(e)) {
          const st = await ch.call<Stats>((cb) => ch.sftp.lstat(at, cb)).catch(() => undefined);
          if (!st?.isDirectory()) throw e;
        } else throw e;
      }
      // The server's umask (022 usually) takes the group's write bit.
      if (made && this.sharedGroup) await ch.call<void>((cb) => ch.sftp.setstat(at, { mode }, (err) => cb(err, undefined)));
      this.madeDirs.add(at);
    }
  }

  /**
   * The shared-group modes from now on: the owner of an append-only
   * repository always shares it with the clients' account (engine.ts, at
   * init and once an open has read a format-3 config).
   */
  shareWithGroup(): void {
    this.sharedGroup = true;
  }

  /** Of a new file: readable by the group when the folder is shared (the owner's key object never). */
  private fileMode(name: string): number {
    return this.sharedGroup && name !== OWNER_KEYS ? 0o640 : 0o600;
  }

  async save(name: string, data: Buffer): Promise<void> {
    const path = this.abs(name);
    const mode = this.fileMode(name);
    const slash = path.lastIndexOf('/');
    const dir = path.slice(0, slash);
    const base = path.slice(slash + 1);
    await this.run(`write ${this.location}/${name}`, async (ch) => {
      const tmp = `${dir}/.snapkeep-tmp-${base}-${randomBytes(6).toString('hex')}`;
      let handle: Buffer;
      try {
        handle = await ch.call<Buffer>((cb) => ch.sftp.open(tmp, 'wx', { mode }, cb));
      } catch (e) {
        if (sftpCode(e) !== SFTP_NO_SUCH_FILE) throw e;
        await this.mkdirs(ch, dir);
        handle = await ch.call<Buffer>((cb) => ch.sftp.open(tmp, 'wx', { mode }, cb));
      }
      try {
        // Durable before it gets its name (where the server offers it).
        await this.writeDurably(ch, handle, data);
      } catch (e) {
        await ch.call<void>((cb) => ch.sftp.unlink(tmp, (err) => cb(err, undefined))).catch(() => undefined);
        throw e;
      }
      try {
        await ch.call<void>((cb) => ch.sftp.ext_openssh_rename(tmp, path, (err) => cb(err, undefined)));
      } catch (e) {
        if (isConnectionError(e)) throw e;
        // No posix-rename: plain rename refuses an existing target.
        await ch.call<void>((cb) => ch.sftp.unlink(path, (err) => cb(err, undefined))).catch(() => undefined);
        await ch.call<void>((cb) => ch.sftp.rename(tmp, path, (err) => cb(err, undefined)));
      }
    });
    this.opts.onSave?.(name, data.length);
  }

  /**
   * Opens the final name with O_CREAT|O_EXCL ('wx'), writes, fsyncs: no
   * temp name and no rename, which an append-only account may not do. Not
   * atomic: a cut connection leaves a short file under the name. A retry
   * of our own cut save compares what is there with what we meant to write
   * (parallel writes may have left a hole at full length): the same bytes
   * are 'created', others an IO_ERROR naming the file, which the client
   * can never replace (the owner's prune removes it).
   */
  async create(name: string, data: Buffer): Promise<'created' | 'exists'> {
    const path = this.abs(name);
    const dir = path.slice(0, path.lastIndexOf('/'));
    const shown = `${this.location}/${name}`;
    let ours = false;
    const result = await this.run(`create ${shown}`, async (ch) => {
      const open = () => ch.call<Buffer>((cb) => ch.sftp.open(path, 'wx', { mode: name === OWNER_KEYS ? 0o600 : 0o640 }, cb));
      let handle: Buffer;
      try {
        handle = await open().catch(async (e: unknown) => {
          if (sftpCode(e) !== SFTP_NO_SUCH_FILE) throw e;
          await this.mkdirs(ch, dir);
          return open();
        });
      } catch (e) {
        if (isConnectionError(e)) throw e;
        // OpenSSH answers EEXIST with a generic failure: a stat tells.
        const st = await ch.call<Stats>((cb) => ch.sftp.lstat(path, cb)).catch(() => undefined);
        if (st === undefined) throw e;
        this.checkType(name, st);
        if (!ours) return 'exists' as const;
        if (st.size === data.length) {
          const h = await ch.call<Buffer>((cb) => ch.sftp.open(path, 'r', cb));
          try {
            if ((await this.readAll(ch, h, 0, data.length, shown)).equals(data)) return 'created' as const;
          } finally {
            await ch.call<void>((cb) => ch.sftp.close(h, (err) => cb(err, undefined))).catch(() => undefined);
          }
        }
        throw new AppError('IO_ERROR', `${shown}: an upload was cut short and left an incomplete file, which this client may not replace`, { path: shown, reason: 'already-exists' });
      }
      ours = true;
      await this.writeDurably(ch, handle, data);
      return 'created' as const;
    });
    if (result === 'created') this.opts.onSave?.(name, data.length);
    return result;
  }

  /** Writes `data` at the start of the open `handle`, fsyncs where the server offers it, and closes it (also when a write fails). */
  private async writeDurably(ch: SftpChannel, handle: Buffer, data: Buffer): Promise<void> {
    try {
      await this.writeAll(ch, handle, data);
      await ch.call<void>((cb) => ch.sftp.ext_openssh_fsync(handle, (err) => cb(err, undefined))).catch((e: unknown) => {
        if (isConnectionError(e)) throw e;
      });
    } catch (e) {
      await ch.call<void>((cb) => ch.sftp.close(handle, (err) => cb(err, undefined))).catch(() => undefined);
      throw e;
    }
    await ch.call<void>((cb) => ch.sftp.close(handle, (err) => cb(err, undefined)));
  }

  private async writeAll(ch: SftpChannel, handle: Buffer, data: Buffer): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < data.length) {
        const at = next;
        const len = Math.min(IO_CHUNK, data.length - at);
        next += len;
        await ch.call<void>((cb) => ch.sftp.write(handle, data, at, len, at, (err) => cb(err, undefined)));
      }
    };
    await Promise.all(Array.from({ length: Math.min(IO_IN_FLIGHT, Math.ceil(data.length / IO_CHUNK) || 1) }, worker));
  }

  async load(name: string, opts: LoadOptions): Promise<Buffer> {
    const path = this.abs(name);
    const shown = `${this.location}/${name}`;
    return this.run(`read ${shown}`, async (ch) => {
      const st = await ch.call<Stats>((cb) => ch.sftp.lstat(path, cb));
      this.checkType(name, st);
      const handle = await ch.call<Buffer>((cb) => ch.sftp.open(path, 'r', cb));
      try {
        const fst = await ch.call<Stats>((cb) => ch.sftp.fstat(handle, cb));
        this.checkType(name, fst);
        const size = Math.min(st.size, fst.size);
        if (st.size !== fst.size) throw new AppError('REPO_CORRUPT', `${shown} changed while it was read`, { path: shown });
        if (size > opts.maxBytes && opts.offset === undefined)
          throw new AppError('REPO_CORRUPT', `${shown} has ${size} bytes, more than the ${opts.maxBytes} such a file may have`, { path: shown, size, maxBytes: opts.maxBytes });
        const offset = opts.offset ?? 0;
        const length = opts.length ?? size - offset;
        if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || length > opts.maxBytes)
          throw new AppError('REPO_CORRUPT', `${shown}: range ${offset}+${length} is beyond ${opts.maxBytes} bytes`, { path: shown });
        if (offset + length > size) throw new AppError('REPO_CORRUPT', `${shown} has ${size} bytes, shorter than the range ${offset}+${length}`, { path: shown, size });
        return await this.readAll(ch, handle, offset, length, shown);
      } finally {
        await ch.call<void>((cb) => ch.sftp.close(handle, (err) => cb(err, undefined))).catch(() => undefined);
      }
    });
  }

  private async readAll(ch: SftpChannel, handle: Buffer, offset: number, length: number, shown: string): Promise<Buffer> {
    const out = Buffer.alloc(length);
    let next = 0;
    const worker = async () => {
      while (next < length) {
        const at = next;
        const len = Math.min(IO_CHUNK, length - at);
        next += len;
        let got = 0;
        // The server may answer a read with fewer bytes than asked: ask again for the rest.
        while (got < len) {
          const n = await ch.call<number>((cb) => ch.sftp.read(handle, out, at + got, len - got, offset + at + got, (err, bytes) => cb(err, bytes))).catch((e: unknown) => {
            if (sftpCode(e) === SFTP_EOF) return 0;
            throw e;
          });
          if (n <= 0) throw new AppError('REPO_CORRUPT', `${shown} ended before the ${length} bytes it said it had`, { path: shown });
          got += n;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(IO_IN_FLIGHT, Math.ceil(length / IO_CHUNK) || 1) }, worker));
    return out;
  }

  private checkType(name: string, st: Stats): void {
    const e = entryOf(name, st);
    if (e.type === 'file') return;
    const p = `${this.location}/${name}`;
    throw new AppError('REPO_UNSAFE', `refusing ${p}: it is a ${e.what}, and a Snapkeep repository holds only regular files and directories (was the repository tampered with?)`, {
      path: p,
      found: e.what,
    });
  }

  async stat(name: string): Promise<StorageStat | undefined> {
    const path = this.abs(name);
    try {
      return await this.run(`stat ${this.location}/${name}`, async (ch) => {
        const st = await ch.call<Stats>((cb) => ch.sftp.lstat(path, cb));
        this.checkType(name, st);
        return { size: st.size, mtimeMs: st.mtime * 1000 };
      });
    } catch (e) {
      if (e instanceof AppError && e.details?.['errnoName'] === 'ENOENT') return undefined;
      throw e;
    }
  }

  async list(dir: string): Promise<StorageEntry[]> {
    const path = this.abs(dir);
    try {
      return await this.run(`list ${this.location}/${dir}`, async (ch) => {
        const handle = await ch.call<Buffer>((cb) => ch.sftp.opendir(path, cb));
        const out: StorageEntry[] = [];
        try {
          for (;;) {
            const batch = await ch.call<Array<{ filename: string; attrs: Stats }> | false>((cb) => ch.sftp.readdir(handle, (err, list) => cb(err, list))).catch((e: unknown) => {
              if (sftpCode(e) === SFTP_EOF) return false as const;
              throw e;
            });
            if (!batch) break;
            for (const ent of batch) {
              if (ent.filename === '.' || ent.filename === '..') continue;
              checkName(this.location, dir, ent.filename);
              out.push(entryOf(ent.filename, ent.attrs));
              if (out.length > MAX_LIST_ENTRIES)
                throw new AppError('REPO_UNSAFE', `refusing a listing of ${this.location}/${dir}: more than ${MAX_LIST_ENTRIES} entries`, { path: `${this.location}/${dir}`, found: 'oversized listing' });
            }
          }
        } finally {
          await ch.call<void>((cb) => ch.sftp.close(handle, (err) => cb(err, undefined))).catch(() => undefined);
        }
        return out;
      });
    } catch (e) {
      if (e instanceof AppError && e.details?.['errnoName'] === 'ENOENT') return [];
      throw e;
    }
  }

  async remove(names: string[]): Promise<number> {
    let n = 0;
    for (const name of names) {
      const path = this.abs(name);
      const existed = await this.run(`remove ${this.location}/${name}`, async (ch) => {
        try {
          await ch.call<void>((cb) => ch.sftp.unlink(path, (err) => cb(err, undefined)));
          return true;
        } catch (e) {
          // Gone already (or removed by an earlier attempt whose answer was lost).
          if (sftpCode(e) === SFTP_NO_SUCH_FILE) return false;
          throw e;
        }
      });
      if (existed) n++;
    }
    return n;
  }

  async mkdir(dir: string): Promise<void> {
    const path = this.abs(dir);
    await this.run(`mkdir ${this.location}/${dir}`, (ch) => this.mkdirs(ch, path));
  }

  /** Connects now (init and open call it first, so a wrong password or host key is said before anything else). */
  async connectNow(): Promise<void> {
    await this.run(`connect to ${this.location}`, async () => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const c = this.conn;
    this.conn = undefined;
    if (c) await c.then((x) => x.client.end(), () => undefined);
  }
}
