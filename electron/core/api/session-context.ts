// What a handler knows about the session that called it.
import type { EventName } from '../../common/contract';
import type { Caller } from '../access/caller';

export interface SessionContext {
  subscribe(names: EventName[]): void;
  /** The peer of the helper's socket; absent for in-process sessions. */
  caller?: Caller;
}
