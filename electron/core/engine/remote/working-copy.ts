// The local working copy of a remote repository (docs/remote-repositories.md).
//
// The native engine reads and writes a repository directory. For a remote
// repository that directory is a working copy on this machine, in the
// repository format, holding:
//   index/, lists/   copies of the remote files, by name (names are ids of
//                    immutable content: a copy is never stale, only gone);
//   points/          copies of manifests read (the same reason; one that
//                    does not open is dropped: manifest.ts);
//   packs/           the spool (packs a backup sealed, until uploaded) and
//                    the read cache (packs a restore or verify fetched,
//                    whole, or "hollow": the right size with only the
//                    header and trailer, for reading trailers);
//   spool-journal    ids of packs uploaded by a backup that did not
//                    finish: the next backup indexes them from their
//                    trailers instead of uploading their chunks again;
//                    and the names of index files being published, whose
//                    size on the store the next backup checks first.
//   hollow/          hollow copies of the packs in the journal (header
//                    and trailer), until it is cleared: the resume reads
//                    trailers from them, as an append-only client on S3
//                    may not read packs back.
//   working-copy.lock  its lock (working-copy-lock.ts): the operations
//                    that touch packs/, the journal or index/ run one
//                    after another, across the machine's processes.
// The remote store holds the truth; the working copy can be deleted at any
// time (everything in it is fetched again, a spool not yet uploaded is
// lost and read again from the source by the next backup).
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, constants as fsc } from 'node:fs';
import * as path from 'node:path';

import { AppError } from '../../../common/contract';
import { rel } from '../format';
import { LocalStorage } from '../storage/local';
import type { RepoStorage } from '../storage/storage';

export const PACK_ID = /^[0-9a-f]{32}$/;
const INDEX_NAME = /^[0-9a-f]{32}$/;
const LIST_ID = /^[0-9a-f]{64}$/;

/** Bytes of an index file (native index_file.h) and of a list root (chunk_list.cc). */
const MAX_INDEX_BYTES = 4 * 1024 * 1024 * 1024 - 1;
const MAX_ROOT_BYTES = 256 * 1024 * 1024;
/** Pack framing (docs/repository-format.md, "Pack files"). */
/** The smallest pack header (version 1); version 2 (format 3) has 96 bytes, which a hollow copy reads whole. */
const PACK_HEADER = 8;
const PACK_HEADER_READ = 96;
const PACK_FOOTER = 8;
const MAX_TRAILER = 64 * 1024 * 1024;
/** A pack may be at most the config's largest pack size plus one blob. */
const MAX_PACK_BYTES = 2 * 1024 * 1024 * 1024;

/** The folder of hollow copies of journaled packs. */
const HOLLOW = 'hollow';

/** A journal line naming an index file being published (pack lines are bare ids, which older versions read alone). */
const JOURNAL_INDEX = 'index ';

/** Downloads at once (each a whole object); uploads of packs at once. */
export const PARALLEL_FETCHES = 4;

export async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed: unknown;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++] as T;
      try {
        await fn(item);
      } catch (e) {
        failed ??= e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}

/** The working copy's directory for a location under the cache root. */
export function workingCopyDir(cacheRoot: string, location: string): string {
  return path.join(cacheRoot, 'remote', createHash('sha256').update(location).digest('hex').slice(0, 32));
}

export class WorkingCopy {
  readonly local: LocalStorage;
  /**
   * An append-only client's: uploads add objects and never replace one
   * (storage/append-only.ts). A name already taken is a retry of an upload
   * that had worked (same size: done) or, for list objects, the same
   * content (content-addressed names).
   */
  appendOnly = false;
  /** Index files whose copy was dropped here as not on the store whole, until the engine forgets them (takeDroppedIndexes). */
  private readonly droppedIndexes = new Set<string>();
  /** List objects known to be on the remote store (fetched, or published by us). */
  private readonly remoteLists = new Set<string>();

  private constructor(
    readonly dir: string,
    readonly remote: RepoStorage,
  ) {
    this.local = new LocalStorage(dir);
  }

  static async open(dir: string, remote: RepoStorage): Promise<WorkingCopy> {
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const st = await fs.lstat(dir);
    if (!st.isDirectory() || (process.getuid && st.uid !== process.getuid()))
      throw new AppError('PERMISSION_DENIED', `the working copy ${dir} is not a directory of this user`, { path: dir });
    await fs.chmod(dir, 0o700);
    const wc = new WorkingCopy(dir, remote);
    for (const d of [rel.points, rel.lists, rel.index, rel.packs, rel.tmp]) await wc.local.mkdir(d);
    return wc;
  }

  /**
   * index/ as on the remote store: missing files fetched, and with `remove`
   * files the store no longer has removed (only under the working copy's
   * lock: an index file written here and not yet published is one of them).
   */
  async syncIndex(opts: { remove: boolean }): Promise<void> {
    const remote = (await this.remote.list(rel.index)).filter((e) => e.type === 'file' && INDEX_NAME.test(e.name)).map((e) => e.name);
    const local = (await this.local.list(rel.index)).filter((e) => e.type === 'file' && INDEX_NAME.test(e.name)).map((e) => e.name);
    const have = new Set(local);
    const want = new Set(remote);
    await mapLimit(
      remote.filter((n) => !have.has(n)),
      PARALLEL_FETCHES,
      async (n) => this.local.save(rel.indexFile(n), await this.remote.load(rel.indexFile(n), { maxBytes: MAX_INDEX_BYTES })),
    );
    if (opts.remove) await this.local.remove(local.filter((n) => !want.has(n)).map((n) => rel.indexFile(n)));
  }

  /** Copies list objects (segments, roots) the working copy lacks; a missing one is left missing (the engine names it). */
  async fetchLists(ids: readonly string[]): Promise<void> {
    const todo: string[] = [];
    for (const id of new Set(ids)) {
      if (!LIST_ID.test(id)) continue;
      if (await this.local.stat(rel.segment(id))) {
        this.remoteLists.add(id);
        continue;
      }
      todo.push(id);
    }
    await mapLimit(todo, PARALLEL_FETCHES * 2, async (id) => {
      let data: Buffer;
      try {
        data = await this.remote.load(rel.segment(id), { maxBytes: MAX_ROOT_BYTES });
      } catch (e) {
        if (e instanceof AppError && e.details?.['errnoName'] === 'ENOENT') return;
        throw e;
      }
      await this.local.save(rel.segment(id), data);
      this.remoteLists.add(id);
    });
  }

  /**
   * Publishes list objects written here that the remote store may lack
   * (content-addressed: saving again is harmless). An append-only client,
   * which may not replace one, meeting a name taken accepts the object
   * there only when `isList` says it is the list of that name (its envelope
   * opens and its content hashes to the name: another computer's copy of
   * the same list is as good as ours); a short or foreign one fails the
   * backup, naming it.
   */
  async publishLists(ids: readonly string[], isList: (id: string, data: Buffer) => boolean): Promise<void> {
    const todo = [...new Set(ids)].filter((id) => LIST_ID.test(id) && !this.remoteLists.has(id));
    await mapLimit(todo, PARALLEL_FETCHES * 2, async (id) => {
      const data = await this.local.load(rel.segment(id), { maxBytes: MAX_ROOT_BYTES }).catch((e: unknown) => {
        if (e instanceof AppError && e.details?.['errnoName'] === 'ENOENT') return undefined;
        throw e;
      });
      if (data === undefined) return; // not written here: the remote store had it
      await this.upload(rel.segment(id), data, (there) => isList(id, there));
      this.remoteLists.add(id);
    });
  }

  /**
   * Uploads an index file written here, then checks the store's size of it:
   * the index sync compares names only, so a short object under the name
   * (an append-only client's cut SFTP create, which it may not replace; a
   * server that kept another object) would leave this whole copy standing
   * in for it, and the journal of the packs it names would be cleared. The
   * name is journaled first, so a process killed during the upload is
   * checked the same way by the next backup (checkJournaledIndexes). On a
   * mismatch the copy is dropped and the packs stay in the journal: the
   * next backup indexes them under a new name.
   */
  async publishIndex(name: string): Promise<void> {
    const file = rel.indexFile(name);
    const data = await this.local.load(file, { maxBytes: MAX_INDEX_BYTES });
    await this.journalLine(`${JOURNAL_INDEX}${name}`);
    await this.upload(file, data);
    const st = await this.remote.stat(file);
    if (st?.size === data.length) return;
    await this.local.remove([file]);
    this.droppedIndexes.add(name);
    throw new AppError(
      'IO_ERROR',
      `${this.remote.location}/${file} has ${st?.size ?? 'no'} bytes where ${data.length} were uploaded (the upload was cut short, or the server kept another object); the backup is not finished, and the next one indexes its packs again under a new name`,
      { path: `${this.remote.location}/${file}`, reason: 'short-object', size: st?.size ?? null, expected: data.length },
    );
  }

  /**
   * Index files journaled by publishIndex whose object on the store is not
   * the size of the copy here (short, or missing) lose that copy, so the
   * packs they name count as unindexed. Before the journal is read.
   */
  async checkJournaledIndexes(): Promise<string[]> {
    const dropped: string[] = [];
    for (const name of await this.journaledIndexes()) {
      const file = rel.indexFile(name);
      const mine = await this.local.stat(file);
      if (!mine) continue;
      const there = await this.remote.stat(file);
      if (there?.size === mine.size) continue;
      await this.local.remove([file]);
      this.droppedIndexes.add(name);
      dropped.push(name);
    }
    return dropped;
  }

  /** The names dropped since the last call (see droppedIndexes). */
  takeDroppedIndexes(): string[] {
    const names = [...this.droppedIndexes];
    this.droppedIndexes.clear();
    return names;
  }

  /**
   * Saves an object; an append-only client's never replaces one (see
   * appendOnly). `ours` judges an object found under a content-addressed
   * name (list objects) by its content instead of its size.
   */
  private async upload(name: string, data: Buffer, ours?: (there: Buffer) => boolean): Promise<void> {
    if (!this.appendOnly) return this.remote.save(name, data);
    if ((await this.remote.create(name, data)) === 'created') return;
    if (ours) return this.checkExisting(name, ours);
    // Taken: packs and index files have random names and lists are named by
    // their content, so an object of the same size is a retry of an upload
    // that had worked. Anything else (a short object a cut SFTP upload left)
    // this computer may not replace.
    const st = await this.remote.stat(name);
    if (st?.size === data.length) return;
    throw new AppError('IO_ERROR', `${this.remote.location}/${name} exists with ${st?.size ?? 'no'} bytes where ${data.length} were being uploaded, and this computer may only add to the repository`, {
      path: `${this.remote.location}/${name}`,
      reason: 'already-exists',
    });
  }

  private async checkExisting(name: string, ours: (there: Buffer) => boolean): Promise<void> {
    const where = `${this.remote.location}/${name}`;
    const there = await this.remote.load(name, { maxBytes: MAX_ROOT_BYTES });
    if (ours(there)) return;
    throw new AppError(
      'REPO_CORRUPT',
      `${where} exists on the store but is not the list object of that name (its ${there.length} bytes do not open as it: an upload that was cut, or an object written by someone else). This computer may only add to the repository, so a backup that writes this same list fails until the owner's prune removes the object once no restore point names it (the owner's verify names any that do)`,
      { path: where, reason: 'list-object-damaged', size: there.length },
    );
  }

  packPath(id: string): string {
    return path.join(this.dir, rel.pack(id));
  }

  /** Packs present in the working copy (spool or cache). */
  async localPacks(): Promise<string[]> {
    const out: string[] = [];
    for (const b of await this.local.list(rel.packs)) {
      if (b.type !== 'dir') continue;
      for (const f of await this.local.list(`${rel.packs}/${b.name}`)) if (f.type === 'file' && PACK_ID.test(f.name)) out.push(f.name);
    }
    return out;
  }

  /**
   * Fetches a pack into the cache: whole, or hollow (a sparse file of the
   * pack's size holding only its header and trailer, enough for reading
   * trailers). Returns false when the remote store does not have it.
   */
  async fetchPack(id: string, hollow: boolean): Promise<boolean> {
    if (!PACK_ID.test(id)) throw new AppError('INTERNAL', `not a pack id: ${id}`);
    const name = rel.pack(id);
    const st = await this.remote.stat(name);
    if (!st) return false;
    if (st.size > MAX_PACK_BYTES || st.size < PACK_HEADER + PACK_FOOTER)
      throw new AppError('REPO_CORRUPT', `pack ${id} on ${this.remote.location} has ${st.size} bytes, which no pack can have`, { pack: id, size: st.size });
    await this.local.mkdir(`${rel.packs}/${id.slice(0, 2)}`);
    // The copy kept at upload, when the store's object has its size (a short one is read from the store, and found bad there).
    if (hollow && (await this.useKept(id, st.size))) return true;
    if (!hollow) {
      await this.local.save(name, await this.remote.load(name, { maxBytes: MAX_PACK_BYTES }));
      return true;
    }
    const footer = await this.remote.load(name, { maxBytes: PACK_FOOTER, offset: st.size - PACK_FOOTER, length: PACK_FOOTER });
    // Bounded before it sizes a read; the engine checks the rest.
    const trailerLen = Math.min(footer.readUInt32LE(0), MAX_TRAILER, st.size - PACK_HEADER - PACK_FOOTER);
    const tailLen = trailerLen + PACK_FOOTER;
    const headLen = Math.min(PACK_HEADER_READ, st.size - tailLen);
    const head = await this.remote.load(name, { maxBytes: headLen, offset: 0, length: headLen });
    const tail = await this.remote.load(name, { maxBytes: tailLen, offset: st.size - tailLen, length: tailLen });
    const tmp = path.join(this.dir, rel.tmp, `${id}.hollow`);
    const fh = await fs.open(tmp, fsc.O_CREAT | fsc.O_TRUNC | fsc.O_WRONLY | fsc.O_NOFOLLOW, 0o600);
    try {
      await fh.write(head, 0, head.length, 0);
      await fh.write(tail, 0, tail.length, st.size - tailLen);
      await fh.truncate(st.size);
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, this.packPath(id));
    return true;
  }

  /**
   * Gives a spooled pack a fresh id: what an append-only client does with a
   * pack whose upload was cut, since it may not replace the short object on
   * the store. A pack's bytes do not name its id, so the copy is the same
   * pack under another name; the short one stays an orphan the owner's
   * prune removes.
   */
  async renamePack(id: string): Promise<string> {
    if (!PACK_ID.test(id)) throw new AppError('INTERNAL', `not a pack id: ${id}`);
    const fresh = randomBytes(16).toString('hex');
    await this.local.mkdir(`${rel.packs}/${fresh.slice(0, 2)}`);
    await fs.rename(this.packPath(id), this.packPath(fresh));
    return fresh;
  }

  /** Removes packs from the working copy (cache or spool). */
  async dropPacks(ids: readonly string[]): Promise<void> {
    await this.local.remove(ids.filter((id) => PACK_ID.test(id)).map((id) => rel.pack(id)));
  }

  /**
   * Uploads a sealed pack of the spool and removes it here; a backup's goes
   * into the journal first, with a hollow copy kept for the resume.
   */
  async uploadPack(id: string, journal = true): Promise<number> {
    const data = await this.local.load(rel.pack(id), { maxBytes: MAX_PACK_BYTES });
    await this.upload(rel.pack(id), data);
    if (journal) {
      await this.keepHollow(id, data);
      await this.journalAdd(id);
    }
    await this.local.remove([rel.pack(id)]);
    return data.length;
  }

  /** A sparse file of the pack's size with its header and its trailer and footer (what fetchPack's hollow fetch reads), under hollow/. */
  private async keepHollow(id: string, data: Buffer): Promise<void> {
    if (data.length < PACK_HEADER + PACK_FOOTER) return;
    const trailerLen = Math.min(data.readUInt32LE(data.length - PACK_FOOTER), MAX_TRAILER, data.length - PACK_HEADER - PACK_FOOTER);
    const tailLen = trailerLen + PACK_FOOTER;
    const headLen = Math.min(PACK_HEADER_READ, data.length - tailLen);
    await fs.mkdir(path.join(this.dir, HOLLOW), { recursive: true, mode: 0o700 });
    const tmp = path.join(this.dir, rel.tmp, `${id}.kept`);
    const fh = await fs.open(tmp, fsc.O_CREAT | fsc.O_TRUNC | fsc.O_WRONLY | fsc.O_NOFOLLOW, 0o600);
    try {
      await fh.write(data, 0, headLen, 0);
      await fh.write(data, data.length - tailLen, tailLen, data.length - tailLen);
      await fh.truncate(data.length);
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, path.join(this.dir, HOLLOW, id));
  }

  /** Links the kept hollow copy of a pack into packs/ when there is one of `size` bytes. */
  private async useKept(id: string, size: number): Promise<boolean> {
    const kept = path.join(this.dir, HOLLOW, id);
    const st = await fs.lstat(kept).catch(() => undefined);
    if (!st?.isFile() || st.size !== size) return false;
    await fs.rm(this.packPath(id), { force: true });
    await fs.link(kept, this.packPath(id));
    return true;
  }

  private get journalFile(): string {
    return path.join(this.dir, 'spool-journal');
  }

  async journalAdd(id: string): Promise<void> {
    await this.journalLine(id);
  }

  private async journalLine(line: string): Promise<void> {
    const fh = await fs.open(this.journalFile, fsc.O_CREAT | fsc.O_APPEND | fsc.O_WRONLY | fsc.O_NOFOLLOW, 0o600);
    try {
      await fh.write(`${line}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
  }

  private async journalLines(): Promise<string[]> {
    let text: string;
    try {
      text = await fs.readFile(this.journalFile, { encoding: 'utf8', flag: fsc.O_RDONLY | fsc.O_NOFOLLOW });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return text.split('\n');
  }

  /** Packs uploaded by backups that did not finish (their index may be missing). */
  async journal(): Promise<string[]> {
    return [...new Set((await this.journalLines()).filter((l) => PACK_ID.test(l)))];
  }

  /** Index files whose upload began since the journal was last cleared. */
  async journaledIndexes(): Promise<string[]> {
    const names = (await this.journalLines()).filter((l) => l.startsWith(JOURNAL_INDEX)).map((l) => l.slice(JOURNAL_INDEX.length));
    return [...new Set(names.filter((n) => INDEX_NAME.test(n)))];
  }

  async clearJournal(): Promise<void> {
    await fs.rm(this.journalFile, { force: true });
    await fs.rm(path.join(this.dir, HOLLOW), { recursive: true, force: true });
  }
}
