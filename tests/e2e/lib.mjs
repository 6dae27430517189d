// Helpers shared by the end-to-end test (run.mjs) and the soak benchmark (soak.mjs).
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, extname } from 'node:path';
import { gzipSync } from 'node:zlib';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.png': 'image/png', '.svg': 'image/svg+xml', '.webmanifest': 'application/manifest+json' };

// Serve a folder on a free port of 127.0.0.1; `served` lists the paths asked for. With `gzip`,
// bodies go out gzip-compressed where the browser accepts it (as any real web server would
// send them; compressed once per file), and `sent` counts the bytes on the wire per path.
export function serve(root, { gzip = false } = {}) {
  const served = [];
  const sent = new Map();
  const compressed = new Map();
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    served.push(path);
    try {
      const file = join(root, path === '/' ? 'index.html' : path);
      let body = await readFile(file);
      const headers = { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' };
      if (gzip && /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
        if (!compressed.has(file)) compressed.set(file, gzipSync(body, { level: 9 }));
        body = compressed.get(file);
        headers['content-encoding'] = 'gzip';
      }
      sent.set(path, (sent.get(path) ?? 0) + body.length);
      res.writeHead(200, headers);
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, served, sent, port: server.address().port })));
}

// Headless Debian Chromium with a fresh profile (Playwright's persistent context owns
// --user-data-dir) and the flags a CI machine without network needs. `options` go to Playwright
// (`serviceWorkers: 'block'` where a test must intercept requests: Playwright cannot see what a
// service worker answers).
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-quic', '--no-first-run'];
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

// The browser's own output (stderr: GPU process, compositor), the last lines of it, for the log
// when something goes wrong in the browser rather than in the page.
const browserLog = [];
const logger = {
  isEnabled: (name) => name === 'browser',
  log: (name, severity, message) => {
    browserLog.push(String(message).slice(0, 300));
    if (browserLog.length > 40) browserLog.shift();
  },
};
export const browserLogTail = (lines = 15) => browserLog.slice(-lines).join('\n');

export function launch(profile, extraArgs = [], options = {}) {
  return chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1200, height: 900 },
    acceptDownloads: true,
    logger,
    ...options,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
}

// How often a page stopped drawing and had to be woken (reported at the end of a test).
export const stalls = { frames: 0, kicks: 0, screenshots: 0 };

// Two rendered frames of the page, so what was scrolled into view or changed has been drawn.
// Headless Chromium now and then stops producing frames for a page while its scripts run on
// (about one cold CI run in ten: requestAnimationFrame never fires, scroll events never arrive,
// screenshots time out). Starting and stopping a screencast makes the compositor draw again;
// later tries also bring the page to the front and resize its viewport by a pixel and back.
// Throws, naming the browser's last words, when five kicks do not help.
export async function frames(page, tries = 5) {
  for (let kick = 0; ; kick++) {
    const drawn = await page.evaluate(() => new Promise((ok) => {
      const timer = setTimeout(() => ok(false), 1000);
      requestAnimationFrame(() => requestAnimationFrame(() => { clearTimeout(timer); ok(true); }));
    }));
    if (drawn) return;
    if (kick === 0) stalls.frames++;
    if (kick === tries) throw new Error(`the page drew no frame after ${tries} kicks; the browser's last output:\n${browserLogTail()}`);
    stalls.kicks++;
    await wake(page, kick);
  }
}

async function wake(page, kick) {
  const client = await page.context().newCDPSession(page);
  try {
    await client.send('Page.startScreencast', { format: 'jpeg', quality: 10, everyNthFrame: 1 });
    await new Promise((ok) => setTimeout(ok, 250));
    await client.send('Page.stopScreencast');
    if (kick >= 1) await client.send('Page.bringToFront');
  } finally {
    await client.detach();
  }
  const size = page.viewportSize();
  if (kick >= 2 && size) {
    await page.setViewportSize({ width: size.width + 1, height: size.height });
    await page.setViewportSize(size);
  }
}

// A screenshot taken once the page draws again (see `frames`); one more try after a kick.
export async function snap(target, options, page = target) {
  await frames(page);
  try {
    return await target.screenshot({ timeout: 20_000, ...options });
  } catch (e) {
    if (e?.name !== 'TimeoutError') throw e;
    stalls.screenshots++;
    await wake(page, 2);
    await frames(page);
    return await target.screenshot({ timeout: 30_000, ...options });
  }
}

// The same Chromium as a browser whose contexts start empty (`browser.newContext()`: nothing
// cached or compiled), for the benchmark's cold pages.
export function launchBrowser(extraArgs = []) {
  return chromium.launch({ executablePath, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

// A real drag and drop of paths (files or folders) from "the desktop" onto the drop zone.
export async function dropPaths(page, paths, zone = '[data-testid=dropzone]') {
  // Viewport coordinates: the zone must be on screen.
  await page.locator(zone).scrollIntoViewIfNeeded();
  const box = await page.locator(zone).boundingBox();
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  const client = await page.context().newCDPSession(page);
  const data = { items: [], files: paths, dragOperationsMask: 1 };
  for (const type of ['dragEnter', 'dragOver', 'drop']) {
    await client.send('Input.dispatchDragEvent', { type, x, y, data });
  }
  await client.detach();
}

// Unfold "Train on your own reference images" (folded until asked for, open from the first drop).
export async function openReference(page) {
  const details = page.locator('[data-testid=reference]');
  if (!(await details.evaluate((d) => d.open))) await details.locator('summary').click();
}

// The number of the run on show (0 before the first).
export async function runId(page) {
  return page.evaluate(() => Number(document.querySelector('[data-testid=summary]')?.dataset.run ?? 0));
}

// Wait for a later run than `after` to finish with `count` inputs.
export async function waitForBatch(page, after, count, timeout = 600_000) {
  await page.waitForFunction(([after, n]) => {
    const s = document.querySelector('[data-testid=summary]');
    if (!s || s.dataset.complete !== 'true' || Number(s.dataset.run) <= after) return false;
    const scored = Number(s.querySelector('[data-testid=scored]').textContent);
    const failed = Number(s.querySelector('[data-testid=failed]').textContent);
    return scored + failed === n && !document.querySelector('[data-testid=progress]');
  }, [after, count], { timeout, polling: 50 });
  await frames(page);
}

