// The app's formatting is shared with Electron main and the CLI: one file,
// electron/common/format.ts, so every process says sizes and dates one way.
export * from '@common/format';
