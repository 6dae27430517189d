// A scoring worker (see crates/driftglass-web/src/workers.rs): its own instance of the app's
// wasm module scores the slices of a batch the page sends, on its own core. Every message gets
// exactly one reply: {ok: true, out?} or {ok: false, error}.
let app = null;

// JPEG files from this size up go through the browser's decoder (a 640×480 photo is ~90 KB;
// below ~30 KB, small images, ours is faster).
const BROWSER_JPEG_BYTES = 32 * 1024;
// The core's limit (MAX_PIXELS in crates/driftglass-core/src/preprocess.rs): larger images are
// refused there whichever decoder ran, so the browser need not decode them first.
const MAX_PIXELS = 40_000_000;

// The browser's RGBA pixels of a large JPEG (orientation applied, no colour management, as the
// app's decoder does), or null: not a large JPEG, or the browser could not decode it.
async function browserDecode(file) {
  const jpeg = file.type === 'image/jpeg' || /\.jpe?g$/i.test(file.name);
  if (!jpeg || file.size < BROWSER_JPEG_BYTES || typeof createImageBitmap !== 'function' || typeof OffscreenCanvas !== 'function') return null;
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
    const { width, height } = bitmap;
    if (width * height > MAX_PIXELS) return null;
    const context = new OffscreenCanvas(width, height).getContext('2d', { willReadFrequently: true });
    context.drawImage(bitmap, 0, 0);
    return { width, height, data: context.getImageData(0, 0, width, height).data };
  } catch {
    return null;
  } finally {
    bitmap?.close();
  }
}

self.onmessage = async ({ data }) => {
  try {
    if (data.kind === 'start') {
      // The page sends the URL of its JS glue and the compiled WebAssembly.Module.
      const glue = await import(data.glue);
      const instance = await glue.default({ module_or_path: data.module });
      app = glue;
      // The instance's linear memory, where the soak benchmark (tests/e2e/soak.mjs) reads its size.
      self.driftglassMemory = instance.memory;
      self.postMessage({ ok: true });
    } else if (data.kind === 'network') {
      app.driftglass_worker_network(data.values);
      self.postMessage({ ok: true });
    } else if (data.kind === 'prepare-score') {
      // The files' bytes are read here (FileReaderSync), not on the page's thread. Large JPEGs
      // are decoded by the browser first, one at a time: its decoder is faster on photos
      // (docs/benchmarks.md); the app's module checks the file and uses those pixels only where
      // they can stand in for its own decoder's, else it decodes the bytes itself.
      const decoded = [];
      for (const file of data.files) decoded.push(await browserDecode(file));
      const out = app.driftglass_worker_prepare_score(data.files, data.config, decoded);
      self.postMessage({ ok: true, out }, [out.pixels.buffer, out.packed.buffer]);
    } else if (data.kind === 'score') {
      const out = app.driftglass_worker_score(data.pixels, data.count, data.side);
      self.postMessage({ ok: true, out }, [out.buffer]);
    } else {
      self.postMessage({ ok: false, error: `unknown request ${data.kind}` });
    }
  } catch (error) {
    self.postMessage({ ok: false, error: String(error?.message ?? error) });
  }
};
