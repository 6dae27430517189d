// Driftglass against TensorFlow.js 4.22 in headless Chromium: the same real MNIST test images,
// the same architecture and weights. Each engine runs in a fresh page (a new browser context:
// nothing cached or compiled) per batch size, so its first result is cold; then the same
// warm-up and timed runs for all. Three comparisons on the CPU, each labelled: one thread
// against one thread (ours on the page's thread; TF.js asked for one with setThreadsCount), N
// against N (our N scoring workers; TF.js asked for N: it may cap lower, and the table says so)
// and defaults against defaults; plus WebGPU against TF.js webgpu. Each engine reports the
// threads it really used (tf.wasm.getThreadsCount() for TF.js). Outputs that differ from ours
// (one thread) by more than 1e-4 fail the run.
//
// The pages are cross-origin isolated (COOP/COEP), so TF.js' wasm backend may use its
// threaded SIMD build.
//
// Usage: node bench.mjs <dist dir> <MNIST folder> [--count N] [--gpu-count N] [--batch B[,B...]] [--repeats R]
//        [--engines E[,E...]] [--no-decode] [--gpu]   (--gpu: a machine with a real GPU: Chromium's WebGPU on Vulkan, not SwiftShader)
import { createServer } from 'node:http';
import { readFile, readdir } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join, extname, resolve, basename } from 'node:path';
import { launchBrowser } from '../e2e/lib.mjs';

const args = process.argv.slice(2);
const option = (name, fallback) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : fallback; };
const dist = resolve(args[0] ?? '../../dist');
const mnist = resolve(args[1] ?? '../../../shared/data/mnist');
const count = Number(option('--count', 1024));
const realGpuFlag = args.includes('--gpu');
// On SwiftShader (no real GPU) the WebGPU engines time fewer images: they are ~100× slower.
const gpuCount = Number(option('--gpu-count', realGpuFlag ? count : 128));
const batches = option('--batch', '32,256').split(',').map(Number);
const repeats = Number(option('--repeats', 7));
const realGpu = args.includes('--gpu');
const here = resolve('.');
const tfjs = (pkg) => join(here, 'node_modules', '@tensorflow', pkg, 'dist');

// The first `count` MNIST test images as float32 in [0, 1].
async function mnistPixels() {
  let bytes;
  try { bytes = gunzipSync(await readFile(join(mnist, 't10k-images-idx3-ubyte.gz'))); } catch { bytes = await readFile(join(mnist, 't10k-images-idx3-ubyte')); }
  const pixels = new Float32Array(count * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = bytes[16 + (i % (10000 * 784))] / 255;
  return Buffer.from(pixels.buffer);
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.css': 'text/css' };
const ROUTES = [['/tfjs-wasm/', tfjs('tfjs-backend-wasm')], ['/tfjs-webgpu/', tfjs('tfjs-backend-webgpu')], ['/tfjs/', tfjs('tfjs')], ['/dist/', dist], ['/', here]];

function serve(pixels) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const headers = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };
    if (path === '/mnist.f32') {
      res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream' });
      res.end(pixels);
      return;
    }
    const [prefix, root] = ROUTES.find(([p]) => path.startsWith(p));
    const file = join(root, path.slice(prefix.length) || 'bench.html');
    try {
      const body = await readFile(file);
      res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404, headers);
      res.end();
    }
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, port: server.address().port })));
}

const html = await readFile(join(dist, 'index.html'), 'utf8');
const glue = /\/(driftglass-web-[0-9a-f]+\.js)/.exec(html)?.[1];
const wasm = /\/(driftglass-web-[0-9a-f]+_bg\.wasm)/.exec(html)?.[1];
if (!glue || !wasm) throw new Error(`no driftglass-web module in ${dist}/index.html: build the app first`);
const { server, port } = await serve(await mnistPixels());
// CPU engines run where the browser offers no WebGPU (so our app does not start its WebGPU
// measurement beside them); the WebGPU engines in a browser with WebGPU.
const cpuBrowser = await launchBrowser(['--disable-features=WebGPU']);
const gpuFlags = realGpu
  ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=vulkan', '--ignore-gpu-blocklist']
  : ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'];
const gpuBrowser = await launchBrowser(gpuFlags);

// A page in a fresh browser context: nothing cached, nothing compiled, nothing run.
async function freshPage(browser) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.log(`  [pageerror] ${String(e).slice(0, 300)}`));
  await page.goto(`http://127.0.0.1:${port}/bench.html`);
  await page.waitForFunction(() => typeof window.runEngine === 'function' && typeof window.tf === 'object');
  return { context, page };
}

const modules = { glue: `/dist/${glue}`, wasm: `/dist/${wasm}` };
let setup = await freshPage(cpuBrowser);
const weights = JSON.parse(await setup.page.evaluate((m) => window.bundledWeights(m), modules));
const about = await setup.page.evaluate(() => ({
  chrome: /Chrome\/[\d.]+/.exec(navigator.userAgent)?.[0] ?? navigator.userAgent, tfjs: tf.version.tfjs, cores: navigator.hardwareConcurrency, isolated: self.crossOriginIsolated,
}));
await setup.context.close();
setup = await freshPage(gpuBrowser);
const adapter = await setup.page.evaluate(async () => {
  const a = await navigator.gpu?.requestAdapter();
  return a ? [a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') || 'unnamed' : 'none';
});
await setup.context.close();

// The engines, each in its own fresh page per batch size. `threads`: see page.js.
const allEngines = ['driftglass-cpu', 'tfjs-wasm', 'driftglass-webgpu', 'tfjs-webgpu'];
const engines = option('--engines', allEngines.join(',')).split(',');
for (const e of engines) if (!allEngines.includes(e)) throw new Error(`unknown engine ${e}; known: ${allEngines.join(', ')}`);
console.log(`${count} MNIST test images; ${about.chrome}; TF.js ${about.tfjs}; ${about.cores} hardware threads; cross-origin isolated: ${about.isolated}; WebGPU adapter: ${adapter}`);
console.log(`each engine in a fresh page (new browser context) per batch size: the first result is cold; then 2 warm-up runs and ${repeats} timed runs, for every engine alike`);

const rows = [];
let failed = false;
async function measure(label, engine, threads, batch) {
  if (!engines.includes(engine)) return null;
  const gpu = engine.endsWith('webgpu');
  const { context, page } = await freshPage(gpu ? gpuBrowser : cpuBrowser);
  const n = gpu ? Math.min(gpuCount, count) : count;
  try {
    const r = await page.evaluate((o) => window.runEngine(o), {
      ...modules, pixelsUrl: '/mnist.f32', weights, count: n, batch: Math.min(batch, n), warmup: 2, repeats, engine, threads,
    });
    const row = { label, engine, batch, images: n, ...r, output: new Float32Array(Buffer.from(r.output, 'base64').buffer.slice(0)) };
    rows.push(row);
    return row;
  } catch (error) {
    failed = true;
    console.log(`  ${label} (batch ${batch}) failed: ${String(error).split('\n')[0]}`);
    return null;
  } finally {
    await context.close();
  }
}

const comparisons = [];
for (const batch of batches) {
  const oursOne = await measure('ours, 1 thread', 'driftglass-cpu', 1, batch);
  const tfOne = await measure('TF.js wasm, asked for 1 thread', 'tfjs-wasm', 1, batch);
  const oursMany = await measure('ours, default (scoring workers)', 'driftglass-cpu', null, batch);
  const workers = oursMany?.threads ?? Math.min(about.cores, 4);
  const tfMany = workers > 1 ? await measure(`TF.js wasm, asked for ${workers} threads`, 'tfjs-wasm', workers, batch) : null;
  const tfDefault = await measure('TF.js wasm, default', 'tfjs-wasm', null, batch);
  const oursGpu = await measure('ours, WebGPU', 'driftglass-webgpu', null, batch);
  const tfGpu = await measure('TF.js webgpu', 'tfjs-webgpu', null, batch);
  comparisons.push({ batch, pairs: [
    ['one thread each', oursOne, tfOne],
    [`${workers} threads each`, workers > 1 ? oursMany : null, tfMany],
    ['defaults (as a user gets them)', oursMany, tfDefault],
    ['WebGPU', oursGpu, tfGpu],
  ] });
}
const pad = (s, n) => String(s).padEnd(n);
// Every engine computes the same thing: outputs that differ from ours (one thread) by more than
// float rounding fail the run.
const MAX_DIFF = 1e-4;
for (const r of rows) {
  const reference = rows.find((x) => x.engine === 'driftglass-cpu' && x.threads === 1 && x.batch === r.batch);
  r.maxDiff = null;
  if (reference) {
    const n = Math.min(reference.output.length, r.output.length);
    r.maxDiff = 0;
    for (let i = 0; i < n; i++) r.maxDiff = Math.max(r.maxDiff, Math.abs(reference.output[i] - r.output[i]));
  }
}
console.log('');
console.log(`${pad('engine', 40)}${pad('backend', 52)}${pad('threads', 9)}${pad('images', 8)}${pad('batch', 7)}${pad('images/s median (min–max)', 28)}${pad('first result (cold)', 21)}max |Δ| vs ours (1 thread)`);
for (const r of rows) {
  console.log(`${pad(r.label, 40)}${pad(r.backend, 52)}${pad(r.threads, 9)}${pad(r.images, 8)}${pad(r.batch, 7)}${pad(`${r.median.toFixed(0)} (${r.min.toFixed(0)}–${r.max.toFixed(0)})`, 28)}${pad(`${r.firstMs.toFixed(0)} ms`, 21)}${r.maxDiff === null ? '—' : r.maxDiff.toExponential(1)}`);
}
const differing = rows.filter((r) => r.maxDiff !== null && !(r.maxDiff <= MAX_DIFF));
for (const r of differing) console.log(`FAIL ${r.label} (batch ${r.batch}): outputs differ from ours (1 thread) by ${r.maxDiff}, more than ${MAX_DIFF}`);
if (differing.length > 0 || failed) process.exitCode = 1;
console.log('');
for (const { batch, pairs } of comparisons) {
  for (const [what, ours, theirs] of pairs) {
    if (!ours || !theirs) continue;
    const caps = typeof theirs.threads === 'number' && typeof ours.threads === 'number' && theirs.threads < ours.threads
      ? ` (TF.js was asked for ${ours.threads} and runs ${theirs.threads}: it caps there)` : '';
    console.log(`batch ${batch}, ${what}: ours ${ours.threads} / TF.js ${theirs.threads}: throughput ${(ours.median / theirs.median).toFixed(2)}×, cold first result ${ours.firstMs.toFixed(0)} ms vs ${theirs.firstMs.toFixed(0)} ms${caps}`);
  }
}
if (!realGpu) console.log('(WebGPU here is SwiftShader, a CPU emulation: these are not GPU figures)');

if (args.includes('--no-decode')) {
  await Promise.all([cpuBrowser.close(), gpuBrowser.close()]);
  server.close();
  process.exit();
}

// Decoding and preprocessing: the 100 PNG files of tests/fixtures/drop-100 (MNIST digits, ~250
// bytes each), 10 rounds = 1,000 files per timed run; and photo-sized JPEG and PNG files made
// in the page from a real photograph (`--photo FILE`, a PNG: `cargo xtask bench` takes
// scikit-image's coffee.png, CC0, from its wheel on PyPI).
const drop = join(here, '..', 'fixtures', 'drop-100');
const pngs = await Promise.all((await readdir(drop)).sort().map(async (f) => [...(await readFile(join(drop, f)))]));
const photoPath = option('--photo', null);
const sets = [{ name: '28×28 PNG (MNIST digits)', files: pngs, rounds: 10 }];
if (photoPath) {
  for (const [width, height, rounds] of [[640, 480, 20], [1920, 1080, 5], [4000, 3000, 2]]) {
    for (const type of ['image/jpeg', 'image/png']) {
      sets.push({ name: `${width}×${height} ${type === 'image/jpeg' ? 'JPEG' : 'PNG'}`, width, height, type, rounds });
    }
  }
}
const decodePage = await freshPage(cpuBrowser);
const decode = await decodePage.page.evaluate((options) => window.runDecodeBenchmark(options), {
  ...modules, sets, photo: photoPath ? [...(await readFile(photoPath))] : null, repeats: Math.min(repeats, 5),
});
await decodePage.context.close();
console.log('');
console.log(`decoding and preprocessing to 28×28 gray, one file in flight${photoPath ? `; photos: ${basename(photoPath)} tiled to each size` : ''}`);
console.log(`${pad('files', 28)}${pad('file size', 12)}${pad('decoder', 30)}${pad('files', 7)}${pad('decoded', 9)}files/s median (min–max)`);
for (const r of decode) {
  console.log(`${pad(r.set, 28)}${pad(`${(r.bytes / 1024).toFixed(0)} KiB`, 12)}${pad(r.decoder, 30)}${pad(r.files, 7)}${pad(r.decoded, 9)}${r.median.toFixed(r.median < 10 ? 1 : 0)} (${r.min.toFixed(r.min < 10 ? 1 : 0)}–${r.max.toFixed(r.max < 10 ? 1 : 0)})`);
}
const bySet = new Map();
for (const r of decode) bySet.set(r.set, [...(bySet.get(r.set) ?? []), r]);
for (const [set, [a, b]] of bySet) {
  const faster = a.median >= b.median ? a : b;
  console.log(`${set}: faster ${faster.decoder} (${(Math.max(a.median, b.median) / Math.min(a.median, b.median)).toFixed(2)}×)`);
}
await Promise.all([cpuBrowser.close(), gpuBrowser.close()]);
server.close();
