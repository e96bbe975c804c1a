import { parseArgs } from 'node:util';

import type { Command } from '../command';
import { readConfig } from '../../core/engine/config';
import { type LockOptions, listLocks, removeLocks } from '../../core/engine/locks';
import { EXIT } from '../exit-codes';
import { withRemoteLocation } from '../../core/engine/remote/connect';
import { isRemoteLocation } from '../../common/contract';
import { remoteLogin, repoPath } from './engine-common';

// Locks need no passphrase: they are plain files naming their holders.
export const locksCommand: Command = {
  name: 'locks',
  summary: "show who holds a repository's locks; remove stale ones, or with --force one that is held",
  usage: 'snapkeep locks <repository> [--remove-stale] [--remove NAME ... [--force]] [--json]',
  async run({ args, json, out }) {
    const { values, positionals } = parseArgs({
      args,
      options: { 'remove-stale': { type: 'boolean' }, remove: { type: 'string', multiple: true }, force: { type: 'boolean' } },
      allowPositionals: true,
    });
    const where = repoPath(positionals[0]);
    if (isRemoteLocation(where)) return withRemoteLocation(where, await remoteLogin(where), (repo) => showLocks(repo, values, json, out));
    return showLocks(where, values, json, out);
  },
};

async function showLocks(repo: string, values: { 'remove-stale'?: boolean | undefined; remove?: string[] | undefined; force?: boolean | undefined }, json: boolean, out: (s: string) => void): Promise<number> {
  // Format 3 (append-only) keeps its locks as files added per refresh (lock protocol 3).
  // Removing is the owner's: a client's server login refuses it. A config that
  // cannot be read (a damaged repository) still lets its locks be seen.
  const version = await readConfig(repo).then(
    (c) => c.version,
    () => undefined,
  );
  const opts: LockOptions = version === 3 ? { protocol: 3, mayDelete: true } : {};
  const before = await listLocks(repo, opts);
  const names = [...(values['remove-stale'] ? before.filter((l) => l.stale).map((l) => l.name) : []), ...(values.remove ?? [])];
  const removed = names.length ? await removeLocks(repo, [...new Set(names)], values.force === true, opts) : [];
  const left = removed.length ? await listLocks(repo, opts) : before;
  if (json) out(JSON.stringify({ locks: left, removed }));
  else {
    for (const n of removed) out(`removed ${n}`);
    if (left.length === 0) out('no locks: nothing uses the repository');
    for (const l of left) {
      const h = l.holder;
      const who = h ? `${String(h['kind'])} ${String(h['operation'])}, pid ${String(h['pid'])} on ${String(h['host'])}, since ${String(h['startedAt'])}` : `unreadable (${l.unreadable ?? '?'})`;
      out(`${l.name}: ${who}${l.stale ? ' [stale]' : ''}`);
    }
  }
  return EXIT.OK;
}
