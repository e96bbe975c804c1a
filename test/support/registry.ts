// A repository registry as the service has one, its files under `state`
// (repositories.json, keys/, remotes/), over the real engine, logging
// nothing: for tests of what it keeps and how it opens repositories.
import { engine } from '../../electron/core/engine';
import { JsonFile } from '../../electron/core/persist/json-file';
import { RememberedKeys } from '../../electron/core/repos/remembered-keys';
import { RepoRegistry, RepositoriesFile } from '../../electron/core/repos/registry';
import { RemoteCredentials } from '../../electron/core/repos/remote-credentials';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

export async function testRegistry(state: string): Promise<{ registry: RepoRegistry; remotes: RemoteCredentials }> {
  const remotes = new RemoteCredentials(`${state}/remotes`);
  const registry = new RepoRegistry({
    file: new JsonFile(`${state}/repositories.json`, RepositoriesFile),
    engine,
    log: silent,
    keys: new RememberedKeys(`${state}/keys`),
    remotes,
  });
  await registry.load();
  return { registry, remotes };
}
