// The WebGPU worker (see crates/driftglass-web/src/gpu.rs). The page starts it only where the
// browser offers a WebGPU adapter; only then is the WebGPU module (driftglass-gpu, built by trunk
// next to the page's own module) fetched. It answers the page's calls one at a time: every
// message gets exactly one reply, {ok: true, out?} or {ok: false, error}.
let gpu = null;
const calls = new Set([
  'gpu_load', 'gpu_score', 'gpu_train_start', 'gpu_train_step', 'gpu_train_reconstruct', 'gpu_train_weights',
]);

self.onmessage = async ({ data }) => {
  try {
    if (data.kind === 'start') {
      // The module's JS glue lies next to this script; it fetches its wasm from beside itself.
      const glue = await import(new URL('./driftglass-gpu.js', self.location.href).href);
      const instance = await glue.default();
      self.driftglassMemory = instance.memory;
      const adapter = await glue.gpu_start();
      gpu = glue;
      self.postMessage({ ok: true, out: adapter });
    } else if (gpu !== null && calls.has(data.kind)) {
      const out = await gpu[data.kind](...data.args);
      if (out instanceof Float32Array) self.postMessage({ ok: true, out }, [out.buffer]);
      else self.postMessage({ ok: true, out });
    } else {
      self.postMessage({ ok: false, error: gpu === null ? 'WebGPU was not started' : `unknown request ${data.kind}` });
    }
  } catch (error) {
    self.postMessage({ ok: false, error: String(error?.message ?? error) });
  }
};
