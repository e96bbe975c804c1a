// What every operation on an open repository needs: its path, config, the
// native handle holding keys and the chunk index.
import type { NativeRepo } from '../../../native/engine';
import type { RepoConfig } from './config';
import type { RepoRole } from './keys';

export interface RepoContext {
  readonly path: string;
  readonly config: RepoConfig;
  readonly native: NativeRepo;
  /** An append-only client ('client') never removes anything. */
  readonly role?: RepoRole;
}
