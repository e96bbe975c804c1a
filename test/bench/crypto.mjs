#!/usr/bin/env node
// npm run bench:crypto: the candidate chunk-id hashes and AEADs of
// docs/repository-format.md ("Algorithms"), each on one thread over the
// same buffers, in MB/s (10^6 bytes per second). What new repositories use
// was chosen from these figures (/work/notes/fastcrypto.md has a run).
//
//   node test/bench/crypto.mjs [--sizes 262144,1048576] [--seconds 0.5]
//
// Needs `npm run build` (the addon and out/js). The loop runs in C++, so
// the figures are the primitives', not N-API's. The machine may be shared:
// run it twice and trust the higher figures.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const { benchPrimitive, fastCryptoAvailable } = await import(path.join(ROOT, 'out/js/native/engine.js'));

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
}

const sizes = arg('sizes', `${256 * 1024},${1024 * 1024}`).split(',').map(Number);
const seconds = Number(arg('seconds', '0.5'));

const PRIMITIVES = [
  ['blake2b-keyed', 'chunk id', 'keyed BLAKE2b-256, libsodium (classic set)'],
  ['hmac-sha256', 'chunk id', 'HMAC-SHA-256, OpenSSL (fast set)'],
  ['sha256', 'reference', 'plain SHA-256, OpenSSL (what SHA-NI gives)'],
  ['xchacha20poly1305', 'AEAD', 'XChaCha20-Poly1305, libsodium (classic set)'],
  ['aes256gcm', 'AEAD', 'AES-256-GCM + HMAC subkey per message, OpenSSL (fast set)'],
  ['aes256gcm-raw', 'reference', 'AES-256-GCM one key, OpenSSL'],
  ['aes256gcm-sodium', 'reference', 'AES-256-GCM one key, libsodium'],
];

const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 'unknown';
const shown = ['sha_ni', 'aes', 'pclmulqdq', 'vaes', 'vpclmulqdq', 'avx2', 'avx512f', 'avx512vl'];
console.log(`bench:crypto: ${model}`);
console.log(`CPU flags: ${shown.map((f) => `${f}${flags.has(f) ? '+' : '-'}`).join(' ')}; fast set available: ${fastCryptoAvailable()}`);
console.log(`one thread, ${seconds} s per figure, MB/s (higher is better)\n`);

/** MB/s of one primitive at one size: rounds grown until a run lasts `seconds`. */
function measure(name, size) {
  let rounds = 1;
  for (;;) {
    const ns = benchPrimitive(name, size, rounds);
    if (ns < 0) return null;
    if (ns >= seconds * 1e9 || rounds >= 1e6) return (size * rounds) / (ns / 1e9) / 1e6;
    rounds = Math.min(1e6, Math.max(rounds * 2, Math.ceil((rounds * seconds * 1e9) / Math.max(ns, 1))));
  }
}

const figures = {};
const head = ['primitive', 'role', ...sizes.map((s) => `${s / 1024} KiB`)];
console.log(head.map((h, i) => (i < 2 ? h.padEnd(i ? 10 : 19) : h.padStart(10))).join(' '));
for (const [name, role, what] of PRIMITIVES) {
  figures[name] = {};
  const cells = sizes.map((s) => {
    const mbs = measure(name, s);
    figures[name][s] = mbs === null ? null : Math.round(mbs);
    return (mbs === null ? 'n/a' : mbs.toFixed(0)).padStart(10);
  });
  console.log(`${name.padEnd(19)} ${role.padEnd(10)} ${cells.join(' ')}   ${what}`);
}
console.log(JSON.stringify({ cpu: model, flags: shown.filter((f) => flags.has(f)), fast: fastCryptoAvailable(), figures }));
