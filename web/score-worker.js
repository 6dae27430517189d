// A scoring worker (see crates/driftglass-web/src/workers.rs): its own instance of the app's
// wasm module scores the slices of a batch the page sends, on its own core. Every message gets
// exactly one reply: {ok: true, out?} or {ok: false, error}.
let app = null;

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
      // The files' bytes are read here (FileReaderSync), not on the page's thread.
      const out = app.driftglass_worker_prepare_score(data.files, data.config);
      self.postMessage({ ok: true, out }, [out.sizes.buffer, out.pixels.buffer, out.packed.buffer]);
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
