// Every kernel variant a real GPU takes, validated without one (issue 13, its first part): Dawn's null
// backend (`create(['backend=null'])` of the `webgpu` package) has an adapter with shader-f16 and subgroups
// and runs Tint's full WGSL validation and all of WebGPU's API validation, but computes nothing. So the f16
// and subgroup variants, and the matvec layout dispatchers pick for hardware adapters (the null adapter is
// not a fallback adapter), which SwiftShader never runs, are compiled and dispatched here with validation
// errors captured; the numbers are garbage by design and are not looked at.
//
// Each configuration (f16 + subgroups, f16 without subgroups, f32 + subgroups) loads every fixture file, the
// synthetic architectures and every llama.cpp file type (all 15 weight types): the load compiles every
// pipeline of the forward pass and runs a prefill chunk, a decode step and the token selector's greedy and
// sampled paths (src/llm/warm_up.ts), and a GpuValidation error there fails it. Then a two-chunk all-logits
// evaluation (the perplexity path). Every error scope must come back empty.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { create, globals } from 'webgpu';
import { acquireGpu, type Gpu } from '../../src/gpu';
import { deviceRequestFor } from '../../src/gpu/device';
import type { InpageError } from '../../src/errors';
import { loadModel } from '../../src/llm/load_model';
import { FORTUNES_F32, LLAMACPP_FILE_TYPES, llamaCppFile } from '../reference/llamacpp_files';
import { fixtureBytes, VARIANTS } from '../llm/fixtures';
import { buildSyntheticModel, SYNTHETIC_CASES } from '../llm/synthetic_models';

Object.assign(globalThis, globals);

const CONFIGS = [
  { name: 'f16 + subgroups', precision: 'f16', subgroups: true },
  { name: 'f16, no subgroups', precision: 'f16', subgroups: false },
  { name: 'f32 + subgroups', precision: 'f32', subgroups: true },
] as const;

const files: { name: string; bytes: () => Uint8Array }[] = [
  ...VARIANTS.map((v) => ({ name: `fortunes ${v}`, bytes: () => fixtureBytes(v) })),
  ...SYNTHETIC_CASES.map((c) => ({ name: c.name, bytes: () => buildSyntheticModel(c).bytes })),
  ...LLAMACPP_FILE_TYPES.map((t) => ({ name: `fortunes llama.cpp ${t}`, bytes: () => llamaCppFile(FORTUNES_F32, t).bytes() })),
];

let api: GPU;
beforeAll(() => {
  api = create(['backend=null']);
});

for (const config of CONFIGS) {
  describe(`Dawn null backend, ${config.name}`, () => {
    let gpu: Gpu;
    const errors: InpageError[] = [];
    beforeAll(async () => {
      const adapter = (await api.requestAdapter())!;
      expect(adapter.features.has('shader-f16') && adapter.features.has('subgroups')).toBe(true);
      // The device acquireGpu would request, less subgroups where this configuration goes without.
      const request = deviceRequestFor(adapter, config.precision);
      const requiredFeatures = [...(request.requiredFeatures ?? [])].filter((f) => config.subgroups || f !== 'subgroups');
      const device = await adapter.requestDevice({ ...request, requiredFeatures });
      gpu = await acquireGpu({ gpu: api, precision: config.precision }, { adapter, device });
      gpu.onError((e) => errors.push(e));
    });
    afterAll(() => gpu?.destroy());

    it('takes the variants a real GPU takes', () => {
      expect(gpu.caps.adapter.isFallbackAdapter).toBe(false);
      expect(gpu.precision).toBe(config.precision);
      expect(gpu.caps.features.subgroups).toBe(config.subgroups);
    });

    for (const f of files) {
      it(`${f.name}: load (compile, prefill, decode, greedy and sampled selection) and all-logits evaluation validate`, async () => {
        const llm = await loadModel({ bytes: f.bytes(), gpu, prefillChunk: 64 });
        try {
          const ids = Array.from({ length: 100 }, (_, i) => (i * 37) % llm.tokenizer.vocabSize); // two prefill chunks
          const rows = await llm.logits(ids);
          expect(rows).toHaveLength(ids.length);
          await gpu.checkErrors();
          expect(errors.map((e) => e.message)).toEqual([]);
        } finally {
          await llm.unload();
        }
      });
    }
  });
}
