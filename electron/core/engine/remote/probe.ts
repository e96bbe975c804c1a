// A connection test of a remote location, for the repository dialog: log in
// (a wrong login, a changed host key or a missing bucket fails here, as it
// would for a backup), then look for a repository's config. No working copy
// is made and nothing is written: the user has not said yes yet.
import type { RemoteProbe } from '../../../common/contract';
import { readConfig } from '../config';
import { rel } from '../format';
import { statRepoFile } from '../repo-files';
import { attachStorage } from '../storage/registry';
import { type RemoteAccess, openBackend } from './connect';
import { RemoteRepoStorage } from './remote-storage';

export async function probeRemote(location: string, access: RemoteAccess): Promise<RemoteProbe> {
  const { backend, url, hostKey } = await openBackend(location, access);
  const attached = attachStorage(new RemoteRepoStorage(backend, () => undefined));
  try {
    const key = hostKey !== undefined ? { hostKey } : {};
    // A folder or prefix that does not exist yet is what init makes.
    if ((await statRepoFile(url, rel.config)) === undefined) return { ...key, repository: 'none' };
    // Something else's "config" is said as such (REPO_NOT_FOUND, "not a Snapkeep repository").
    const config = await readConfig(url);
    return { ...key, repository: 'found', encrypted: config.encryption !== 'none' };
  } finally {
    await attached.release();
  }
}
