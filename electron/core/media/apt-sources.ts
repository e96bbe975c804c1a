// The Debian mirror this machine's apt uses, so the medium is built from
// the same place as the system's updates (a local mirror or proxy keeps
// working offline from deb.debian.org).
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface AptMirrors {
  main: string;
  security: string;
}

const DEFAULTS: AptMirrors = {
  main: 'http://deb.debian.org/debian',
  security: 'http://deb.debian.org/debian-security',
};

interface Source {
  uri: string;
  suites: string[];
}

/** One-line `deb URI suite components` entries. */
function parseList(text: string): Source[] {
  const out: Source[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (m?.[1] && m[2]) out.push({ uri: m[1], suites: [m[2]] });
  }
  return out;
}

/** deb822 `.sources` stanzas. */
function parseDeb822(text: string): Source[] {
  const out: Source[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined =>
      new RegExp(`^${name}:\\s*(.+)$`, 'mi').exec(stanza)?.[1]?.trim();
    const types = field('Types') ?? '';
    const uris = field('URIs');
    const suites = field('Suites');
    if (!types.split(/\s+/).includes('deb') || !uris || !suites || /^Enabled:\s*no/mi.test(stanza)) continue;
    for (const uri of uris.split(/\s+/)) out.push({ uri, suites: suites.split(/\s+/) });
  }
  return out;
}

function readSources(etc: string): Source[] {
  const out: Source[] = [];
  const read = (f: string): string => {
    try {
      return fs.readFileSync(f, 'utf8');
    } catch {
      return '';
    }
  };
  out.push(...parseList(read(path.join(etc, 'sources.list'))));
  const dir = path.join(etc, 'sources.list.d');
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir).sort();
  } catch {
    // No directory: sources.list alone.
  }
  for (const n of names) {
    if (n.endsWith('.list')) out.push(...parseList(read(path.join(dir, n))));
    else if (n.endsWith('.sources')) out.push(...parseDeb822(read(path.join(dir, n))));
  }
  return out;
}

/** The mirrors apt uses for `suite` and `suite`-security; Debian's own when apt names none. */
export function aptMirrors(suite: string, etc = '/etc/apt'): AptMirrors {
  const sources = readSources(etc);
  const main = sources.find((s) => s.suites.includes(suite))?.uri;
  const security = sources.find((s) => s.suites.includes(`${suite}-security`))?.uri;
  return {
    main: (main ?? DEFAULTS.main).replace(/\/$/, ''),
    security: (security ?? DEFAULTS.security).replace(/\/$/, ''),
  };
}
