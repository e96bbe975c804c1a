// Which storage serves a repository location. Local paths get a
// LocalStorage (stateless: the native RepoDir opens the root per call);
// remote locations get the connection their open repository registered,
// so every file of the engine (locks, manifests, prune) reaches the remote
// store through repo-files.ts without carrying a handle around. A remote
// location that no open repository registered is an internal error: the
// engine opens the connection (with its credentials) before anything else.
import { AppError } from '../../../common/contract';
import { AppendOnlyStorage } from './append-only';
import { LocalStorage } from './local';
import { isRemoteLocation } from './location';
import type { RepoStorage } from './storage';

const remotes = new Map<string, { storage: RepoStorage; refs: number }>();
/** Locations an append-only client has open, with how many handles: their storage never replaces or removes. */
const appendOnly = new Map<string, number>();

export function storageFor(location: string): RepoStorage {
  const s = plainStorageFor(location);
  return appendOnly.has(location) ? new AppendOnlyStorage(s) : s;
}

function plainStorageFor(location: string): RepoStorage {
  if (!isRemoteLocation(location)) return new LocalStorage(location);
  const r = remotes.get(location);
  if (!r) throw new AppError('INTERNAL', `${location} is not open`, { location });
  return r.storage;
}

/**
 * Marks a location as opened by an append-only client until the returned
 * release: every file the engine's TypeScript side writes there is then
 * added, never replaced, and nothing is removed (storage/append-only.ts).
 * One process holding the owner's and a client's handle of one location at
 * once gets the client's rules for both.
 */
export function markAppendOnly(location: string): () => void {
  appendOnly.set(location, (appendOnly.get(location) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const n = (appendOnly.get(location) ?? 1) - 1;
    if (n <= 0) appendOnly.delete(location);
    else appendOnly.set(location, n);
  };
}

/** Registers an open remote storage for its location; returns the one to use (an open one is shared) and a release. */
export function attachStorage(storage: RepoStorage): { storage: RepoStorage; release: () => Promise<void> } {
  const existing = remotes.get(storage.location);
  const entry = existing ?? { storage, refs: 0 };
  entry.refs++;
  if (!existing) remotes.set(storage.location, entry);
  else if (existing.storage !== storage) void storage.close();
  let released = false;
  return {
    storage: entry.storage,
    release: async () => {
      if (released) return;
      released = true;
      entry.refs--;
      if (entry.refs === 0) {
        remotes.delete(storage.location);
        await entry.storage.close();
      }
    },
  };
}
