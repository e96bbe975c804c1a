// What the format docs' field tables list, for the tests that hold them to
// the schemas (format-doc, v3-format-doc).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The field names in the first column of the table under `heading` of docs/<doc>. */
export function docFields(doc: string, heading: string): string[] {
  const text = fs.readFileSync(path.resolve(__dirname, '../../../../docs', doc), 'utf8');
  const at = text.indexOf(heading);
  if (at < 0) throw new Error(`no "${heading}" in docs/${doc}`);
  const lines = text.slice(at).split('\n').slice(1);
  const rows = lines.slice(lines.findIndex((l) => l.startsWith('|')));
  const out: string[] = [];
  for (const l of rows) {
    if (!l.startsWith('|')) break;
    const m = /^\|\s*`([A-Za-z]+)`/.exec(l);
    if (m?.[1]) out.push(m[1]);
  }
  return out.sort();
}
