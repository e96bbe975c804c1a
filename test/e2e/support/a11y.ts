// Accessibility checks through Chromium's own accessibility tree (CDP): every
// control a keyboard or screen-reader user meets must have a name.
import type { Page } from 'playwright-core';

const CONTROLS = new Set(['button', 'textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'switch', 'link', 'listbox', 'slider', 'spinbutton', 'tab', 'menuitem', 'option']);

interface AXNode {
  ignored: boolean;
  role?: { value: string };
  name?: { value: string };
  backendDOMNodeId?: number;
}

/** Controls without an accessible name, as short HTML excerpts. */
export async function unnamedControls(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = (await cdp.send('Accessibility.getFullAXTree')) as { nodes: AXNode[] };
    const bad = nodes.filter((n) => !n.ignored && n.role && CONTROLS.has(n.role.value) && !(n.name?.value ?? '').trim());
    const out: string[] = [];
    for (const n of bad) {
      const html = n.backendDOMNodeId
        ? ((await cdp.send('DOM.getOuterHTML', { backendNodeId: n.backendDOMNodeId }).catch(() => ({ outerHTML: '?' }))) as { outerHTML: string }).outerHTML
        : '?';
      out.push(`${n.role?.value}: ${html.slice(0, 160)}`);
    }
    return out;
  } finally {
    await cdp.detach();
  }
}
