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

// Float32Array → base64, to hand the outputs back to Node compactly.
function toBase64(values) {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

// Decoding and preprocessing to the model's 28×28 gray input, one file in flight at a time, as
// the app's workers take them: the app's path (the core's decoders and preprocessing in wasm)
// against the browser's own decoder (createImageBitmap resizing to 28×28, then an
// OffscreenCanvas read back and turned gray). Files per second, median of the timed runs.
// `sets`: [{name, files: [bytes...], rounds}] or photo-sized files made here from `photo`:
// [{name, width, height, type, rounds}].
window.runDecodeBenchmark = async ({ glue, wasm, sets, photo, repeats }) => {
  const dg = await loadDriftglass(glue, wasm);
  await appSettled();
  const canvas = new OffscreenCanvas(28, 28);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  const decoders = {
    'driftglass (core, wasm)': async (bytes) => dg.driftglass_bench_preprocess([bytes]),
    'browser createImageBitmap': async (bytes) => {
      const bitmap = await createImageBitmap(new Blob([bytes]), { resizeWidth: 28, resizeHeight: 28, resizeQuality: 'medium' });
      context.drawImage(bitmap, 0, 0);
      bitmap.close();
      const rgba = context.getImageData(0, 0, 28, 28).data;
      const gray = new Float32Array(784);
      for (let i = 0; i < 784; i++) gray[i] = (0.2126 * rgba[4 * i] + 0.7152 * rgba[4 * i + 1] + 0.0722 * rgba[4 * i + 2]) / 255;
      return 1;
    },
  };
  const result = [];
  for (const set of sets) {
    const files = set.files
      ? set.files.map((f) => new Uint8Array(f))
      : [await makePhotoFile({ photo, width: set.width, height: set.height, type: set.type })];
    for (const [decoder, decode] of Object.entries(decoders)) {
      const pass = async () => {
        let decoded = 0;
        for (let r = 0; r < set.rounds; r++) for (const bytes of files) decoded += await decode(bytes);
        return decoded;
      };
      await pass();
      const rates = [];
      let decoded = 0;
      for (let i = 0; i < repeats; i++) {
        const started = performance.now();
        decoded = await pass();
        rates.push((files.length * set.rounds) / ((performance.now() - started) / 1000));
      }
      result.push({ set: set.name, decoder, files: files.length * set.rounds, decoded, bytes: files[0].length, median: median(rates), min: Math.min(...rates), max: Math.max(...rates) });
    }
  }
  return result;
};

// Photo-sized test files: `photo` (PNG bytes of a real photograph) tiled, mirrored, over a
// `width`×`height` canvas (so the detail stays at the photo's own scale), encoded as `type`
// (image/jpeg at quality 0.9, or image/png): the file's bytes.
async function makePhotoFile({ photo, width, height, type }) {
  const bitmap = await createImageBitmap(new Blob([new Uint8Array(photo)]));
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d');
  for (let y = 0, row = 0; y < height; y += bitmap.height, row++) {
    for (let x = 0, column = 0; x < width; x += bitmap.width, column++) {
      context.save();
      context.translate(x + (column % 2) * bitmap.width, y + (row % 2) * bitmap.height);
      context.scale(column % 2 ? -1 : 1, row % 2 ? -1 : 1);
      context.drawImage(bitmap, 0, 0);
      context.restore();
    }
  }
  const blob = await canvas.convertToBlob({ type, quality: 0.9 });
  return new Uint8Array(await blob.arrayBuffer());
}

// The app mounted by the module measures its backends at start-up: the decoding benchmark
// lets it finish first, so it does not share the cores with the timed runs.
async function appSettled() {
  const settled = () => !/starting|checking/.test(document.querySelector('[data-testid=backend]')?.textContent ?? 'starting');
  while (!settled()) await new Promise((ok) => setTimeout(ok, 100));
}

// The bundled model's weights, from the app's module (a page of its own: the engines' pages
// stay cold).
window.bundledWeights = async ({ glue, wasm }) => {
  const dg = await loadDriftglass(glue, wasm);
  return dg.driftglass_bench_weights();
};

// One engine in a page that has run nothing yet. The first result is timed from the engine's
// start (ours: fetching and instantiating the app's module, which mounts the app and starts
// its workers, then the backend; TF.js: its backend, which fetches and compiles its wasm, and
// the model) to the first batch's output: cold. Then `warmup` untimed and `repeats` timed runs
// over all images. `threads`: ours 1 = the page's own thread, else the app's scoring workers;
// TF.js: `tf.wasm.setThreadsCount(threads)` before its backend starts (null: its default).
// Each engine reports the threads it really used.
window.runEngine = async ({ glue, wasm, pixelsUrl, weights, count, batch, warmup, repeats, engine, threads }) => {
  const pixels = new Float32Array(await (await fetch(pixelsUrl)).arrayBuffer()).subarray(0, count * 784);
  const started = performance.now();
  let run;
  let backend;
  let used;
  if (engine.startsWith('driftglass-')) {
    const gpu = engine === 'driftglass-webgpu';
    const dg = await loadDriftglass(glue, wasm);
    await dg.driftglass_bench_backend(gpu);
    const path = !gpu && threads === 1 ? 'one-thread' : 'app';
    run = (p, n) => dg.driftglass_bench_reconstruct(p, n, batch, path);
    backend = path === 'one-thread' ? 'CPU (wasm), the page\'s thread' : dg.driftglass_bench_backend_name().split(':')[0];
    used = gpu ? 'GPU' : path === 'one-thread' ? 1 : Number(/(\d+) workers/.exec(backend)?.[1] ?? 1);
  } else {
    const name = engine === 'tfjs-wasm' ? 'wasm' : 'webgpu';
    if (name === 'wasm' && threads) tf.wasm.setThreadsCount(threads);
    if (!(await tf.setBackend(name))) throw new Error(`TF.js backend ${name} did not start`);
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
    used = name === 'wasm' ? tf.wasm.getThreadsCount() : 'GPU';
    backend = name === 'wasm'
      ? `TF.js ${tf.version.tfjs} wasm (XNNPACK, SIMD: ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT')})`
      : `TF.js ${tf.version.tfjs} webgpu`;
  }
  await run(pixels.subarray(0, batch * 784), batch);
  const firstMs = performance.now() - started;
  for (let i = 0; i < warmup; i++) await run(pixels, count);
  const rates = [];
  let output = null;
  for (let i = 0; i < repeats; i++) {
    const t = performance.now();
    output = await run(pixels, count);
    rates.push(count / ((performance.now() - t) / 1000));
  }
  return {
    backend, threads: used, firstMs, median: median(rates), min: Math.min(...rates), max: Math.max(...rates),
    output: toBase64(Float32Array.from(output)), isolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency,
  };
};
