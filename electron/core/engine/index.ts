// The backup engine. Callers use `engine` through the interfaces of api.ts.
import { SnapkeepEngine } from './engine';

export type * from './api';
export const engine = new SnapkeepEngine();
