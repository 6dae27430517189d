// Colour in the browser: 64×64 colour scoring and training throughput on the app itself, on
// the CPU path (scoring workers) and on WebGPU (SwiftShader here, a CPU emulation, unless
// --gpu), with the colour photo demo's model.
//
// Scoring: the page loads the colour model (a click on the demo's "Clean patches"), then a
// folder of `--count` 64×64 colour PNG patches is dropped `--runs` times; each drop is timed by
// the page itself, from the run's start to the finished batch with its tests (reading and
// decoding the files included); the first drop is reported apart from the warm ones. Training: the Reference step, colour at 64×64,
// on `--train` patches for one epoch (its own per-epoch time, in images per second).
//
// Usage: node colour.mjs <dist dir> <folder of patches> [--count N] [--train N] [--runs R] [--gpu]
import { mkdtemp, readdir, rm, copyFile, mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { serve, launch, dropPaths, runId, waitForBatch } from '../e2e/lib.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const dist = resolve(args[0] ?? '../../dist');
const patches = resolve(args[1] ?? '../../target/photo-demo/clean');
const count = Number(option('--count', 1000));
const trainCount = Number(option('--train', 200));
const runs = Number(option('--runs', 3));
const realGpu = args.includes('--gpu');

// The drops: `count` files (the patches repeated under new names).
const work = await mkdtemp(join(tmpdir(), 'driftglass-colour-'));
const available = (await readdir(patches)).filter((f) => f.endsWith('.png')).sort();
async function folderOf(name, size) {
  const folder = join(work, name);
  await mkdir(folder);
  for (let i = 0; i < size; i++) await copyFile(join(patches, available[i % available.length]), join(folder, `${String(i).padStart(5, '0')}.png`));
  return folder;
}
const drop = await folderOf('drop', count);
const reference = await folderOf('reference', trainCount);

const { server, port } = await serve(dist);
const rows = [];
for (const path of ['cpu', 'webgpu']) {
  const profile = await mkdtemp(join(tmpdir(), 'driftglass-chromium-'));
  const flags = path === 'cpu'
    ? ['--disable-features=WebGPU']
    : realGpu ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan'] : ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'];
  const browser = await launch(profile, flags);
  const page = browser.pages()[0] ?? await browser.newPage();
  page.on('pageerror', (e) => console.log(`  [pageerror] ${String(e).slice(0, 300)}`));
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => !/starting|checking/.test(document.querySelector('[data-testid=backend]')?.textContent ?? 'starting'), null, { timeout: 180_000 });
  if (path === 'webgpu') {
    if (!(await page.locator('[data-testid=backend]').textContent()).startsWith('WebGPU')) {
      await page.click('[data-testid=toggle-backend]');
      await page.waitForFunction(() => document.querySelector('[data-testid=backend]')?.textContent.startsWith('WebGPU'), null, { timeout: 180_000 });
    }
  }
  const badge = await page.locator('[data-testid=backend]').textContent();
  console.log(`${path}: ${badge}`);
  // The colour model, through the demo (its first set scored too: the workers' warm-up).
  let run = await runId(page);
  await page.click('[data-testid=photo-clean]');
  await waitForBatch(page, run, 40);
  console.log(`${path}: colour model loaded, first set scored`);
  const timings = [];
  const scoreCount = path === 'webgpu' && !realGpu ? Math.min(count, 200) : count;
  const folder = scoreCount === count ? drop : await folderOf(`drop-${path}`, scoreCount);
  for (let r = 0; r < runs; r++) {
    run = await runId(page);
    await dropPaths(page, [folder]);
    await waitForBatch(page, run, scoreCount, 600_000);
    // The page's own timing of the run: from its start to the finished batch, tests included.
    timings.push(Number(await page.locator('[data-testid=run-info]').getAttribute('data-total-ms')));
    console.log(`${path}: drop ${r + 1}: ${timings[timings.length - 1]} ms`);
  }
  const best = Math.min(...timings.slice(1).length ? timings.slice(1) : timings);
  rows.push({ path, badge, what: `score ${scoreCount} colour 64×64 PNGs`, first: timings[0], warm: timings.slice(1), perSecond: scoreCount / (best / 1000) });

  // Training: colour, 64×64, one epoch.
  await page.selectOption('[data-testid=train-channels]', '3');
  await page.selectOption('[data-testid=train-side]', '64');
  await dropPaths(page, [reference], '[data-testid=reference-dropzone]');
  await page.waitForFunction((n) => document.querySelector('[data-testid=reference-set]')?.dataset.images === String(n) && document.querySelector('[data-testid=reference-set]')?.dataset.channels === '3', trainCount, { timeout: 180_000 });
  await page.fill('[data-testid=train-epochs]', '1');
  await page.locator('[data-testid=train-epochs]').dispatchEvent('change');
  await page.click('[data-testid=train-start]');
  await page.locator('[data-testid=reference-done]').waitFor({ timeout: 1_200_000 });
  const perEpoch = Number(await page.locator('[data-testid=reference-done]').getAttribute('data-seconds-per-epoch'));
  const training = Math.round(trainCount * 0.8);
  rows.push({ path, badge, what: `train 1 epoch, colour 64×64, ${training} images`, first: perEpoch * 1000, warm: [], perSecond: training / perEpoch });
  await browser.close();
  await rm(profile, { recursive: true, force: true });
}
server.close();
await rm(work, { recursive: true, force: true });

console.log('| path | work | first (ms) | warm runs (ms) | images/s |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(`| ${r.badge} | ${r.what} | ${Math.round(r.first)} | ${r.warm.map((t) => Math.round(t)).join(', ') || '—'} | ${r.perSecond.toFixed(0)} |`);
}
