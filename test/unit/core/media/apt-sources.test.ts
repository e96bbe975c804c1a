// The medium is built from the mirror this machine's apt uses: one-line
// and deb822 sources, disabled stanzas skipped, Debian's own mirror when
// apt names none for the suite.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { aptMirrors } from '../../../../electron/core/media/apt-sources';

const dirs: string[] = [];
function etc(files: Record<string, string>): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'sk-apt-'));
  dirs.push(d);
  fs.mkdirSync(path.join(d, 'sources.list.d'));
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(d, name), text);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('aptMirrors', () => {
  it('reads deb822 sources and skips a disabled stanza', () => {
    const d = etc({
      'sources.list.d/debian.sources': [
        'Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no',
        'Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main',
        'Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\nComponents: main',
        'Types: deb\nURIs: http://sec.example/debian-security\nSuites: bookworm-security\nComponents: main',
      ].join('\n\n'),
    });
    expect(aptMirrors('bookworm', d)).toEqual({ main: 'http://mirror.example/debian', security: 'http://sec.example/debian-security' });
  });

  it('reads one-line sources with options', () => {
    const d = etc({ 'sources.list': '# deb http://old.example/debian bookworm main\n' +
      'deb [arch=amd64 signed-by=/k.gpg] http://local:3142/debian bookworm main\n' +
      'deb http://local:3142/security bookworm-security main\n' });
    expect(aptMirrors('bookworm', d)).toEqual({ main: 'http://local:3142/debian', security: 'http://local:3142/security' });
  });

  it("falls back to Debian's mirrors when apt names none for the suite", () => {
    const d = etc({ 'sources.list': 'deb http://mirror.example/debian trixie main\n' });
    expect(aptMirrors('bookworm', d)).toEqual({ main: 'http://deb.debian.org/debian', security: 'http://deb.debian.org/debian-security' });
  });
});
