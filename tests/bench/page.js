// The benchmark page's logic (loaded by bench.html, driven by bench.mjs through Playwright).
// Engines: Driftglass' CPU (wasm) and WebGPU paths, through functions the app's wasm module
// exports for this purpose, and TensorFlow.js 4.22 on its wasm and webgpu backends, running the
// same architecture with the same weights (exported by the app's module from the bundled model).

/* global tf */

let driftglass = null;

// Load the app's own wasm module (its JS glue, as trunk built it). Its start function mounts
// the app into the page's body, which then idles.
async function loadDriftglass(glue, wasm) {
  if (!driftglass) {
    // As trunk's index.html does: the app finds its module's URL here to start its workers.
    const link = document.createElement('link');
    link.rel = 'modulepreload';
    link.href = glue;
    document.head.append(link);
    const module = await import(glue);
    await module.default({ module_or_path: wasm });
    driftglass = module;
  }
  return driftglass;
}

// The reference architecture in TF.js layers (channels last), with our weights.
function tfModel(weights) {
  const model = tf.sequential();
  const conv = (filters, activation, inputShape) => tf.layers.conv2d({
    filters, kernelSize: 3, padding: 'same', activation, ...(inputShape ? { inputShape } : {}),
  });
  model.add(conv(32, 'relu', [28, 28, 1]));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(conv(32, 'relu'));
  model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  model.add(conv(32, 'relu'));
  model.add(tf.layers.upSampling2d({ size: [2, 2] }));
  model.add(conv(32, 'relu'));
  model.add(tf.layers.upSampling2d({ size: [2, 2] }));
  model.add(conv(1, 'sigmoid'));
  // Ours: [out, in, kh, kw] kernels; TF.js: [kh, kw, in, out].
  const tensors = [];
  for (const layer of weights) {
    const [out, inp, kh, kw] = layer.shape;
    const kernel = tf.tensor4d(layer.kernel, [out, inp, kh, kw]).transpose([2, 3, 1, 0]);
    tensors.push(kernel, tf.tensor1d(layer.bias));
  }
  model.setWeights(tensors);
  return model;
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

// Time one engine: `run(pixels, count)` returns the reconstructions (count × 784). The first
// call (one batch, cold: shader compilation, allocation) is "time to first result"; then
// `warmup` untimed runs and `repeats` timed runs of all images.
async function timeEngine(run, pixels, count, batch, warmup, repeats) {
  const firstStarted = performance.now();
  await run(pixels.subarray(0, batch * 784), batch);
  const firstMs = performance.now() - firstStarted;
  for (let i = 0; i < warmup; i++) await run(pixels, count);
  const rates = [];
  let output = null;
  for (let i = 0; i < repeats; i++) {
    const started = performance.now();
    output = await run(pixels, count);
    rates.push(count / ((performance.now() - started) / 1000));
  }
  return { firstMs, rates, median: median(rates), min: Math.min(...rates), max: Math.max(...rates), output };
}

// Decoding and preprocessing small image files: the app's path (the model crate's decoders and
// preprocessing in wasm) against the browser's own decoder (createImageBitmap resizing to 28×28,
// then an OffscreenCanvas read back and turned gray): files per second, median of `repeats`.
window.runDecodeBenchmark = async ({ glue, wasm, files, rounds, repeats }) => {
  const dg = await loadDriftglass(glue, wasm);
  await appSettled();
  const all = [];
  for (let r = 0; r < rounds; r++) for (const f of files) all.push(new Uint8Array(f));
  const ours = async () => dg.driftglass_bench_preprocess(all);
  const canvas = new OffscreenCanvas(28, 28);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const browser = async () => {
    let ok = 0;
    await Promise.all(all.map(async (bytes) => {
      const bitmap = await createImageBitmap(new Blob([bytes]), { resizeWidth: 28, resizeHeight: 28, resizeQuality: 'medium' });
      context.drawImage(bitmap, 0, 0);
      bitmap.close();
      const rgba = context.getImageData(0, 0, 28, 28).data;
      const gray = new Float32Array(784);
      for (let i = 0; i < 784; i++) gray[i] = (0.2126 * rgba[4 * i] + 0.7152 * rgba[4 * i + 1] + 0.0722 * rgba[4 * i + 2]) / 255;
      ok += 1;
    }));
    return ok;
  };
  const result = {};
  for (const [name, run] of [['driftglass (image crate, wasm)', ours], ['browser createImageBitmap', browser]]) {
    await run();
    const rates = [];
    let decoded = 0;
    for (let i = 0; i < repeats; i++) {
      const started = performance.now();
      decoded = await run();
      rates.push(all.length / ((performance.now() - started) / 1000));
    }
    result[name] = { files: all.length, decoded, median: median(rates), min: Math.min(...rates), max: Math.max(...rates) };
  }
  return result;
};

// The app mounted by the module measures its backends at start-up: let it finish first, so it
// does not share the cores with the timed runs.
async function appSettled() {
  const settled = () => !/starting|checking/.test(document.querySelector('[data-testid=backend]')?.textContent ?? 'starting');
  while (!settled()) await new Promise((ok) => setTimeout(ok, 100));
}

window.runBenchmark = async ({ glue, wasm, pixelsUrl, count, gpuCount, batch, warmup, repeats, engines }) => {
  const pixels = new Float32Array(await (await fetch(pixelsUrl)).arrayBuffer()).subarray(0, count * 784);
  const dg = await loadDriftglass(glue, wasm);
  await appSettled();
  const weights = JSON.parse(await dg.driftglass_bench_weights());
  const results = {};
  const errors = {};
  for (const engine of engines) {
    try {
      let run;
      if (engine.startsWith('driftglass-')) {
        const gpu = engine === 'driftglass-webgpu';
        await dg.driftglass_bench_backend(gpu);
        const path = { 'driftglass-cpu-1thread': 'one-thread' }[engine] ?? 'app';
        run = (p, n) => dg.driftglass_bench_reconstruct(p, n, batch, path);
      } else {
        const backend = engine === 'tfjs-wasm' ? 'wasm' : 'webgpu';
        if (!(await tf.setBackend(backend))) throw new Error(`TF.js backend ${backend} did not start`);
        await tf.ready();
        const model = tfModel(weights);
        run = async (p, n) => {
          const input = tf.tensor4d(p, [n, 28, 28, 1]);
          const out = model.predict(input, { batchSize: batch });
          const data = await out.data();
          input.dispose();
          out.dispose();
          return data;
        };
      }
      // WebGPU engines may time a smaller set (SwiftShader emulates the GPU on the CPU).
      const n = engine.endsWith('webgpu') ? Math.min(gpuCount, count) : count;
      results[engine] = await timeEngine(run, pixels.subarray(0, n * 784), n, Math.min(batch, n), warmup, repeats);
      results[engine].images = n;
      results[engine].backend = engine.startsWith('tfjs')
        ? `${tf.getBackend()}${tf.getBackend() === 'wasm' ? ` (threads: ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT')}, SIMD: ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')})` : ''}`
        : { 'driftglass-cpu-1thread': 'CPU (wasm), page thread only' }[engine] ?? dg.driftglass_bench_backend_name();
    } catch (error) {
      errors[engine] = String(error?.stack ?? error);
    }
  }
  // Correctness: the largest difference of each engine's reconstructions from our CPU path's.
  const reference = results['driftglass-cpu']?.output;
  const summary = {};
  for (const [engine, r] of Object.entries(results)) {
    let maxDiff = null;
    if (reference) {
      maxDiff = 0;
      for (let i = 0; i < r.output.length; i++) maxDiff = Math.max(maxDiff, Math.abs(reference[i] - r.output[i]));
    }
    summary[engine] = {
      backend: r.backend, images: r.images, firstMs: r.firstMs, median: r.median, min: r.min, max: r.max, rates: r.rates, maxDiff,
    };
  }
  return { summary, errors, isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency };
};
