// The systemd unit and udev rules, from electron/helper/templates/ with
// their @PLACEHOLDERS@ filled. A placeholder left unfilled is a bug here,
// never a broken file on the user's system.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export async function renderTemplate(dir: string, name: string, values: Record<string, string>): Promise<string> {
  let text = await fs.readFile(path.join(dir, name), 'utf8');
  for (const [k, v] of Object.entries(values)) {
    // Values land inside "..." in the unit: a quote, backslash or line break would break out.
    if (/["\\\n\r]/.test(v)) throw new Error(`template value ${k} contains a quote, backslash or line break`);
    text = text.split(`@${k}@`).join(v);
  }
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`template ${name}: ${left[0]} was not filled`);
  return text;
}
