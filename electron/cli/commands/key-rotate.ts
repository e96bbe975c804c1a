// `snapkeep key rotate`: a new key pair for an append-only repository
// (engine: core/engine/key-rotate.ts; docs/append-only.md, "Rotating the key
// pair"). Opened with the owner passphrase, which seals keys/owner again, so
// it is read here once and given to both the open and the rotation.
import { AppError } from '../../common/contract';
import { engine } from '../../core/engine';
import { APPEND_ONLY_VERSION } from '../../core/engine/format';
import { EXIT } from '../exit-codes';
import { passphrase, passphraseFrom, rememberLogin, remoteLogin, requireOwner } from './engine-common';

/** The files `key rotate` reads passphrases from (each else a prompt; the new owner one only when given). */
export interface RotateFiles {
  'password-file'?: string | undefined;
  'client-password-file'?: string | undefined;
  'new-password-file'?: string | undefined;
}

export async function rotateKeys(p: string, files: RotateFiles, json: boolean, out: (line: string) => void): Promise<number> {
  const login = await remoteLogin(p);
  const notAppendOnly = () => new AppError('INVALID_ARGUMENT', `key commands need an append-only repository (format 3): ${p} has one passphrase or none (not append-only)`, { path: p });
  // Refused before any passphrase is asked for.
  if ((await engine.readPin(p, login)).minVersion !== APPEND_ONLY_VERSION) throw notAppendOnly();
  const owner = await passphrase(files['password-file'], false, 'Owner passphrase');
  const repo = await engine.open({ path: p, passphrase: owner, ...(login && { remote: login }) });
  try {
    await rememberLogin(p, login, repo);
    if (repo.role === 'legacy') throw notAppendOnly();
    requireOwner(repo, 'rotating the key pair');
    const client = await passphraseFrom(
      files['client-password-file'],
      true,
      'Client passphrase (the current one, or a new one for the backed-up computers)',
      'the client passphrase is needed (keys/client is sealed again): pass --client-password-file, or run on a terminal',
    );
    const newOwner = files['new-password-file'] === undefined ? undefined : await passphraseFrom(files['new-password-file'], false, 'New owner passphrase');
    const r = await repo.rotateKeyPair({ ownerPassphrase: owner, clientPassphrase: client, ...(newOwner !== undefined && { newOwnerPassphrase: newOwner }) });
    if (json) {
      const { pin: _pin, ...shown } = r;
      out(JSON.stringify({ path: p, rotated: true, ...shown }));
      return EXIT.OK;
    }
    out(
      r.finished
        ? `finished the key rotation of ${p} that was cut earlier: public key ${r.publicKey} (was ${r.previousPublicKey})`
        : `rotated the key pair of ${p}: new public key ${r.publicKey} (was ${r.previousPublicKey})`,
    );
    out(`${r.retiredKeys} retired secret key${r.retiredKeys === 1 ? ' is' : 's are'} kept: every restore point still opens with the owner passphrase.`);
    out(
      `On each backed-up computer, the app now refuses the repository ("The repository has a new key pair", naming public key ${r.publicKey}; "snapkeep info" there shows it too): ` +
        'remove it there and add it again with the client passphrase, after checking that it names this fingerprint. ' +
        'Until then its scheduled backups fail; nothing stored is lost.',
    );
    if (r.clientPassphraseChanged) out('The client passphrase is a new one: each backed-up computer needs it when the repository is added again.');
    if (r.ownerPassphraseChanged) out('keys/owner is sealed under the new owner passphrase: the old one no longer opens the repository.');
    else out(`If the owner passphrase may be known too, rotate with --new-password-file next time, or change it now: snapkeep key passphrase ${p}`);
    return EXIT.OK;
  } finally {
    await repo.close();
  }
}
