// The native addon's typed surface. One module per concern; import from
// here.
export { isNativeSysError, type NativeSysError } from './addon';
export * from './engine';
export * from './caller-fs';
export * from './file-lock';
export * from './fs-extents';
export * from './kmod';
export * from './libraries';
export * from './peercred';
export * from './used-blocks';
