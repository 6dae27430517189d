// First-load benchmark: how long a visitor with an empty cache waits until the page can score
// (the backend badge leaves "starting": the bundled model decoded, the CPU path ready), at full
// speed and with Chromium's network emulation at 10 Mbit/s. The server sends gzip, as a real one
// would, and counts what it has written by then (the service worker's first install fetches the
// page's files a second time; with the browser's cache off, as here, that doubles the count).
// A benchmark, not a test: it prints a table.
//
//   node load.mjs <dist> [runs]        (cargo xtask bench-load [--release])
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve, launch } from './lib.mjs';

const [dist, runsArg] = process.argv.slice(2);
if (!dist) throw new Error('usage: node load.mjs <dist> [runs]');
const runs = Number(runsArg ?? 5);
const MBIT = 1_000_000 / 8;

async function once(port, sent, served, throttle, gpu) {
  const profile = await mkdtemp(join(tmpdir(), 'driftglass-load-'));
  // Without WebGPU flags Debian's headless Chromium offers no adapter: the CPU path, as on
  // most machines without a GPU; with them (SwiftShader) the WebGPU module is fetched later.
  const flags = gpu ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'] : [];
  const browser = await launch(profile, flags);
  const page = browser.pages()[0] ?? await browser.newPage();
  const client = await page.context().newCDPSession(page);
  await client.send('Network.enable');
  await client.send('Network.setCacheDisabled', { cacheDisabled: true });
  if (throttle) {
    await client.send('Network.emulateNetworkConditions', {
      offline: false, latency: 20, downloadThroughput: throttle * MBIT, uploadThroughput: throttle * MBIT,
    });
  }
  // The moment the badge leaves "starting", seen by an observer in the page, from the start of
  // the navigation (Playwright's own waiting polls at up to 500 ms apart: it read ~1.0 or ~1.5 s
  // for the same load).
  await page.addInitScript(() => {
    const observer = new MutationObserver(() => {
      const badge = document.querySelector('[data-testid=backend]');
      if (badge && !badge.textContent.includes('starting')) {
        window.__interactiveAt = performance.now();
        observer.disconnect();
      }
    });
    observer.observe(document, { subtree: true, childList: true, characterData: true });
  });
  sent.clear();
  served.length = 0;
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.locator('[data-testid=backend]').filter({ hasNotText: 'starting' }).waitFor({ timeout: 120_000 });
  const interactive = Math.round(await page.evaluate(() => window.__interactiveAt));
  const bytes = [...sent.values()].reduce((a, b) => a + b, 0);
  const files = [...new Set(served)].sort();
  await browser.close();
  await rm(profile, { recursive: true, force: true });
  return { interactive, bytes, files };
}

const { server, sent, served, port } = await serve(dist, { gzip: true });
console.log(`first load of ${dist}: empty cache, gzip, ${runs} runs each; headless Chromium; interactive = the page can score (badge set, from the start of navigation)`);
console.log('network               WebGPU adapter    interactive median (min–max)   bytes served by then           files');
for (const [name, throttle] of [['full speed (loopback)', 0], ['10 Mbit/s, 20 ms', 10]]) {
  for (const gpu of [false, true]) {
    const results = [];
    for (let i = 0; i < runs; i++) results.push(await once(port, sent, served, throttle, gpu));
    const times = results.map((r) => r.interactive).sort((a, b) => a - b);
    const last = results[results.length - 1];
    console.log(`${name.padEnd(22)}${(gpu ? 'yes (SwiftShader)' : 'none').padEnd(18)}${`${times[Math.floor(times.length / 2)]} ms (${times[0]}–${times[times.length - 1]})`.padEnd(31)}${String(last.bytes).padEnd(31)}${last.files.join(' ')}`);
  }
}
server.close();
