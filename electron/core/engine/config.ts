// The repository's config file: plain JSON (it must be readable before a
// passphrase unlocks anything), written once at init. It holds the format
// version, the chunk size, the KDF parameters and the master keys, wrapped
// by the passphrase's key when the repository is encrypted.
import * as fs from 'node:fs/promises';

import { z } from 'zod';

import { AppError } from '../../common/contract';
import { writeFileAtomic } from './atomic-file';
import { corrupt } from './errors';
import { FORMAT_NAME, FORMAT_VERSION, dirs } from './format';

export const RepoConfig = z.object({
  format: z.literal(FORMAT_NAME),
  version: z.number().int().positive(),
  id: z.string().regex(/^[0-9a-f]{16}$/),
  createdAt: z.string(),
  chunkSize: z.number().int().positive(),
  packSize: z.number().int().positive(),
  encryption: z.enum(['none', 'xchacha20poly1305']),
  kdf: z
    .object({
      algorithm: z.literal('argon2id13'),
      opsLimit: z.number().int().positive(),
      memLimit: z.number().int().positive(),
      salt: z.string(), // base64, 16 bytes
    })
    .optional(),
  /** base64: the id key (plain repositories) or the sealed key pair. */
  keys: z.string(),
});
export type RepoConfig = z.infer<typeof RepoConfig>;

export async function readConfig(repo: string): Promise<RepoConfig> {
  let text: string;
  try {
    text = await fs.readFile(dirs.config(repo), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new AppError('REPO_NOT_FOUND', `no Snapkeep repository at ${repo}`, { path: repo });
    throw e;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw corrupt(`the config of ${repo} is not valid JSON`, { path: dirs.config(repo) });
  }
  const r = RepoConfig.safeParse(parsed);
  if (!r.success) {
    const format = (parsed as { format?: unknown }).format;
    if (format !== FORMAT_NAME) throw new AppError('REPO_NOT_FOUND', `${repo} is not a Snapkeep repository`, { path: repo });
    throw corrupt(`the config of ${repo} is damaged: ${r.error.message}`, { path: dirs.config(repo) });
  }
  if (r.data.version > FORMAT_VERSION)
    throw new AppError('REPO_CORRUPT', `repository format ${r.data.version} is newer than this Snapkeep (${FORMAT_VERSION})`, {
      path: repo,
      version: r.data.version,
    });
  return r.data;
}

export async function writeConfig(repo: string, config: RepoConfig): Promise<void> {
  RepoConfig.parse(config);
  await writeFileAtomic(dirs.config(repo), JSON.stringify(config, null, 2) + '\n');
}
