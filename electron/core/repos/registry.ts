// The repositories the user registered: where they are, whether they are
// encrypted, and the passphrases of the unlocked ones. Passphrases live in
// this process's memory from unlock to lock (or the end of the process).
// Only when the user opts in ("remember") is one also stored on this
// computer (./remembered-keys.ts), so scheduled runs survive a restart;
// lock and remove delete it again.
import { promises as fs } from 'node:fs';

import { z } from 'zod';

import {
  AppError,
  type AppendOnlyInit,
  Id,
  type OwnerAccess,
  isAppError,
  isRemoteLocation,
  ownerLoginProblems,
  type RemoteAccessFields,
  type RemoteProbe,
  RepoLocation,
  type KeyRotationResult,
  type Repository,
  type RepositoryRole,
} from '../../common/contract';
import type { Engine, RepositoryHandle } from '../engine/api';
import { RepoPin } from '../engine/config-pin';
import type { SourceLogger } from '../logs/logger';
import { newId } from '../persist/ids';
import type { JsonFile } from '../persist/json-file';
import type { RememberedKeys } from './remembered-keys';
import type { RemoteCredentials, RemoteLogin } from './remote-credentials';

export const StoredRepository = z.object({
  id: Id,
  name: z.string().min(1).max(200),
  path: RepoLocation,
  encrypted: z.boolean(),
  addedAt: z.string(),
  /**
   * What this computer knows of the repository's config (id, encryption,
   * ...): every open refuses a config that differs (REPO_CONFIG_CHANGED).
   * Entries stored before pins existed get one on their next open, from
   * `encrypted` and what that open sees.
   */
  pin: RepoPin.optional(),
});
export type StoredRepository = z.infer<typeof StoredRepository>;

export const RepositoriesFile = z.object({ version: z.literal(1), repositories: z.array(StoredRepository) });
export type RepositoriesFile = z.infer<typeof RepositoriesFile>;

type Facts = Awaited<ReturnType<RepositoryHandle['info']>>;

export interface RepoRegistryOptions {
  file: JsonFile<typeof RepositoriesFile>;
  engine: Engine;
  log: SourceLogger;
  /** Where passphrases the user asked to remember are stored. */
  keys: RememberedKeys;
  /** Logins and pinned host keys of remote repositories (root-only, like the passphrases). */
  remotes?: RemoteCredentials;
  /** Whether a repository may be removed (not used by a job); throws CONFLICT otherwise. */
  checkRemovable?: (id: string) => void;
}

export class RepoRegistry {
  private repos: StoredRepository[] = [];
  private readonly passphrases = new Map<string, string>();
  /** Repositories with a stored passphrase (the file exists, usable or not). */
  private readonly remembered = new Set<string>();
  /**
   * Why a stored passphrase cannot be used (damaged file, or it no longer
   * opens the repository): the message every open says until the next unlock.
   */
  private readonly staleKeys = new Map<string, string>();
  /** Facts from the last time each repository was opened (size, format). */
  private readonly facts = new Map<string, Facts>();

  constructor(private readonly options: RepoRegistryOptions) {}

  async load(): Promise<void> {
    this.repos = (await this.options.file.load({ version: 1, repositories: [] })).repositories;
    // Loaded now, checked on first use: the repository's disk may well be
    // unplugged at start, and Argon2id is not worth paying for nothing.
    for (const repo of this.repos) {
      if (!repo.encrypted) continue;
      const key = await this.options.keys.read(repo.id);
      if (key.kind === 'none') continue;
      this.remembered.add(repo.id);
      if (key.kind === 'key') {
        this.passphrases.set(repo.id, key.passphrase);
      } else {
        const message = `the passphrase remembered for ${repo.name} cannot be used: ${key.problem}; unlock it again`;
        this.staleKeys.set(repo.id, message);
        this.options.log.warn(message);
      }
    }
  }

  get(id: string): StoredRepository {
    const repo = this.repos.find((r) => r.id === id);
    if (!repo) throw new AppError('NOT_FOUND', `no repository ${id}`, { repositoryId: id });
    return repo;
  }

  has(id: string): boolean {
    return this.repos.some((r) => r.id === id);
  }

  async list(): Promise<Repository[]> {
    return Promise.all(this.repos.map((r) => this.describe(r)));
  }

  async describe(repo: StoredRepository): Promise<Repository> {
    const online = await reachable(repo.path);
    const facts = this.facts.get(repo.id);
    const out: Repository = {
      id: repo.id,
      name: repo.name,
      path: repo.path,
      encrypted: repo.encrypted,
      unlocked: !repo.encrypted || this.passphrases.has(repo.id),
      remembered: repo.encrypted && this.remembered.has(repo.id),
      online,
    };
    const hostKey = isRemoteLocation(repo.path) ? (await this.loginOf(repo.path))?.hostKey : undefined;
    if (hostKey !== undefined) out.hostKey = hostKey;
    if (facts?.formatVersion !== undefined) out.formatVersion = facts.formatVersion;
    // The role this computer last opened it with (its pin), not one an owner operation used.
    if (repo.pin?.role !== undefined) out.role = repo.pin.role;
    if (repo.pin?.publicKey !== undefined) out.publicKey = repo.pin.publicKey;
    if (facts?.chunkSize !== undefined) out.chunkSize = facts.chunkSize;
    if (facts?.algorithms !== undefined) out.algorithms = facts.algorithms;
    if (facts?.storedBytes !== undefined) out.storedBytes = facts.storedBytes;
    if (online) {
      const free = await freeBytes(repo.path);
      if (free !== undefined) out.freeBytes = free;
    }
    return out;
  }

  /**
   * A connection test with the login given, never one kept here: it is what
   * the user is about to save, and a member must not test with root's.
   */
  async probe(path: string, remote: RemoteAccessFields): Promise<RemoteProbe> {
    if (!isRemoteLocation(path)) throw new AppError('INVALID_ARGUMENT', `${path} is a folder on this computer: only a server's location is tested`, { path });
    if (!this.options.engine.probeRemote) throw new AppError('INTERNAL', 'this engine cannot test a connection');
    return this.options.engine.probeRemote(path, remote);
  }

  /**
   * Changes the login kept for a registered remote repository: a new
   * password or key, new S3 keys, or the server's renewed host key. What is
   * given replaces those fields of the kept login. It is kept only once a
   * connection with it reaches this repository's config; the host key kept
   * changes only when one is given (a key the server shows is never
   * accepted silently: with none given, a changed one is refused as before).
   */
  async updateLogin(id: string, given: RemoteAccessFields): Promise<Repository> {
    const repo = this.get(id);
    if (!isRemoteLocation(repo.path)) throw new AppError('INVALID_ARGUMENT', `repository ${repo.name} is a folder on this computer: it has no server login`, { repositoryId: id });
    const kept = (await this.loginOf(repo.path)) ?? {};
    // A new password or key replaces the kept way of logging in whole (a
    // stale key beside a new password would be tried first).
    if (given.password !== undefined || given.privateKey !== undefined) {
      delete kept.password;
      delete kept.privateKey;
      delete kept.keyPassphrase;
    }
    const login = { ...kept, ...given };
    const found = await this.probe(repo.path, login);
    if (found.repository !== 'found')
      throw new AppError('REPO_NOT_FOUND', `no Snapkeep repository at ${repo.path} with this login: nothing changed`, { repositoryId: id, path: repo.path });
    await this.storeLogin(repo.path, login, found.hostKey);
    if (given.hostKey !== undefined) this.options.log.warn(`host key of ${repo.path} changed to ${given.hostKey} by the user`);
    this.options.log.info(`the login kept for ${repo.name} (${repo.path}) was changed`);
    return this.describe(repo);
  }

  /** Registers an existing repository; an encrypted one stays locked until unlocked. */
  async add(name: string, path: string, remote?: RemoteAccessFields): Promise<Repository> {
    this.refuseDuplicate(path);
    const login = await this.loginOf(path, remote);
    // The config as found now is what later opens are held to.
    let pin = await this.options.engine.readPin(path, login);
    const encrypted = pin.encryption !== 'none';
    let handle: RepositoryHandle | null = null;
    if (!encrypted) {
      handle = await this.options.engine.open({ path, pin, ...(login && { remote: login }) });
      pin = handle.pin;
    }
    if (login) await this.storeLogin(path, login, handle?.hostKey ?? (await this.options.engine.probeRemote?.(path, login))?.hostKey);
    const repo = await this.register(name, path, encrypted, pin);
    if (handle) await this.remember(repo.id, handle);
    return this.describe(repo);
  }

  /**
   * Creates a repository; with a passphrase it is encrypted and starts
   * unlocked, and `remember` stores the passphrase on this computer.
   */
  async init(
    name: string,
    path: string,
    passphrase?: string,
    chunkSize?: number,
    remember = false,
    remote?: RemoteAccessFields,
    appendOnly?: AppendOnlyInit,
  ): Promise<Repository> {
    if (remember && passphrase === undefined) throw new AppError('INVALID_ARGUMENT', 'only a passphrase can be remembered: this repository would not be encrypted');
    this.refuseDuplicate(path);
    if (appendOnly) {
      if (passphrase === undefined) throw new AppError('INVALID_ARGUMENT', 'an append-only repository needs the owner passphrase');
      return this.initAppendOnly(name, path, passphrase, appendOnly, chunkSize, remember, remote);
    }
    const login = await this.loginOf(path, remote);
    const handle = await this.options.engine.init({
      path,
      ...(passphrase !== undefined && { passphrase }),
      ...(chunkSize !== undefined && { chunkSize }),
      ...(login && { remote: login }),
    });
    if (login) await this.storeLogin(path, login, handle.hostKey);
    const repo = await this.register(name, path, passphrase !== undefined, handle.pin);
    if (passphrase !== undefined) this.passphrases.set(repo.id, passphrase);
    await this.remember(repo.id, handle);
    if (passphrase !== undefined && remember) await this.storeKey(repo, passphrase);
    return this.describe(repo);
  }

  /**
   * Creates an append-only repository (format 3) with the owner's login and
   * passphrase, which are not kept, then opens it as this computer will: with
   * the backup login and the client passphrase, so both are known to work
   * before they are kept. The entry is the client's.
   */
  private async initAppendOnly(
    name: string,
    path: string,
    ownerPassphrase: string,
    appendOnly: AppendOnlyInit,
    chunkSize: number | undefined,
    remember: boolean,
    remote: RemoteAccessFields | undefined,
  ): Promise<Repository> {
    const ownerPath = appendOnly.owner?.path ?? path;
    const login = await this.loginOf(path, remote);
    let ownerLogin: RemoteLogin | undefined;
    if (isRemoteLocation(ownerPath)) {
      const given = appendOnly.owner?.remote ?? {};
      // The same server: a host key the user trusted for the backup login holds for the owner's.
      const hostKey = given.hostKey ?? login?.hostKey;
      ownerLogin = { ...given, ...(hostKey !== undefined && { hostKey }) };
    }
    const owner = await this.options.engine.init({
      path: ownerPath,
      passphrase: ownerPassphrase,
      appendOnly: { clientPassphrase: appendOnly.clientPassphrase },
      ...(chunkSize !== undefined && { chunkSize }),
      // SFTP: the engine makes the owner's files shared with the backup account's group (format 3).
      ...(ownerLogin && { remote: ownerLogin }),
    });
    // Held to what the owner made: the backup login must reach this repository, not another.
    const pin: RepoPin = { ...owner.pin, role: 'client' };
    await owner.close();
    let handle: RepositoryHandle;
    try {
      handle = await this.options.engine.open({ path, pin, passphrase: appendOnly.clientPassphrase, ...(login && { remote: login }) });
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new AppError(
        isAppError(e) ? e.code : 'INTERNAL',
        `the append-only repository was created at ${ownerPath}, but the backup login could not open it at ${path} (${why}); nothing was kept on this computer: add it as an existing repository with the backup login and passphrase`,
        { path, ownerPath },
      );
    }
    if (handle.role !== 'client') {
      await handle.close();
      throw new AppError('INTERNAL', `the backup passphrase opened ${path} as ${handle.role}, not as an append-only client`, { path });
    }
    if (login) await this.storeLogin(path, login, handle.hostKey);
    const repo = await this.register(name, path, true, handle.pin);
    this.passphrases.set(repo.id, appendOnly.clientPassphrase);
    await this.remember(repo.id, handle);
    if (remember) await this.storeKey(repo, appendOnly.clientPassphrase);
    this.options.log.info(`repository ${name} is append-only: this computer holds the backup (client) key only`);
    return this.describe(repo);
  }

  /**
   * Holds the passphrase once the engine accepted it. With `remember` it is
   * also stored on this computer; without, one stored earlier is deleted:
   * the latest unlock says how the key is kept.
   */
  async unlock(id: string, passphrase: string, remember = false): Promise<Repository> {
    const repo = this.get(id);
    await this.ensureOnline(repo);
    // WRONG_PASSPHRASE comes from the engine, which checks the key; nothing
    // below runs for a wrong one, so it is never stored.
    const login = await this.loginOf(repo.path);
    const handle = await this.options.engine
      .open({ path: repo.path, passphrase, pin: this.pinOf(repo), ...(login && { remote: login }) })
      .catch((e: unknown) => Promise.reject(this.keyChanged(repo, e)));
    // A backup client keeps the backup passphrase only: the owner's, once
    // held here, would be as open to malware as the computer (design §2.1).
    if (repo.pin?.role === 'client' && handle.role === 'owner') {
      await handle.close();
      throw new AppError(
        'INVALID_ARGUMENT',
        `that is the owner passphrase of ${repo.name}: this computer holds it as an append-only client and keeps only the backup passphrase; unlock it with that one (restores and clean-ups ask for the owner passphrase each time)`,
        { repositoryId: id },
      );
    }
    await this.updatePin(repo, handle);
    this.passphrases.set(id, passphrase);
    this.staleKeys.delete(id);
    await this.remember(id, handle);
    this.options.log.info(`repository ${repo.name} unlocked`);
    if (remember) await this.storeKey(repo, passphrase);
    else await this.forgetKey(repo);
    return this.describe(repo);
  }

  /** Forgets the passphrase, in memory and on disk: locked means "do not keep this open". */
  async lock(id: string): Promise<Repository> {
    const repo = this.get(id);
    this.passphrases.delete(id);
    await this.forgetKey(repo);
    return this.describe(repo);
  }

  async remove(id: string): Promise<void> {
    const repo = this.get(id);
    this.options.checkRemovable?.(id);
    this.repos = this.repos.filter((r) => r.id !== id);
    this.passphrases.delete(id);
    this.facts.delete(id);
    await this.save();
    await this.forgetKey(repo);
    if (isRemoteLocation(repo.path)) await this.options.remotes?.forget(repo.path);
    this.options.log.info(`repository ${repo.name} (${repo.path}) forgotten; its files stay`);
  }

  /**
   * Opens a repository for one operation. Fails fast and clearly when the
   * path is gone (unplugged disk) or the key is not held.
   */
  async open(id: string, owner?: OwnerAccess): Promise<RepositoryHandle> {
    const repo = this.get(id);
    await this.ensureOnline(repo);
    if (owner) return this.openAsOwner(repo, owner);
    const passphrase = this.passphrases.get(id);
    if (repo.encrypted && passphrase === undefined)
      throw new AppError('PASSPHRASE_REQUIRED', this.staleKeys.get(id) ?? `repository ${repo.name} is encrypted and locked: unlock it first`, { repositoryId: id });
    try {
      const login = await this.loginOf(repo.path);
      const handle = await this.options.engine.open({ path: repo.path, pin: this.pinOf(repo), ...(passphrase !== undefined && { passphrase }), ...(login && { remote: login }) });
      await this.updatePin(repo, handle);
      return handle;
    } catch (e) {
      if (isAppError(e) && e.code === 'REPO_CONFIG_CHANGED') {
        this.options.log.error(`repository ${repo.name} (${repo.path}): ${e.message}`);
        throw this.keyChanged(repo, e);
      }
      // A remembered passphrase is only checked here, on first use after a
      // restart: a refusal means the passphrase changed (or another
      // repository now sits at the path). The file stays, in case the old
      // disk comes back; the repository counts as locked until unlocked.
      if (!(isAppError(e) && e.code === 'WRONG_PASSPHRASE' && this.remembered.has(id))) throw e;
      const message = `the passphrase remembered for ${repo.name} no longer opens it; unlock it again`;
      this.passphrases.delete(id);
      this.staleKeys.set(id, message);
      this.options.log.warn(message);
      throw new AppError('PASSPHRASE_REQUIRED', message, { repositoryId: id, keyFile: this.options.keys.fileOf(id) });
    }
  }

  /**
   * Opens an append-only client's repository with the owner passphrase and
   * login given for one operation: neither is kept, and the entry's pin
   * (its role: client) stays as it was.
   */
  private async openAsOwner(repo: StoredRepository, owner: OwnerAccess): Promise<RepositoryHandle> {
    if (repo.pin?.role !== 'client')
      throw new AppError('INVALID_ARGUMENT', `repository ${repo.name} is not held here as an append-only client: it needs no owner passphrase`, { repositoryId: repo.id });
    // The rules repos.init applies, for every operation: the owner's
    // location is the repository's server (or folder), so a caller cannot
    // have this process open another place with the owner's request.
    const problem = ownerLoginProblems(repo.path, owner)[0];
    if (problem) throw new AppError('INVALID_ARGUMENT', `${problem.message} (repository ${repo.name} is at ${repo.path})`, { repositoryId: repo.id, field: `owner.${problem.path.join('.')}` });
    const path = owner.path ?? repo.path;
    let remote: RemoteLogin | undefined;
    if (isRemoteLocation(path)) {
      // The same server: the host key pinned for the backup login holds for the owner's, and S3's region.
      const kept = await this.loginOf(repo.path);
      const hostKey = owner.remote?.hostKey ?? kept?.hostKey;
      const region = owner.remote?.region ?? kept?.region;
      remote = { ...owner.remote, ...(hostKey !== undefined && { hostKey }), ...(region !== undefined && { region }) };
    }
    const handle = await this.options.engine
      .open({ path, passphrase: owner.passphrase, pin: { ...this.pinOf(repo), role: 'owner' }, ...(remote && { remote }) })
      .catch((e: unknown) => Promise.reject(this.keyChanged(repo, e)));
    if (handle.role !== 'owner') {
      await handle.close();
      throw new AppError('OWNER_KEY_REQUIRED', `the passphrase given opens ${repo.name} as a backup client only: this needs the owner passphrase`, { repositoryId: repo.id });
    }
    this.options.log.info(`repository ${repo.name} opened with the owner's key for one operation`);
    return handle;
  }

  /**
   * A new owner or backup passphrase of an append-only repository, with the
   * owner's key given for it (the engine seals that key object again; the
   * keys stay). When it is the passphrase this computer keeps (the backup
   * one for a client, the owner one for an owner), the new one takes the
   * old one's place here, held and remembered as it was, so this computer's
   * backups go on.
   */
  async changePassphrase(id: string, role: RepositoryRole, newPassphrase: string, owner: OwnerAccess): Promise<Repository> {
    const repo = this.get(id);
    await this.withOwnerKey(repo, owner, (h) => h.changePassphrase({ role, newPassphrase }));
    const which = role === 'owner' ? 'owner' : 'backup';
    this.options.log.info(`the ${which} passphrase of repository ${repo.name} was changed`);
    if (role === repo.pin?.role) await this.keepInstead(repo, newPassphrase, `the ${which} passphrase of ${repo.name} was changed`);
    return this.describe(repo);
  }

  /**
   * A new key pair of an append-only repository (engine key-rotate.ts), with
   * the owner's key given for it. This computer's pin then names the new
   * public key, so its own backups go on (other computers are refused until
   * the repository is added there again); the passphrase it keeps follows
   * when the rotation sealed its key object under another one.
   */
  async rotateKeyPair(id: string, owner: OwnerAccess, clientPassphrase: string, newOwnerPassphrase?: string): Promise<KeyRotationResult> {
    const repo = this.get(id);
    const r = await this.withOwnerKey(repo, owner, (h) =>
      h.rotateKeyPair({ ownerPassphrase: owner.passphrase, clientPassphrase, ...(newOwnerPassphrase !== undefined && { newOwnerPassphrase }) }),
    );
    this.options.log.warn(`the key pair of repository ${repo.name} was rotated: public key ${r.publicKey} (was ${r.previousPublicKey}); other computers that back up there must add it again`);
    // The key check (of the id key) stays: a rotation changes the pair only.
    repo.pin = { ...this.pinOf(repo), publicKey: r.publicKey };
    await this.save();
    const what = `the key pair of ${repo.name} was rotated`;
    if (repo.pin.role === 'client') await this.keepInstead(repo, clientPassphrase, what);
    else if (newOwnerPassphrase !== undefined) await this.keepInstead(repo, newOwnerPassphrase, what);
    return {
      repository: await this.describe(repo),
      publicKey: r.publicKey,
      previousPublicKey: r.previousPublicKey,
      retiredKeys: r.retiredKeys,
      finished: r.finished,
      clientPassphraseChanged: r.clientPassphraseChanged,
      ownerPassphraseChanged: r.ownerPassphraseChanged,
    };
  }

  /**
   * Runs an owner operation on an append-only repository with the owner's
   * key given for it: an owner's entry is opened with that passphrase and
   * its kept login (which is the owner's), a client's as openAsOwner does.
   */
  private async withOwnerKey<T>(repo: StoredRepository, owner: OwnerAccess, fn: (h: RepositoryHandle) => Promise<T>): Promise<T> {
    if (repo.pin?.role !== 'owner') return this.with(repo.id, fn, owner);
    if (owner.path !== undefined || owner.remote !== undefined)
      throw new AppError('INVALID_ARGUMENT', `this computer holds ${repo.name} with the owner's key and login: give the owner passphrase only`, { repositoryId: repo.id });
    await this.ensureOnline(repo);
    const login = await this.loginOf(repo.path);
    const handle = await this.options.engine
      .open({ path: repo.path, passphrase: owner.passphrase, pin: this.pinOf(repo), ...(login && { remote: login }) })
      .catch((e: unknown) => Promise.reject(this.keyChanged(repo, e)));
    try {
      if (handle.role !== 'owner')
        throw new AppError('OWNER_KEY_REQUIRED', `the passphrase given opens ${repo.name} as a backup client only: this needs the owner passphrase`, { repositoryId: repo.id });
      return await fn(handle);
    } finally {
      await this.remember(repo.id, handle).catch(() => undefined);
    }
  }

  /** The passphrase this computer keeps for `repo`, replaced by `passphrase` where the old one was held or remembered. */
  private async keepInstead(repo: StoredRepository, passphrase: string, what: string): Promise<void> {
    const remembered = this.remembered.has(repo.id);
    if (remembered || this.passphrases.has(repo.id)) this.passphrases.set(repo.id, passphrase);
    if (remembered)
      await this.storeKey(repo, passphrase).catch((e: unknown) => {
        throw new AppError('IO_ERROR', `${what}, but the new passphrase could not be remembered on this computer (${e instanceof Error ? e.message : String(e)}): unlock it again with the new one`, {
          repositoryId: repo.id,
        });
      });
  }

  /**
   * Runs `fn` with an open repository and closes it afterwards; refreshes the
   * cached facts. `owner`: an append-only client's repository opened with the
   * owner's passphrase and login (not kept).
   */
  async with<T>(id: string, fn: (h: RepositoryHandle) => Promise<T>, owner?: OwnerAccess): Promise<T> {
    const handle = await this.open(id, owner);
    try {
      return await fn(handle);
    } finally {
      await this.remember(id, handle).catch(() => undefined);
    }
  }

  private async remember(id: string, handle: RepositoryHandle): Promise<void> {
    try {
      this.facts.set(id, await handle.info());
    } finally {
      await handle.close();
    }
  }

  private async storeKey(repo: StoredRepository, passphrase: string): Promise<void> {
    const file = this.options.keys.fileOf(repo.id);
    try {
      await this.options.keys.store(repo.id, passphrase);
    } catch (e) {
      // The repository stays unlocked in memory; the user learns that it
      // will not survive a restart.
      const reason = (e as NodeJS.ErrnoException).code ?? (e instanceof Error ? e.message : String(e));
      throw new AppError('IO_ERROR', `repository ${repo.name} is unlocked, but its passphrase could not be stored in ${file} (${reason})`, {
        repositoryId: repo.id,
        path: file,
      });
    }
    this.remembered.add(repo.id);
    this.staleKeys.delete(repo.id);
    this.options.log.info(`passphrase of repository ${repo.name} remembered in ${file} for scheduled runs`);
  }

  private async forgetKey(repo: StoredRepository): Promise<void> {
    const had = this.remembered.delete(repo.id);
    this.staleKeys.delete(repo.id);
    await this.options.keys.forget(repo.id);
    if (had) this.options.log.info(`remembered passphrase of repository ${repo.name} deleted`);
  }

  /**
   * A remote repository's login: the one stored on this computer, with
   * what the caller gives now on top (a new password, a host key the user
   * accepted). Undefined for local paths.
   */
  private async loginOf(path: string, given?: RemoteAccessFields): Promise<RemoteLogin | undefined> {
    if (!isRemoteLocation(path)) return undefined;
    const stored = this.options.remotes ? await this.options.remotes.read(path) : { kind: 'none' as const };
    if (stored.kind === 'unusable') this.options.log.warn(`the login stored for ${path} cannot be used: ${stored.problem}`);
    return { ...(stored.kind === 'login' ? stored.login : {}), ...given };
  }

  /** Keeps the login and pins the host key seen at first use. */
  private async storeLogin(path: string, login: RemoteLogin, hostKey: string | undefined): Promise<void> {
    if (!this.options.remotes) return;
    await this.options.remotes.store(path, { ...login, ...(hostKey !== undefined && { hostKey }) });
    if (hostKey !== undefined && login.hostKey === undefined) this.options.log.info(`host key ${hostKey} of ${path} pinned at first use`);
  }

  private async ensureOnline(repo: StoredRepository): Promise<void> {
    // A server is reached by opening it: its errors say why not.
    if (isRemoteLocation(repo.path)) return;
    if (!(await reachable(repo.path)))
      throw new AppError('REPO_NOT_FOUND', `repository ${repo.name} is not reachable at ${repo.path} (disk unplugged or path removed?)`, {
        repositoryId: repo.id,
        path: repo.path,
      });
  }

  private refuseDuplicate(path: string): void {
    const same = this.repos.find((r) => r.path === path);
    if (same) throw new AppError('REPO_EXISTS', `${path} is already registered as "${same.name}"`, { repositoryId: same.id, path });
  }

  /**
   * A refusal for another public key than the pinned one (the owner rotated
   * the key pair, or the config was replaced) with its reason: the app's
   * words and the fingerprints to compare differ from a swapped config's.
   * Other errors as they are.
   */
  private keyChanged(repo: StoredRepository, e: unknown): unknown {
    if (!isAppError(e) || e.code !== 'REPO_CONFIG_CHANGED' || repo.pin?.publicKey === undefined) return e;
    if (e.details?.['pinned'] !== repo.pin.publicKey || typeof e.details['found'] !== 'string') return e;
    return new AppError('REPO_CONFIG_CHANGED', e.message, { ...e.details, reason: 'public-key-changed', repositoryId: repo.id });
  }

  /** The stored pin; entries from before pins existed are held at least to their encryption. */
  private pinOf(repo: StoredRepository): RepoPin {
    return repo.pin ?? { encryption: repo.encrypted ? 'xchacha20poly1305' : 'none', encryptedOnly: true };
  }

  /** Stores what an open learned (a first pin, the key fingerprint, a newer version); saves only on change. */
  private async updatePin(repo: StoredRepository, handle: RepositoryHandle): Promise<void> {
    if (JSON.stringify(repo.pin) === JSON.stringify(handle.pin)) return;
    repo.pin = handle.pin;
    await this.save();
  }

  private async register(name: string, path: string, encrypted: boolean, pin: RepoPin): Promise<StoredRepository> {
    const repo: StoredRepository = { id: newId('r'), name, path, encrypted, addedAt: new Date().toISOString(), pin };
    this.repos.push(repo);
    await this.save();
    this.options.log.info(`repository ${name} registered at ${path}${encrypted ? ' (encrypted)' : ''}`);
    return repo;
  }

  private save(): Promise<void> {
    return this.options.file.save({ version: 1, repositories: this.repos });
  }
}

async function reachable(p: string): Promise<boolean> {
  // Not probed on every listing: opening says whether the server answers.
  if (isRemoteLocation(p)) return true;
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function freeBytes(p: string): Promise<number | undefined> {
  if (isRemoteLocation(p)) return undefined;
  try {
    const s = await fs.statfs(p);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}
