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

export function launch(profile, extraArgs = [], options = {}) {
  return chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    viewport: { width: 1200, height: 900 },
    acceptDownloads: true,
    ...options,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
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
}

