// Typed bindings of the kernel module's control device (/dev/snapkeep).
// Errors are NativeSysErrors whose `code` is the errno name (ENOENT when the
// module is not loaded).
import { loadAddon } from './addon';

/** The ABI version the kernel module reports through its control device. */
export interface ModuleVersion {
  abiMajor: number;
  abiMinor: number;
  moduleVersion: string;
}

interface KmodAddon {
  moduleVersion(): ModuleVersion;
  headerAbi: { major: number; minor: number };
}

const kmod = () => loadAddon<KmodAddon>();

/** ABI version of the loaded kernel module; throws code ENOENT when not loaded. */
export function moduleVersion(): ModuleVersion {
  return kmod().moduleVersion();
}

/** The ABI version this addon was compiled against (the uapi header). */
export function headerAbi(): { major: number; minor: number } {
  return { ...kmod().headerAbi };
}
