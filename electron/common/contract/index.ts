export * from './app';
export * from './checkpoint';
export * from './domain';
export * from './errors';
export * from './events';
export * from './methods';
export * from './results';
export * from './location';
