// Versions of the distribution libraries the addon links.
import { loadAddon } from './addon';

export interface LibraryVersions {
  zstd: string;
  sodium: string;
}

export function libraryVersions(): LibraryVersions {
  return loadAddon<{ libraryVersions(): LibraryVersions }>().libraryVersions();
}
