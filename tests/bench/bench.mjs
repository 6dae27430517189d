// Driftglass against TensorFlow.js 4.22, in one headless Chromium run: the same real MNIST
// test images, the same architecture and weights, four engines (our CPU/wasm and WebGPU
// paths; TF.js wasm and webgpu). Prints images/s (median, min–max over the timed runs), time
// to the first result (cold, one batch), the largest difference of each engine's output from
// our CPU path's, and the ratio ours / TF.js per backend.
//
// The page is cross-origin isolated (COOP/COEP), so TF.js' wasm backend may use its threaded
// SIMD build: it runs at its best.
//
// Usage: node bench.mjs <dist dir> <MNIST folder> [--count N] [--gpu-count N] [--batch B[,B...]] [--repeats R]
//        [--engines E[,E...]] [--no-decode] [--gpu]   (--gpu: a machine with a real GPU: Chromium's WebGPU on Vulkan, not SwiftShader)
import { createServer } from 'node:http';
import { readFile, readdir, mkdtemp, rm } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { join, extname, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { launch } from '../e2e/lib.mjs';

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
const profile = await mkdtemp(join(tmpdir(), 'driftglass-bench-'));
const gpuFlags = realGpu
  ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=vulkan', '--ignore-gpu-blocklist']
  : ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'];
const browser = await launch(profile, gpuFlags);
const page = browser.pages()[0] ?? await browser.newPage();
page.on('pageerror', (e) => console.log(`  [pageerror] ${String(e).slice(0, 300)}`));
await page.goto(`http://127.0.0.1:${port}/bench.html`);
await page.waitForFunction(() => typeof window.runBenchmark === 'function' && typeof window.tf === 'object');
const version = await page.evaluate(() => tf.version.tfjs);
// (burn's CPU operations, an engine of earlier runs, left the page with burn: docs/benchmarks.md.)
const allEngines = ['driftglass-cpu', 'tfjs-wasm', 'driftglass-cpu-1thread', 'driftglass-webgpu', 'tfjs-webgpu'];
const engines = option('--engines', allEngines.join(',')).split(',');
for (const e of engines) if (!allEngines.includes(e)) throw new Error(`unknown engine ${e}; known: ${allEngines.join(', ')}`);
const adapter = await page.evaluate(async () => {
  const a = await navigator.gpu?.requestAdapter();
  return a ? [a.info?.vendor, a.info?.architecture, a.info?.description].filter(Boolean).join(' ') || 'unnamed' : 'none';
});

console.log(`${count} MNIST test images; ${await page.evaluate(() => /Chrome\/[\d.]+/.exec(navigator.userAgent)?.[0] ?? navigator.userAgent)}; TF.js ${version}; WebGPU adapter: ${adapter}; ${repeats} timed runs after 2 warm-ups`);
const rows = [];
for (const batch of batches) {
  const result = await page.evaluate((options) => window.runBenchmark(options), {
    glue: `/dist/${glue}`, wasm: `/dist/${wasm}`, pixelsUrl: '/mnist.f32', count, gpuCount, batch, warmup: 2, repeats, engines,
  });
  if (batch === batches[0]) console.log(`page cross-origin isolated: ${result.isolated}; hardware threads: ${result.cores}`);
  for (const [engine, error] of Object.entries(result.errors)) console.log(`  ${engine} (batch ${batch}) failed: ${error.split('\n')[0]}`);
  for (const engine of engines) {
    const r = result.summary[engine];
    if (r) rows.push({ engine, batch, ...r });
  }
}
const pad = (s, n) => String(s).padEnd(n);
console.log('');
console.log(`${pad('engine', 23)}${pad('backend', 44)}${pad('images', 8)}${pad('batch', 7)}${pad('images/s median (min–max)', 28)}${pad('first result', 14)}max |Δ| vs ours (CPU)`);
for (const r of rows) {
  console.log(`${pad(r.engine, 23)}${pad(r.backend, 44)}${pad(r.images, 8)}${pad(r.batch, 7)}${pad(`${r.median.toFixed(0)} (${r.min.toFixed(0)}–${r.max.toFixed(0)})`, 28)}${pad(`${r.firstMs.toFixed(0)} ms`, 14)}${r.maxDiff === null ? '—' : r.maxDiff.toExponential(1)}`);
}
// The rows compare only because every engine computes the same thing: reconstructions that
// differ from ours (CPU) by more than float rounding fail the run.
const MAX_DIFF = 1e-4;
const differing = rows.filter((r) => r.maxDiff !== null && !(r.maxDiff <= MAX_DIFF));
for (const r of differing) console.log(`FAIL ${r.engine} (batch ${r.batch}): outputs differ from ours (CPU) by ${r.maxDiff}, more than ${MAX_DIFF}`);
if (differing.length > 0) process.exitCode = 1;
console.log('');
for (const batch of batches) {
  const rate = (engine) => rows.find((r) => r.engine === engine && r.batch === batch)?.median;
  const ratio = (a, b) => (rate(a) && rate(b) ? `${(rate(a) / rate(b)).toFixed(2)}×` : 'n/a');
  console.log(`batch ${batch}: ours / TF.js — CPU (wasm) vs TF.js wasm ${ratio('driftglass-cpu', 'tfjs-wasm')}; WebGPU vs TF.js webgpu ${ratio('driftglass-webgpu', 'tfjs-webgpu')}`);
}
if (!realGpu) console.log('(WebGPU here is SwiftShader, a CPU emulation: these are not GPU figures)');

if (args.includes('--no-decode')) {
  await browser.close();
  server.close();
  await rm(profile, { recursive: true, force: true });
  process.exit(0);
}

// Decoding and preprocessing: the 100 PNG files of tests/fixtures/drop-100 (MNIST digits, ~250
// bytes each), 10 rounds = 1,000 files per timed run.
const drop = join(here, '..', 'fixtures', 'drop-100');
const pngs = await Promise.all((await readdir(drop)).sort().map(async (f) => [...(await readFile(join(drop, f)))]));
const decode = await page.evaluate((options) => window.runDecodeBenchmark(options), {
  glue: `/dist/${glue}`, wasm: `/dist/${wasm}`, files: pngs, rounds: 10, repeats,
});
console.log('');
console.log(`${pad('decode + preprocess to 28×28', 34)}${pad('files', 7)}${pad('decoded', 9)}files/s median (min–max)`);
for (const [name, r] of Object.entries(decode)) {
  console.log(`${pad(name, 34)}${pad(r.files, 7)}${pad(r.decoded, 9)}${r.median.toFixed(0)} (${r.min.toFixed(0)}–${r.max.toFixed(0)})`);
}
await browser.close();
server.close();
await rm(profile, { recursive: true, force: true });
