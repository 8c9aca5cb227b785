// The browser side of bench/diffusion.ts's WebGPU rows (onnxruntime-web's WebGPU EP, which runs only in a
// browser here): loaded by URL in a page served by scripts/serve.mjs, library from /dist/inpage.js.

function stats(x) {
  let finite = true, min = Infinity, max = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) finite = false;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { finite, nonConstant: max > min };
}

/** The tiny export through the whole pipeline (loadDiffusion → generate) on 'webgpu', as the WASM rows run it. */
export async function tiny({ url, sizes, runs }) {
  const { loadDiffusion } = await import('/dist/inpage.js');
  const sd = await loadDiffusion({ url, backend: 'webgpu', worker: false });
  const out = [];
  try {
    for (const size of sizes) {
      const req = { prompt: 'a red cat', negativePrompt: 'dog', steps: 20, guidance: 7.5, seed: 1, width: size, height: size };
      await sd.generate({ ...req, steps: 2 }); // warm-up
      const totals = [];
      const perStep = [];
      let last;
      for (let r = 0; r < runs; r++) {
        last = await sd.generate(req);
        totals.push(last.timings.total);
        perStep.push(last.timings.perStep);
      }
      out.push({ size, totals, perStep, ...stats(last.data) });
    }
    return { backend: sd.info.backend, rows: out };
  } finally {
    await sd.unload();
  }
}

/**
 * The SD 1.5 UNet slice (written by bench/diffusion.ts under /bench/.cache/sd15-slice/) on onnxruntime-web's
 * WebGPU EP directly (the build the library ships in /dist/ort/). `runs` runs of the same feeds as the WASM row.
 */
export async function slice({ dir, runs }) {
  const ort = await import('/dist/ort/ort.webgpu.min.mjs');
  ort.env.wasm.wasmPaths = '/dist/ort/';
  ort.env.logLevel = 'error';
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(`${dir}model.onnx`, {
    executionProviders: ['webgpu'], graphOptimizationLevel: 'all', externalData: [{ path: 'model.onnx_data', data: `${dir}model.onnx_data` }],
  });
  const createSeconds = (performance.now() - t0) / 1000;
  console.log(`slice session created in ${createSeconds.toFixed(2)} s`);
  const sample = new Float32Array(2 * 4 * 64 * 64);
  for (let i = 0; i < sample.length; i++) sample[i] = Math.sin(i * 0.37);
  const ctx = new Float32Array(2 * 77 * 768);
  for (let i = 0; i < ctx.length; i++) ctx[i] = Math.cos(i * 0.11);
  const times = [];
  let s;
  try {
    for (let r = 0; r < runs; r++) {
      const feeds = {
        sample: new ort.Tensor('float32', sample, [2, 4, 64, 64]),
        timestep: new ort.Tensor('int64', BigInt64Array.of(501n), [1]),
        encoder_hidden_states: new ort.Tensor('float32', ctx, [2, 77, 768]),
      };
      const t = performance.now();
      const res = await session.run(feeds);
      const data = await res.out_sample.getData();
      times.push((performance.now() - t) / 1000);
      s = stats(data);
      // Progress for the bench's log (the run may be cut short by its time limit).
      console.log(`slice run ${r}: ${times[r].toFixed(2)} s`);
    }
  } finally {
    await session.release();
  }
  return { createSeconds, times, ...s };
}
