#!/usr/bin/env node
/* global process, console */
// Renders the app icon and the tray icons from the SVGs below into PNGs
// with Debian's Chromium (no image tools needed). The PNGs are committed;
// run this only after changing a drawing:
//   node build/resources/render-icons.mjs
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));

// The app icon: a disk platter inside a circular "keep" arrow.
const app = `
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 256 256">
  <rect x="8" y="8" width="240" height="240" rx="52" fill="#059669"/>
  <path d="M128 44a84 84 0 1 1-79.9 58" fill="none" stroke="#fff" stroke-width="18" stroke-linecap="round"/>
  <path d="M56 74L68 114L26 100Z" fill="#fff" stroke="#fff" stroke-width="6" stroke-linejoin="round"/>
  <circle cx="128" cy="128" r="42" fill="#fff"/>
  <circle cx="128" cy="128" r="12" fill="#059669"/>
</svg>`;

// Tray: the same shape, monochrome light grey so it reads on dark and light
// panels, with a coloured status badge.
const badge = { idle: null, running: '#3b82f6', attention: '#f59e0b', error: '#ef4444' };
const tray = (color) => `
<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">
  <path d="M16 4a12 12 0 1 1-11.4 8.3" fill="none" stroke="#d8dee4" stroke-width="3" stroke-linecap="round"/>
  <path d="M6 8L8 14L1.3 12Z" fill="#d8dee4" stroke="#d8dee4" stroke-width="1" stroke-linejoin="round"/>
  <circle cx="16" cy="16" r="6" fill="#d8dee4"/>
  <circle cx="16" cy="16" r="1.8" fill="#3a3f45"/>
  ${color ? `<circle cx="25" cy="25" r="6.5" fill="${color}" stroke="#1f2328" stroke-width="1.5"/>` : ''}
</svg>`;

async function render(page, svg, size, file) {
  await page.setViewportSize({ width: size, height: size });
  await page.setContent(`<html><body style="margin:0;background:transparent">${svg.replace('<svg ', `<svg width="${size}" height="${size}" `)}</body></html>`);
  mkdirSync(dirname(file), { recursive: true });
  await page.screenshot({ path: file, omitBackground: true, clip: { x: 0, y: 0, width: size, height: size } });
}

const browser = await chromium.launch({ executablePath: process.env.SNAPKEEP_CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage();
for (const size of [16, 32, 48, 64, 128, 256, 512]) await render(page, app, size, join(here, 'icons', `${size}x${size}.png`));
await render(page, app, 512, join(here, 'icon.png'));
for (const [name, color] of Object.entries(badge)) {
  await render(page, tray(color), 22, join(here, 'tray', `${name}.png`));
  await render(page, tray(color), 44, join(here, 'tray', `${name}@2x.png`));
}
await browser.close();
console.log('icons written to', here);
