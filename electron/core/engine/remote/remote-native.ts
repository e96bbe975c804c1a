// The native engine over a remote repository (docs/remote-repositories.md).
// The native engine works on the working copy (working-copy.ts) exactly as
// on a local repository; this wrapper moves files around each call:
//
// - before the index is loaded: index/ is made equal to the remote one;
// - before a list is opened: its root and segments are fetched;
// - a backup runs in spool mode: sealed packs are uploaded a few at a time
//   while it runs (and removed here; the pack stage waits while the spool
//   is full), then, in this order, the list objects, the index file and the
//   list root are published; the manifest comes last (backup.ts). Its
//   progress carries the uploads' rate and queue, and the packs still to
//   send after the reading are a phase of their own ("uploading"). Packs of
//   a backup that was killed are found in the spool or the journal by the
//   next backup and indexed from their trailers, not uploaded again;
// - restore, verify and compaction fetch the packs they read first, and
//   drop them after; what compaction and the index writers write is
//   published before the call returns;
// - every call that touches packs/, the journal or index/ of the working
//   copy holds its lock (working-copy-lock.ts), so operations of processes
//   of this machine on one repository run one after another.
import {
  type BackupDeviceRequest,
  type BackupDeviceResult,
  type CancelToken,
  type NativeList,
  type NativeMark,
  type NativeRepo,
  type RestoreDeviceRequest,
  EnvelopeType,
  createCancelToken,
} from '../../../../native/engine';
import { AppError, type Progress, type UploadProgress } from '../../../common/contract';
import { RateMeter } from '../../tasks/rate';
import { ID_BYTES, rel } from '../format';
import { toAppError } from '../errors';
import { PACK_ID, PARALLEL_FETCHES, type WorkingCopy, mapLimit } from './working-copy';
import { holderWords, lockWorkingCopy, tryLockWorkingCopy } from './working-copy-lock';

type ProgressCallback = Parameters<NativeRepo['backup']>[1];

/** Sealed packs waiting in the spool before the backup waits for uploads (16 MiB each). */
export const SPOOL_PACKS = 8;
/** Uploads at once. */
export const PARALLEL_UPLOADS = 3;
/** Packs the read cache keeps (16 MiB each): restore, verify --data, readers. */
export const READ_CACHE_PACKS = 8;
/** Packs a restore fetches ahead of the one the engine waits for. */
export const PREFETCH_PACKS = 3;

const ZERO_ID = '0'.repeat(64);

function hexIds(buf: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at + ID_BYTES <= buf.length; at += ID_BYTES) out.push(buf.subarray(at, at + ID_BYTES).toString('hex'));
  return out;
}

/**
 * Uploads what a running backup seals: polls the spool, uploads up to
 * PARALLEL_UPLOADS packs at once, removes each after it is saved (which
 * lets the waiting pack stage go on). The first failure (after the storage's
 * retries) cancels the backup and is its reason.
 */
class SpoolUploader {
  private readonly inFlight = new Set<string>();
  private readonly done = new Set<string>();
  private error: unknown;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private scanning = false;
  private readonly meter = new RateMeter();
  /** Sealed packs not yet on the store (waiting or being sent), as of the last look. */
  private queued = 0;
  uploaded = 0;
  bytesSent = 0;

  constructor(
    private readonly wc: WorkingCopy,
    private readonly onFail: () => void,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.scan(), 100);
  }

  get failure(): unknown {
    return this.error;
  }

  status(now = Date.now()): UploadProgress {
    return { bytesSent: this.bytesSent, bytesPerSecond: this.meter.sample(now, this.bytesSent), packsQueued: this.queued };
  }

  private sent(bytes: number): void {
    this.uploaded++;
    this.bytesSent += bytes;
    this.queued = Math.max(0, this.queued - 1);
  }

  private async scan(): Promise<void> {
    if (this.scanning || this.error !== undefined) return;
    this.scanning = true;
    try {
      const spooled = (await this.wc.localPacks()).filter((id) => !this.done.has(id));
      this.queued = spooled.length;
      for (const id of spooled) {
        if (this.inFlight.size >= PARALLEL_UPLOADS) break;
        if (this.inFlight.has(id)) continue;
        this.inFlight.add(id);
        const job = this.wc.uploadPack(id).then(
          (bytes) => {
            this.inFlight.delete(id);
            this.done.add(id);
            this.sent(bytes);
          },
          (e: unknown) => {
            this.inFlight.delete(id);
            if (this.error === undefined) {
              this.error = e;
              this.onFail();
            }
          },
        );
        this.running = Promise.all([this.running, job]).then(() => undefined);
      }
    } catch (e) {
      this.error ??= e;
      this.onFail();
    } finally {
      this.scanning = false;
    }
  }

  /**
   * Uploads everything left in the spool; throws the first failure. `report`
   * hears the "uploading" phase: the bytes of what was left when the reading
   * ended, sent so far (in flight then included).
   */
  async finish(report?: (p: Progress) => void): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.scanning) await new Promise((r) => setTimeout(r, 10));
    const sizes = new Map<string, number>();
    for (const id of (await this.wc.localPacks()).filter((i) => !this.done.has(i))) sizes.set(id, (await this.wc.local.stat(rel.pack(id)))?.size ?? 0);
    this.queued = sizes.size;
    const total = [...sizes.values()].reduce((a, b) => a + b, 0);
    const start = this.bytesSent;
    const tail = new RateMeter();
    const say = () => {
      if (!report || total === 0) return;
      const now = Date.now();
      const done = Math.min(total, this.bytesSent - start);
      const eta = tail.eta(done, total);
      report({ phase: 'uploading', bytesDone: done, bytesTotal: total, bytesPerSecond: tail.sample(now, done), ...(eta !== undefined && { etaSeconds: eta }), upload: this.status(now) });
    };
    say();
    const ticker = report ? setInterval(say, 1000) : undefined;
    try {
      await this.running;
      if (this.error !== undefined) throw this.error;
      // The engine has ended: nothing is sealed after the look above.
      const left = [...sizes.keys()].filter((id) => !this.done.has(id));
      await mapLimit(left, PARALLEL_UPLOADS, async (id) => {
        this.sent(await this.wc.uploadPack(id));
        say();
      });
      say();
    } finally {
      if (ticker) clearInterval(ticker);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    while (this.scanning) await new Promise((r) => setTimeout(r, 10));
    await this.running;
  }
}

export class RemoteNative implements NativeRepo {
  /** The read cache: packs fetched (or being fetched), least recently used first. */
  private readonly cache = new Map<string, { settled: boolean; done: Promise<boolean> }>();
  /** The order the running restore needs packs in. */
  private orderList: string[] = [];
  private order = new Map<string, number>();
  /** Whole lists of open readers, for readRange's pack lookups. */
  private readonly lists = new WeakMap<object, string[]>();
  /** Packs uploaded by the last backup (tests count them). */
  lastUploads = 0;
  /** Read cache figures: packs fetched whole, and the most held after an eviction. */
  readonly readStats = { fetched: 0, maxHeld: 0 };
  /**
   * The index was loaded while another operation held the working copy:
   * only what the store added was fetched, nothing removed (it may be that
   * operation's index, not yet published). Synced whole under the lock by
   * the next backup, restore or verify.
   */
  private indexPartial = false;
  /**
   * Told when an operation waits for the working copy's lock ("<location>
   * (pid N, backup)"): set by the repository operation for its duration
   * (reportingWaits below), so the app's progress says why nothing moves.
   */
  onWait: ((holder: string) => void) | undefined;
  /** Told the "uploading" phase of a backup's last packs (reportingWaits below). */
  onUploading: ((p: Progress) => void) | undefined;
  /** The running backup's uploader: its rate and queue go into the reading's progress. */
  private uploader: SpoolUploader | undefined;

  constructor(
    readonly inner: NativeRepo,
    readonly wc: WorkingCopy,
    /** Packs the read cache keeps (16 MiB each). */
    private readonly cachePacks = READ_CACHE_PACKS,
  ) {}

  sealEnvelope: NativeRepo['sealEnvelope'] = (t, d) => this.inner.sealEnvelope(t, d);
  openEnvelope: NativeRepo['openEnvelope'] = (t, d) => this.inner.openEnvelope(t, d);
  chunkId: NativeRepo['chunkId'] = (d) => this.inner.chunkId(d);
  missingChunks: NativeRepo['missingChunks'] = (l) => this.inner.missingChunks(l);
  createMark: NativeRepo['createMark'] = () => this.inner.createMark();
  unindexedPacks: NativeRepo['unindexedPacks'] = (ids) => this.inner.unindexedPacks(ids);
  locate: NativeRepo['locate'] = (id) => this.inner.locate(id);
  stats: NativeRepo['stats'] = () => this.inner.stats();
  createListChecker: NativeRepo['createListChecker'] = (o) => this.inner.createListChecker(o);
  readWholeList: NativeRepo['readWholeList'] = (l) => this.inner.readWholeList(l);

  closeFiles(): void {
    this.inner.closeFiles();
  }

  /**
   * Never waits for the lock (opening a repository while a backup runs
   * elsewhere must not take as long as that backup): with the lock free,
   * index/ is synced whole; held, only the store's new files are fetched.
   */
  async loadIndex(): ReturnType<NativeRepo['loadIndex']> {
    const lock = tryLockWorkingCopy(this.wc.dir, 'index load');
    if (!lock) {
      await this.forgetDroppedIndexes();
      await this.wc.syncIndex({ remove: false });
      this.indexPartial = true;
      return this.inner.loadIndex();
    }
    try {
      return await this.loadIndexLocked();
    } finally {
      lock.release();
    }
  }

  private async loadIndexLocked(): ReturnType<NativeRepo['loadIndex']> {
    await this.forgetDroppedIndexes();
    await this.wc.syncIndex({ remove: true });
    this.indexPartial = false;
    return this.inner.loadIndex();
  }

  /**
   * The engine keeps an index file's table by name once loaded (index files
   * are immutable), so a copy the working copy dropped as not published
   * whole (publishIndex) must leave the engine before the sync fetches the
   * store's short object under the same name: a load without the file.
   */
  private async forgetDroppedIndexes(): Promise<void> {
    if (this.wc.takeDroppedIndexes().length) await this.inner.loadIndex();
  }

  /**
   * Runs `fn` holding the working copy's lock, waiting for it (cancelled by
   * `cancel`). A wait is said on stderr, which the CLI shows and the helper
   * logs: the progress callback carries numbers only.
   */
  private async locked<T>(operation: string, cancel: CancelToken | undefined, fn: () => Promise<T>): Promise<T> {
    const report = this.onWait;
    const lock = await lockWorkingCopy(this.wc.dir, {
      operation,
      location: this.wc.remote.location,
      cancel,
      // stderr as well: the CLI shows it, the helper's journal keeps it.
      onWait: (message, holder) => {
        console.warn(message);
        report?.(`${this.wc.remote.location} (${holderWords(holder)})`);
      },
    });
    try {
      return await fn();
    } finally {
      lock.release();
    }
  }

  /** Under the lock, before an operation that relies on the index: a partial load is made whole. */
  private async wholeIndex(): Promise<void> {
    if (this.indexPartial) await this.loadIndexLocked();
  }

  async openList(ref: { root: string } | { segments: string[] | Buffer }, chunks: number): Promise<NativeList> {
    if ('root' in ref) await this.wc.fetchLists([ref.root]);
    else await this.wc.fetchLists(Buffer.isBuffer(ref.segments) ? hexIds(ref.segments) : ref.segments);
    const list = await this.inner.openList(ref, chunks);
    if ('root' in ref) await this.wc.fetchLists(hexIds(list.segmentIds()));
    return list;
  }

  async writeListRoot(segments: Buffer, chunks: number): Promise<string> {
    const id = await this.inner.writeListRoot(segments, chunks);
    await this.publishLists([id]);
    return id;
  }

  private publishLists(ids: readonly string[]): Promise<void> {
    return this.wc.publishLists(ids, (id, data) => this.isList(id, data));
  }

  /** Whether `data` is this repository's list object `id`: a segment or root whose envelope opens and whose content hashes to the name. */
  private isList(id: string, data: Buffer): boolean {
    for (const type of [EnvelopeType.listSegment, EnvelopeType.listRoot]) {
      let payload: Buffer | null;
      try {
        payload = this.inner.openEnvelope(type, data);
      } catch {
        payload = null;
      }
      if (payload && this.inner.chunkId(payload).toString('hex') === id) return true;
    }
    return false;
  }

  /** An index file written here is published under the lock: another process's index sync would remove it before. */
  private published(operation: string, write: () => Promise<string>): Promise<string> {
    return this.locked(operation, undefined, async () => {
      const n = await write();
      if (n) await this.wc.publishIndex(n);
      return n;
    });
  }

  writeRemovalRecord(packs: string[]): Promise<string> {
    return this.published('prune', () => this.inner.writeRemovalRecord(packs));
  }

  writeConsolidatedIndex(opts: { exclude: string[]; excludeEntries?: string[] }): Promise<string> {
    return this.published('prune', () => this.inner.writeConsolidatedIndex(opts));
  }

  /** Indexes packs from their trailers: fetched hollow, read here, dropped after. */
  rebuildIndex(packs: string[]): Promise<{ indexFile: string; badPacks: string[] }> {
    return this.locked('index rebuild', undefined, () => this.rebuildIndexLocked(packs));
  }

  private async rebuildIndexLocked(packs: string[]): Promise<{ indexFile: string; badPacks: string[] }> {
    const fetched: string[] = [];
    try {
      // A pack no pack can be (a cut upload's short object) is bad, as the
      // engine says of a damaged trailer: indexed without it, never fatal.
      const tooShort: string[] = [];
      await mapLimit(packs, PARALLEL_FETCHES, async (id) => {
        try {
          if (await this.wc.fetchPack(id, true)) fetched.push(id);
        } catch (e) {
          if (!(e instanceof AppError && e.code === 'REPO_CORRUPT' && e.details?.['pack'] === id)) throw e;
          tooShort.push(id);
        }
      });
      const r = await this.inner.rebuildIndex(packs.filter((id) => !tooShort.includes(id)));
      if (r.indexFile) await this.wc.publishIndex(r.indexFile);
      return { ...r, badPacks: [...r.badPacks, ...tooShort] };
    } finally {
      this.inner.closeFiles();
      await this.wc.dropPacks(fetched);
    }
  }

  /**
   * What an earlier backup that did not finish left: sealed packs still in
   * the spool are uploaded, and the packs it uploaded (the journal) that no
   * index names are indexed from their trailers. Their chunks are then
   * found by this backup's dedup: nothing is uploaded twice.
   */
  resumeSpool(cancel?: CancelToken): Promise<{ uploaded: number; indexed: number }> {
    return this.locked('backup', cancel, () => this.resumeSpoolLocked());
  }

  /**
   * Under the lock, packs no operation of this handle owns are a dead
   * process's (or an earlier operation's of another handle, which are on
   * the store: dropped, and fetched again by it if it reads them again).
   */
  private async resumeSpoolLocked(): Promise<{ uploaded: number; indexed: number }> {
    let uploaded = 0;
    for (const id of await this.wc.localPacks()) {
      if (this.cache.has(id)) continue; // this process's read cache
      // A pack of the cache (a restore killed before it dropped it) is on
      // the store already: only spooled ones are missing there.
      const st = await this.wc.remote.stat(rel.pack(id));
      const mine = await this.wc.local.stat(rel.pack(id));
      if (st === undefined) {
        await this.wc.uploadPack(id);
        uploaded++;
      } else if (mine !== undefined && st.size !== mine.size) {
        // The upload was cut (an SFTP save is not atomic for an append-only
        // client): send the whole pack again, under a new id when the short
        // object may not be replaced.
        await this.wc.uploadPack(this.wc.appendOnly ? await this.wc.renamePack(id) : id);
        uploaded++;
      } else {
        // Saved, but maybe killed before the journal said so: the journal
        // decides below (a cached pack is indexed and left alone).
        await this.wc.journalAdd(id);
        await this.wc.dropPacks([id]);
      }
    }
    // An index file whose upload was cut must not count as published (publishIndex).
    await this.wc.checkJournaledIndexes();
    const journal = await this.wc.journal();
    let indexed = 0;
    if (journal.length) {
      await this.loadIndexLocked();
      const unindexed = this.inner.unindexedPacks(journal);
      if (unindexed.length) {
        const r = await this.rebuildIndexLocked(unindexed);
        indexed = unindexed.length - r.badPacks.length;
        await this.loadIndexLocked();
      }
      await this.wc.clearJournal();
    }
    return { uploaded, indexed };
  }

  backup(req: BackupDeviceRequest, onProgress?: ProgressCallback, cancel?: CancelToken): Promise<BackupDeviceResult> {
    return this.locked('backup', cancel, async () => {
      await this.resumeSpoolLocked();
      // Its dedup must not find chunks in files the store no longer has.
      await this.wholeIndex();
      return this.backupLocked(req, onProgress, cancel);
    });
  }

  private async backupLocked(req: BackupDeviceRequest, onProgress?: ProgressCallback, cancel?: CancelToken): Promise<BackupDeviceResult> {
    const token = cancel ?? createCancelToken();
    const before = new Set((await this.wc.local.list(rel.index)).map((e) => e.name));
    const uploader = new SpoolUploader(this.wc, () => token.cancel());
    this.uploader = uploader;
    uploader.start();
    try {
      return await this.backupUploading(req, uploader, before, token, onProgress);
    } finally {
      this.uploader = undefined;
    }
  }

  /** What a backup's uploads do now, while one runs. */
  uploadStatus(): UploadProgress | undefined {
    return this.uploader?.status();
  }

  private async backupUploading(
    req: BackupDeviceRequest,
    uploader: SpoolUploader,
    before: Set<string>,
    token: CancelToken,
    onProgress: ProgressCallback | undefined,
  ): Promise<BackupDeviceResult> {
    let res: BackupDeviceResult;
    try {
      res = await this.inner.backup({ ...req, spoolPacks: SPOOL_PACKS }, onProgress, token);
    } catch (e) {
      await uploader.stop();
      // The engine indexed what it sealed even so; publish that index only
      // when every pack it names is on the store (else the journal lets the
      // next backup index the uploaded ones).
      const written = (await this.wc.local.list(rel.index)).map((x) => x.name).filter((n) => !before.has(n));
      let published = false;
      if (uploader.failure === undefined) {
        try {
          await uploader.finish(this.onUploading);
          for (const n of written) await this.wc.publishIndex(n);
          published = true;
          await this.wc.clearJournal();
        } catch {
          /* the journal keeps what was uploaded */
        }
      }
      if (!published) await this.wc.local.remove(written.map((n) => rel.indexFile(n)));
      throw uploader.failure !== undefined ? toAppError(uploader.failure, 'upload of a pack') : e;
    }
    this.lastUploads = uploader.uploaded;
    try {
      await uploader.finish(this.onUploading);
      this.lastUploads = uploader.uploaded;
      // Publication order: packs (above), list objects, index, list root.
      await this.publishLists(hexIds(res.segments));
      if (res.indexFile) await this.wc.publishIndex(res.indexFile);
      if (res.root) await this.publishLists([res.root]);
      await this.wc.clearJournal();
    } catch (e) {
      // Not published: the index stays unknown to the store (and is removed
      // here at the next sync); the journal indexes the uploaded packs later.
      throw toAppError(e, 'publishing the backup');
    }
    return res;
  }

  /** Packs holding the chunks of `ids`, in the order they are first needed. */
  private packsOf(ids: string[]): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const id of ids) {
      if (id === ZERO_ID) continue;
      const at = this.inner.locate(id);
      if (!at || seen.has(at.pack)) continue;
      seen.add(at.pack);
      out.push(at.pack);
    }
    return out;
  }

  private async fetchAll(packs: string[], hollow: boolean): Promise<string[]> {
    const fetched: string[] = [];
    await mapLimit(packs, PARALLEL_FETCHES, async (id) => {
      if (await this.wc.fetchPack(id, hollow)) fetched.push(id);
    });
    return fetched;
  }

  private async listIds(list: NativeList | Buffer): Promise<string[]> {
    const key = list as object;
    let ids = this.lists.get(key);
    if (!ids) {
      ids = hexIds(Buffer.isBuffer(list) ? list : await this.inner.readWholeList(list));
      this.lists.set(key, ids);
    }
    return ids;
  }

  private async rangePacks(req: { list: NativeList | Buffer; chunkSize: number; rangeStart: number; rangeLength: number }): Promise<string[]> {
    const ids = await this.listIds(req.list);
    const first = Math.floor(req.rangeStart / req.chunkSize);
    const end = Math.ceil((req.rangeStart + req.rangeLength) / req.chunkSize);
    return this.packsOf(ids.slice(first, end));
  }

  probeResume: NativeRepo['probeResume'] = (req) => this.inner.probeResume(req);

  /**
   * The engine's pack fetcher (NativeRepoOptions.fetchPack): a restore,
   * verify or reader met a pack that is not in the working copy. Fetched
   * whole into the read cache (with the next ones of the current restore's
   * order, PREFETCH_PACKS ahead); resolves once it is there, after packs
   * were evicted to keep the cache at `cachePacks` (fetches still running
   * are not evicted, so at most PREFETCH_PACKS more; the engine reads
   * evicted packs it has open through their descriptors, at most 8).
   * False: the store does not have the pack (the engine names it missing).
   */
  async fetchForEngine(id: string): Promise<boolean> {
    // The engine asks only for a pack it did not find: one held here as
    // fetched was dropped by another operation meanwhile (a reader holds no
    // lock, see readRange), and is fetched again.
    const have = this.cache.get(id);
    if (have?.settled && !(await this.wc.local.stat(rel.pack(id)))) this.cache.delete(id);
    this.startFetch(id);
    const at = this.order.get(id);
    if (at !== undefined) for (let k = 1; k <= PREFETCH_PACKS; k++) {
      const next = this.orderList[at + k];
      if (next !== undefined) this.startFetch(next);
    }
    const here = (await this.cache.get(id)?.done) ?? false;
    await this.evict(id);
    return here;
  }

  private startFetch(id: string): void {
    const have = this.cache.get(id);
    if (have) {
      // Most recently used last.
      this.cache.delete(id);
      this.cache.set(id, have);
      return;
    }
    const entry = { settled: false, done: Promise.resolve(false) };
    this.readStats.fetched++;
    // A pack the store lacks is left missing: the engine names it.
    entry.done = this.wc.fetchPack(id, false).then(
      (here) => {
        entry.settled = true;
        if (!here && this.cache.get(id) === entry) this.cache.delete(id);
        return here;
      },
      (e: unknown) => {
        this.cache.delete(id);
        throw e;
      },
    );
    entry.done.catch(() => false);
    this.cache.set(id, entry);
  }

  private async evict(keep: string): Promise<void> {
    const dropped: string[] = [];
    for (const [id, e] of this.cache) {
      if (this.cache.size - dropped.length <= this.cachePacks) break;
      if (id === keep || !e.settled) continue;
      dropped.push(id);
    }
    for (const id of dropped) this.cache.delete(id);
    this.readStats.maxHeld = Math.max(this.readStats.maxHeld, this.cache.size);
    await this.wc.dropPacks(dropped);
  }

  /** Empties the read cache (after a restore or verify: the disk space is the user's). */
  private async dropCache(): Promise<void> {
    const ids = [...this.cache.keys()];
    await Promise.all([...this.cache.values()].map((e) => e.done.catch(() => undefined)));
    this.cache.clear();
    this.inner.closeFiles();
    await this.wc.dropPacks(ids);
  }

  private setOrder(packs: string[]): void {
    this.orderList = packs;
    this.order = new Map(packs.map((p, i) => [p, i]));
  }

  /**
   * Restore reads through the bounded read cache: the engine asks for each
   * pack as it reaches it (fetchForEngine), and the packs of the range are
   * fetched in the order it needs them, a few ahead.
   */
  restore(req: RestoreDeviceRequest, onProgress?: ProgressCallback, cancel?: CancelToken): ReturnType<NativeRepo['restore']> {
    return this.locked('restore', cancel, async () => {
      await this.settleWorkingCopy();
      await this.wholeIndex();
      return this.restoreLocked(req, onProgress, cancel);
    });
  }

  private async restoreLocked(req: RestoreDeviceRequest, onProgress?: ProgressCallback, cancel?: CancelToken): ReturnType<NativeRepo['restore']> {
    const range = { list: req.list, chunkSize: req.chunkSize, rangeStart: req.rangeStart ?? 0, rangeLength: req.rangeLength ?? req.deviceSize };
    this.setOrder(await this.rangePacks(range));
    try {
      return await this.inner.restore(req, onProgress, cancel);
    } finally {
      this.setOrder([]);
      await this.dropCache();
    }
  }

  /**
   * Random reads (file restore, NBD): through the read cache, which stays
   * until the handle closes. Without the lock: an NBD export must not stall
   * for as long as a backup runs. What another operation can do meanwhile
   * is harmless: it may drop cached packs (fetched again, fetchForEngine) or
   * upload them again (the same bytes under the same name); a pack it holds
   * hollow (verify, a backup's index rebuild) fails its chunks' hash check
   * if read here in that window: an error, never wrong data.
   */
  readRange(req: { list: NativeList | Buffer; chunkSize: number; deviceSize: number; offset: number; length: number }): Promise<Buffer> {
    return this.inner.readRange(req);
  }

  /**
   * With `data`, every indexed pack is read through the bounded read cache;
   * without, only trailers are read: every indexed pack the store has is
   * fetched hollow first (header and trailer, a few KiB each).
   */
  verify(opts: { data: boolean }, onProgress?: ProgressCallback, cancel?: CancelToken): ReturnType<NativeRepo['verify']> {
    return this.locked('verify', cancel, async () => {
      await this.settleWorkingCopy();
      await this.wholeIndex();
      return this.verifyLocked(opts, onProgress, cancel);
    });
  }

  private async verifyLocked(opts: { data: boolean }, onProgress?: ProgressCallback, cancel?: CancelToken): ReturnType<NativeRepo['verify']> {
    let hollow: string[] = [];
    if (!opts.data) {
      const onStore: string[] = [];
      for (const b of await this.wc.remote.list(rel.packs)) {
        if (b.type !== 'dir') continue;
        for (const f of await this.wc.remote.list(`${rel.packs}/${b.name}`)) if (f.type === 'file' && PACK_ID.test(f.name)) onStore.push(f.name);
      }
      const unindexed = new Set(this.inner.unindexedPacks(onStore));
      hollow = await this.fetchAll(
        onStore.filter((id) => !unindexed.has(id)),
        true,
      );
    }
    try {
      return await this.inner.verify(opts, onProgress, cancel);
    } finally {
      this.inner.closeFiles();
      await this.wc.dropPacks(hollow);
      await this.dropCache();
    }
  }

  /**
   * Packs in the working copy that no cache entry of this process owns are
   * what an earlier process left: sealed packs of a killed backup (uploaded
   * now and journaled), or cached and hollow packs of a killed restore or
   * verify (dropped: a hollow pack must never be read as a whole one).
   */
  private async settleWorkingCopy(): Promise<void> {
    if ((await this.wc.localPacks()).some((id) => !this.cache.has(id))) await this.resumeSpoolLocked();
  }

  /** Forgets the engine (the fetcher holds this object): called when the handle closes. */
  async close(): Promise<void> {
    await this.dropCache();
  }

  /** Under the lock; the index is not reloaded here (the mark counts positions in the loaded one). */
  compact(
    req: { mark: NativeMark; rewrite: string[]; order?: Array<NativeList | Buffer>; packSize?: number },
    onProgress?: ProgressCallback,
    cancel?: CancelToken,
  ): ReturnType<NativeRepo['compact']> {
    return this.locked('prune', cancel, () => this.compactLocked(req, onProgress, cancel));
  }

  private async compactLocked(
    req: { mark: NativeMark; rewrite: string[]; order?: Array<NativeList | Buffer>; packSize?: number },
    onProgress?: ProgressCallback,
    cancel?: CancelToken,
  ): ReturnType<NativeRepo['compact']> {
    const fetched = await this.fetchAll(req.rewrite, false);
    try {
      const r = await this.inner.compact(req, onProgress, cancel);
      // New packs first, then the index naming them.
      await mapLimit(
        r.newPacks.map((p) => p.id),
        PARALLEL_UPLOADS,
        // Not journaled: the journal is backups' (a killed prune leaves
        // orphans, which a later prune sweeps after its margin).
        async (id) => void (await this.wc.uploadPack(id, false)),
      );
      if (r.indexFile) await this.wc.publishIndex(r.indexFile);
      return r;
    } finally {
      this.inner.closeFiles();
      await this.wc.dropPacks(fetched);
    }
  }
}


/**
 * Runs a repository operation's call of `native` with waits for a remote
 * working copy's lock said as progress (phase "waiting", the holder in the
 * message): else the app would show a task that does not move, with no
 * reason. A local repository never waits here.
 */
export async function reportingWaits<T>(native: NativeRepo, sink: ((p: Progress) => void) | undefined, fn: () => Promise<T>): Promise<T> {
  if (!(native instanceof RemoteNative) || !sink) return fn();
  native.onWait = (holder) => sink({ phase: 'waiting', bytesDone: 0, bytesTotal: 0, bytesPerSecond: 0, message: holder });
  native.onUploading = sink;
  try {
    return await fn();
  } finally {
    native.onWait = undefined;
    native.onUploading = undefined;
  }
}

/** `sink` with a running backup's upload rate and queue added to each report (a remote repository only). */
export function withUploads(native: NativeRepo, sink: ((p: Progress) => void) | undefined): ((p: Progress) => void) | undefined {
  if (!(native instanceof RemoteNative) || !sink) return sink;
  return (p) => {
    const upload = native.uploadStatus();
    sink(upload ? { ...p, upload } : p);
  };
}
