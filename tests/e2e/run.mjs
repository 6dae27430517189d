// End-to-end test of the trunk-built app (dist/) in Debian's headless Chromium.
//
// For each backend path (WebGPU via SwiftShader, and CPU with WebGPU unavailable) it drops real
// image files through a real drop event, waits for the results, and checks every number shown
// against `driftglass score --json` on the same files (to 1e-4). It also checks that the page
// makes no request other than for its own static assets, and saves a full-page screenshot.
//
// Usage: node run.mjs <dist dir> <driftglass CLI binary> <fixtures dir>
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { readFile, readdir, mkdir, rm, mkdtemp } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join, extname, resolve } from 'node:path';
import { tmpdir } from 'node:os';

const [dist, cli, fixtures] = process.argv.slice(2).map((p) => resolve(p));
const artifacts = resolve('../artifacts');
const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css', '.png': 'image/png' };

function serve(root) {
  const served = [];
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    served.push(path);
    try {
      const file = join(root, path === '/' ? 'index.html' : path);
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end();
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, served, port: server.address().port })));
}

function cliScores(files) {
  let stdout;
  try {
    stdout = execFileSync(cli, ['score', '--json', ...files], { encoding: 'utf8' });
  } catch (error) {
    stdout = error.stdout; // exit status 3: some files failed, report still printed
  }
  const report = JSON.parse(stdout);
  const byName = new Map(report.images.map((i) => [i.name.split('/').pop(), i]));
  return { report, byName };
}

async function dropFiles(page, files) {
  const payload = [];
  for (const file of files) {
    payload.push({ name: file.split('/').pop(), bytes: [...(await readFile(file))] });
  }
  const dataTransfer = await page.evaluateHandle((items) => {
    const dt = new DataTransfer();
    for (const item of items) dt.items.add(new File([new Uint8Array(item.bytes)], item.name));
    return dt;
  }, payload);
  await page.dispatchEvent('[data-testid=dropzone]', 'drop', { dataTransfer });
}

async function runPath(label, extraArgs, files, expected, port) {
  const profile = await mkdtemp(join(tmpdir(), 'driftglass-chromium-'));
  // A fresh profile directory per run (Playwright's persistent context owns --user-data-dir).
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1200, height: 900 },
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--no-first-run', ...extraArgs],
  });
  const page = browser.pages()[0] ?? await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') console.log(`  [console] ${m.text().slice(0, 300)}`); });
  page.on('pageerror', (e) => console.log(`  [pageerror] ${String(e).slice(0, 300)}`));
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));
  const started = Date.now();
  await page.goto(`http://127.0.0.1:${port}/`);
  const badge = page.locator('[data-testid=backend]');
  await badge.filter({ hasNotText: 'starting' }).waitFor({ timeout: 120_000 });
  const badgeText = await badge.textContent();
  const interactive = Date.now() - started;
  const dropStart = Date.now();
  await dropFiles(page, files);
  await page.locator('[data-testid=summary]').waitFor({ timeout: 600_000 });
  const firstResult = Date.now() - dropStart;
  const cards = await page.locator('[data-testid=card]').evaluateAll((els) =>
    els.map((e) => ({ name: e.dataset.name, loss: Number(e.dataset.loss), p: Number(e.dataset.pValue) })));
  const errors = await page.locator('[data-testid=card-error]').evaluateAll((els) =>
    els.map((e) => ({ name: e.dataset.name, text: e.querySelector('.error').textContent })));
  const ratio = Number(await page.locator('[data-testid=ratio]').getAttribute('data-value'));
  let failures = 0;
  const check = (ok, message) => { if (!ok) { failures++; console.log(`  FAIL ${message}`); } };
  for (const card of cards) {
    const want = expected.byName.get(card.name);
    check(want?.status === 'scored', `${card.name} scored in browser but not by CLI`);
    if (want) {
      check(Math.abs(card.loss - want.loss) < 1e-4, `${card.name} loss ${card.loss} vs CLI ${want.loss}`);
      // The CPU kernels of wasm (simd128) and native (AVX) sum in different orders, so losses
      // differ by ~1e-7; that can move an image past one baseline image: one rank = 1/(n+1).
      const rank = 1 / (expected.report.model.baseline.count + 1);
      check(Math.abs(card.p - want.p_value) <= rank + 1e-9, `${card.name} p ${card.p} vs CLI ${want.p_value}`);
    }
  }
  for (const error of errors) {
    const want = expected.byName.get(error.name);
    check(want?.status === 'failed' && want.error === error.text, `${error.name}: "${error.text}" vs CLI "${want?.error}"`);
  }
  const scoredByCli = [...expected.byName.values()].filter((i) => i.status === 'scored').length;
  check(cards.length === scoredByCli, `${cards.length} cards vs ${scoredByCli} scored by CLI`);
  check(errors.length === expected.byName.size - scoredByCli, `${errors.length} error cards`);
  check(Math.abs(ratio - expected.report.batch.loss_ratio) < 1e-4, `ratio ${ratio} vs CLI ${expected.report.batch.loss_ratio}`);
  const origin = `http://127.0.0.1:${port}/`;
  const foreign = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:'));
  check(foreign.length === 0, `requests outside the app: ${foreign.join(', ')}`);
  await mkdir(artifacts, { recursive: true });
  const shot = join(artifacts, `app-${label}.png`);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`${label}: backend "${badgeText}", interactive after ${interactive} ms, ${files.length} files dropped, ` +
    `results after ${firstResult} ms, ${cards.length} scored, ${errors.length} errors, ratio ${ratio.toFixed(6)}, ` +
    `${requests.length} requests (all same-origin: ${foreign.length === 0}), screenshot ${shot}`);
  await browser.close();
  await rm(profile, { recursive: true, force: true });
  return failures;
}

const mixed = join(fixtures, 'mixed');
const files = (await readdir(mixed)).sort().map((f) => join(mixed, f));
const expected = cliScores(files);
const { server, port } = await serve(dist);
let failures = 0;
failures += await runPath('cpu', ['--disable-features=WebGPU'], files, expected, port);
failures += await runPath('webgpu', ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'], files, expected, port);
server.close();
if (failures > 0) {
  console.log(`${failures} check(s) failed`);
  process.exit(1);
}
console.log('all end-to-end checks passed');
