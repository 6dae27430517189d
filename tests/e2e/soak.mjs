// Soak benchmark: drop thousands of PNG files (MNIST test digits, default 10,000) onto the real
// app in headless Chromium and check that
//  - every one is scored,
//  - memory stays bounded: JS heap and wasm linear memory are sampled every 250 ms and their
//    peaks reported; the same drop is made three times, and the third must peak no higher than
//    the second (wasm memory never shrinks, so the second drop, with the first batch still on
//    show while it starts, sets the high-water mark; a leak would add a batch's worth each time),
//  - the page keeps responding: no long task over 200 ms (Long Tasks API), and the round trip
//    of a tiny script into the page stays short while scoring,
//  - Cancel works midway: a third drop is cancelled after some images, keeps what was scored,
//    and the page takes a new drop afterwards.
// Prints the figures; exits 1 when a check fails.
//
// Usage: node soak.mjs <dist dir> <driftglass CLI binary> [count] [cpu|webgpu]
import { mkdtemp, rm, readdir } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { serve, launch, dropPaths, runId, waitForBatch } from './lib.mjs';

const [dist, cli] = process.argv.slice(2, 4).map((p) => resolve(p));
const count = Number(process.argv[4] ?? 10000);
const path = process.argv[5] ?? 'cpu';
const LONG_TASK_LIMIT_MS = 200;

let failures = 0;
const check = (ok, message) => { if (!ok) { failures++; console.log(`  FAIL ${message}`); } };
const mb = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

const work = await mkdtemp(join(tmpdir(), 'driftglass-soak-'));
const folder = join(work, 'digits');
execFileSync(cli, ['export-pngs', '--count', String(count), '--output', folder], { stdio: 'inherit' });
const files = (await readdir(folder)).length;
check(files === count, `${files} PNG files written, ${count} asked for`);

const { server, port } = await serve(dist);
const profile = await mkdtemp(join(tmpdir(), 'driftglass-chromium-'));
const extra = path === 'webgpu'
  ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader']
  : ['--disable-features=WebGPU'];
const browser = await launch(profile, ['--enable-precise-memory-info', ...extra]);
const page = browser.pages()[0] ?? await browser.newPage();
page.on('pageerror', (e) => { failures++; console.log(`  FAIL [pageerror] ${String(e).slice(0, 300)}`); });
// Before the app starts: record long tasks, and keep the wasm instance's memory when trunk's
// loader announces the started app.
await page.addInitScript(() => {
  window.__longTasks = [];
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) window.__longTasks.push({ start: entry.startTime, duration: entry.duration });
  }).observe({ type: 'longtask', buffered: true });
  addEventListener('TrunkApplicationStarted', (event) => { window.__wasm = event.detail?.wasm; });
});
await page.goto(`http://127.0.0.1:${port}/`);
await page.locator('[data-testid=backend]').filter({ hasNotText: 'starting' }).waitFor({ timeout: 120_000 });
const badge = await page.locator('[data-testid=backend]').textContent();

// The page's JS heap and wasm memory, and the scoring workers' wasm memory (each worker holds
// its own instance of the module; score-worker.js keeps its memory in self.driftglassMemory).
const memory = async () => {
  const own = await page.evaluate(() => ({
    heap: performance.memory?.usedJSHeapSize ?? 0,
    wasm: window.__wasm?.memory?.buffer?.byteLength ?? 0,
  }));
  let workers = 0;
  for (const worker of page.workers()) {
    workers += await worker.evaluate(() => self.driftglassMemory?.buffer?.byteLength ?? 0).catch(() => 0);
  }
  return { ...own, workers, workerCount: page.workers().length };
};
const scoredNow = () => page.evaluate(() => {
  const s = document.querySelector('[data-testid=summary]');
  return s ? Number(s.querySelector('[data-testid=scored]').textContent) + Number(s.querySelector('[data-testid=failed]').textContent) : 0;
});

// One full drop, sampled every 250 ms: memory, progress, and the page's response time.
async function fullDrop(label) {
  const run = await runId(page);
  const longBefore = await page.evaluate(() => window.__longTasks.length);
  // The first result: from the page receiving the drop event to the first summary of this run
  // in the DOM, both seen in the page (Playwright's side adds ~50-100 ms of its own to send
  // the drag events).
  const dropAt = await page.evaluate((run) => {
    window.__firstResult = undefined;
    let dropped;
    document.querySelector('[data-testid=dropzone]').addEventListener('drop', () => { dropped = performance.now(); }, { capture: true, once: true });
    const observer = new MutationObserver(() => {
      const s = document.querySelector('[data-testid=summary]');
      if (dropped !== undefined && s && Number(s.dataset.run) > run) {
        window.__firstResult = performance.now() - dropped;
        observer.disconnect();
      }
    });
    observer.observe(document.body, { childList: true, subtree: true, attributes: true });
    return performance.now();
  }, run);
  const started = Date.now();
  await dropPaths(page, [folder]);
  const peak = { heap: 0, wasm: 0, workers: 0, workerCount: 0 };
  let slowestResponse = 0;
  const sampler = (async () => {
    for (;;) {
      const asked = Date.now();
      const m = await memory();
      slowestResponse = Math.max(slowestResponse, Date.now() - asked);
      peak.heap = Math.max(peak.heap, m.heap);
      peak.wasm = Math.max(peak.wasm, m.wasm);
      peak.workers = Math.max(peak.workers, m.workers);
      peak.workerCount = Math.max(peak.workerCount, m.workerCount);
      if (await page.evaluate((run) => {
        const s = document.querySelector('[data-testid=summary]');
        return s && s.dataset.complete === 'true' && Number(s.dataset.run) > run;
      }, run)) return;
      await new Promise((ok) => setTimeout(ok, 250));
    }
  })();
  await waitForBatch(page, run, count, 1_800_000);
  // End to end: from the drop to the whole batch scored, tests and all (polled every 50 ms).
  const seconds = (Date.now() - started) / 1000;
  const firstSeenAt = Math.round(await page.evaluate(() => window.__firstResult));
  await sampler;
  // Long-task entries reach the observer after the task: give the last ones time to arrive.
  await new Promise((ok) => setTimeout(ok, 1500));
  const scored = Number(await page.locator('[data-testid=scored]').textContent());
  const tasks = await page.evaluate((from) => window.__longTasks.slice(from), longBefore);
  const longest = tasks.reduce((a, t) => Math.max(a, t.duration), 0);
  const over = tasks.filter((t) => t.duration > LONG_TASK_LIMIT_MS).length;
  const after = await memory();
  check(scored === count, `${label}: ${scored} of ${count} scored`);
  // The grid renders the rows in view, not ten thousand cards.
  const inDom = await page.locator('[data-testid=grid] article').count();
  const gridTotal = Number(await page.locator('[data-testid=grid]').getAttribute('data-total'));
  check(gridTotal === count && inDom > 0 && inDom <= 120, `${label}: the grid counts ${gridTotal} cards and holds ${inDom} in the DOM`);
  const overList = tasks.filter((t) => t.duration > LONG_TASK_LIMIT_MS).map((t) => `${t.duration.toFixed(0)} ms at +${((t.start - dropAt) / 1000).toFixed(1)} s`);
  check(over === 0, `${label}: ${over} long tasks over ${LONG_TASK_LIMIT_MS} ms: ${overList.join(', ')} (after the drop; ${seconds.toFixed(1)} s in all)`);
  console.log(`${label}: ${scored} of ${count} images scored in ${seconds.toFixed(1)} s (${(count / seconds).toFixed(0)} images/s, first result after ${firstSeenAt} ms); ` +
    `peak JS heap ${mb(peak.heap)}, peak wasm memory ${mb(peak.wasm)} (after: ${mb(after.heap)} / ${mb(after.wasm)}), ` +
    `scoring workers' wasm memory ${mb(peak.workers)} in ${peak.workerCount} workers; ` +
    `${inDom} of ${gridTotal} cards in the DOM; ${tasks.length} long tasks, longest ${longest.toFixed(0)} ms, ${over} over ${LONG_TASK_LIMIT_MS} ms; slowest page response while scoring ${slowestResponse} ms`);
  return peak;
}

console.log(`soak on ${path} (${badge}), ${count} PNG files`);
await fullDrop('drop 1');
const second = await fullDrop('drop 2 (same files again)');
const third = await fullDrop('drop 3 (same files again: memory must not grow)');
check(third.wasm <= second.wasm * 1.05 + 4 * 1024 * 1024, `wasm memory grew from ${mb(second.wasm)} to ${mb(third.wasm)}: a leak`);
check(third.workers <= second.workers * 1.05 + 4 * 1024 * 1024, `workers' wasm memory grew from ${mb(second.workers)} to ${mb(third.workers)}: a leak`);
check(third.heap <= second.heap * 1.5 + 16 * 1024 * 1024, `JS heap grew from ${mb(second.heap)} to ${mb(third.heap)}: a leak`);

// Cancel midway: the partial batch stays, marked incomplete, and the page still works.
{
  const run = await runId(page);
  await dropPaths(page, [folder]);
  const cancelAt = Math.min(2000, Math.floor(count / 3));
  await page.waitForFunction(([run, n]) => {
    const s = document.querySelector('[data-testid=summary]');
    return s && Number(s.dataset.run) > run && Number(s.querySelector('[data-testid=scored]').textContent) >= n;
  }, [run, cancelAt], { timeout: 600_000, polling: 50 });
  const asked = Date.now();
  await page.locator('[data-testid=cancel]').click();
  await page.waitForFunction(() => !document.querySelector('[data-testid=progress]'), null, { timeout: 60_000 });
  const stoppedMs = Date.now() - asked;
  const kept = await scoredNow();
  const complete = await page.locator('[data-testid=summary]').getAttribute('data-complete');
  await new Promise((ok) => setTimeout(ok, 1000));
  const later = await scoredNow();
  check(complete === 'false', `cancel: the batch says complete=${complete}`);
  check(kept >= cancelAt && kept < count, `cancel: ${kept} kept of ${count}`);
  check(later === kept, `cancel: scoring went on after Cancel (${kept} → ${later})`);
  const verdict = await page.locator('[data-testid=verdict]').count();
  console.log(`cancel: asked after ${cancelAt} images, stopped ${stoppedMs} ms later with ${kept} kept (complete=false, ${verdict ? 'verdict shown for them' : 'no verdict'})`);
}

await browser.close();
server.close();
await rm(profile, { recursive: true, force: true });
await rm(work, { recursive: true, force: true });
if (failures > 0) {
  console.log(`${failures} soak check(s) failed`);
  process.exit(1);
}
console.log('soak passed');
