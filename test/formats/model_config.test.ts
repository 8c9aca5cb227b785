// modelConfigFromGguf against what is known independently: the fixture's README (its architecture table),
// the hyperparameters the synthetic writer was given, and llama.cpp's own reading of the same files
// (node-llama-cpp's fileInsights / model info). Bad files → typed errors naming the key or tensor.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ModelFileError } from '../../src/errors';
import { openGguf } from '../../src/formats/gguf';
import { modelConfigFromGguf } from '../../src/llm/config';
import { gv, makeSyntheticModel, writeGguf, writeSyntheticModel, type MetaValue, type SyntheticModel, type SyntheticModelOptions, type TensorSpec } from '../reference/gguf_writer';
import { loadLlamaCpp } from '../reference/llamacpp';

const FIXTURE = '../shared/models/fortunes-1.8m';

async function configOf(bytes: Uint8Array) {
  const file = await openGguf({ bytes });
  return modelConfigFromGguf(file.metadata, file.tensors);
}

function expectError(f: () => Promise<unknown>, code: string, message: RegExp) {
  return expect(f()).rejects.toSatisfy((e: unknown) => {
    if (!(e instanceof ModelFileError)) throw new Error(`not a ModelFileError: ${String(e)}`);
    if (e.code !== code) throw new Error(`code ${e.code}: ${e.message}`);
    if (!message.test(e.message)) throw new Error(`message "${e.message}" does not match ${message}`);
    return true;
  });
}

describe('fixture', () => {
  it('matches the README table (llama, 192/4/6/2/32, ffn 512, ctx 256, vocab 1024, tied, eps 1e-5, base 1e4)', async () => {
    for (const v of ['f32', 'q4_k_m']) {
      const cfg = await configOf(new Uint8Array(readFileSync(`${FIXTURE}/fortunes-1.8m-${v}.gguf`)));
      expect(cfg).toEqual({
        architecture: 'llama', nLayers: 4, dModel: 192, nHeads: 6, nKvHeads: 2, headDim: 32, dFf: 512, contextLength: 256,
        ropeBase: 10000, ropeStyle: 'pairs', ropeDim: 32, ropeFreqScale: 1, rmsEps: expect.closeTo(1e-5, 12),
        vocabSize: 1024, tiedOutput: true, hasQkvBias: false,
      });
    }
  });
});

describe('synthetic models: our reading equals the writer’s inputs and llama.cpp’s reading', () => {
  const cases: SyntheticModelOptions[] = [
    { architecture: 'llama', nLayers: 3, dModel: 96, nHeads: 6, nKvHeads: 3, dFf: 160, contextLength: 512, ropeBase: 50000, rmsEps: 1e-6 },
    { architecture: 'qwen2', tiedOutput: false, weightType: 'Q8_0' },
    { architecture: 'llama', tokenizer: { model: 'llama' }, ropeFreqs: true, tiedOutput: false },
  ];
  for (const options of cases) {
    it(`${options.architecture} ${JSON.stringify(options).slice(0, 60)}…`, async () => {
      const m = writeSyntheticModel(options);
      const cfg = await configOf(m.bytes);
      const w = m.config;
      expect(cfg).toMatchObject({
        architecture: w.architecture, nLayers: w.nLayers, dModel: w.dModel, nHeads: w.nHeads, nKvHeads: w.nKvHeads,
        headDim: w.headDim, dFf: w.dFf, contextLength: w.contextLength, ropeBase: w.ropeBase, ropeDim: w.headDim,
        vocabSize: w.vocabSize, tiedOutput: w.tiedOutput, hasQkvBias: w.qkvBias,
        ropeStyle: w.architecture === 'qwen2' ? 'halves' : 'pairs',
      });
      expect(cfg.rmsEps).toBeCloseTo(w.rmsEps, 12);
      expect(cfg.ropeFreqsTensor).toBe(options.ropeFreqs ? 'rope_freqs.weight' : undefined);
      // llama.cpp's view of the same file.
      const model = await loadLlamaCpp(m.path);
      const train = model.trainContextSize;
      expect(train).toBe(cfg.contextLength);
      expect(model.fileInsights.totalLayers - 1).toBe(cfg.nLayers); // llama.cpp counts the output layer too
      expect(model.fileInfo.architectureMetadata.embedding_length).toBe(cfg.dModel);
    });
  }
});

describe('errors', () => {
  const base = makeSyntheticModel({ architecture: 'llama', nLayers: 2, dModel: 32, nHeads: 2, nKvHeads: 1, dFf: 64 });
  const rewrite = (m: SyntheticModel, meta: (md: Record<string, MetaValue>) => Record<string, MetaValue>, tensors: (s: TensorSpec[]) => TensorSpec[] = (s) => s) =>
    writeGguf({ metadata: meta({ ...m.metadata }), tensors: tensors(m.specs.map((s) => ({ ...s }))) }).bytes;

  it('the unmodified file is accepted (so the failures below come from the changes)', async () => {
    await expect(configOf(base.bytes)).resolves.toMatchObject({ architecture: 'llama', nLayers: 2 });
  });

  it('an unknown architecture lists the supported ones', async () => {
    const bytes = rewrite(base, (md) => ({ ...md, 'general.architecture': gv.string('gpt-neox') }));
    await expectError(() => configOf(bytes), 'UnsupportedArchitecture', /"gpt-neox" is not supported; supported: llama, qwen2/);
    const none = rewrite(base, (md) => {
      delete md['general.architecture'];
      return md;
    });
    await expectError(() => configOf(none), 'InvalidModelFile', /general\.architecture/);
  });

  it('mixture-of-experts and unsupported rope scaling are refused', async () => {
    await expectError(() => configOf(rewrite(base, (md) => ({ ...md, 'llama.expert_count': gv.u32(8) }))), 'UnsupportedArchitecture', /mixture-of-experts/);
    await expectError(() => configOf(rewrite(base, (md) => ({ ...md, 'llama.rope.scaling.type': gv.string('yarn') }))), 'UnsupportedArchitecture', /yarn/);
    const linear = await configOf(rewrite(base, (md) => ({ ...md, 'llama.rope.scaling.type': gv.string('linear'), 'llama.rope.scaling.factor': gv.f32(4) })));
    expect(linear.ropeFreqScale).toBe(0.25);
  });

  it('a missing required key is named; optional keys take llama.cpp’s defaults', async () => {
    const noEps = rewrite(base, (md) => {
      delete md['llama.attention.layer_norm_rms_epsilon'];
      return md;
    });
    await expectError(() => configOf(noEps), 'InvalidModelFile', /llama\.attention\.layer_norm_rms_epsilon/);
    const minimal = rewrite(base, (md) => {
      for (const k of ['llama.attention.head_count_kv', 'llama.rope.dimension_count', 'llama.rope.freq_base', 'llama.vocab_size']) delete md[k];
      return md;
    }, (s) => s.map((t) => (/attn_[kv]\.weight/.test(t.name) ? { ...t, dims: [32, 32], data: new Uint8Array(32 * 32 * 4) } : t)));
    expect(await configOf(minimal)).toMatchObject({ nKvHeads: 2, ropeDim: 16, ropeBase: 10000, vocabSize: base.config.vocabSize });
  });

  it('a missing tensor is named with its expected shape', async () => {
    const m = makeSyntheticModel({ architecture: 'llama', nLayers: 2, dModel: 32, nHeads: 2, nKvHeads: 1, dFf: 64, omitTensors: ['blk.1.ffn_up.weight'] });
    await expectError(() => configOf(m.bytes), 'InvalidModelFile', /lacks tensor blk\.1\.ffn_up\.weight \(expected shape \[32, 64\]\)/);
    const q = makeSyntheticModel({ architecture: 'qwen2', nLayers: 1, dModel: 32, nHeads: 2, nKvHeads: 1, dFf: 64, omitTensors: ['blk.0.attn_k.bias'] });
    await expectError(() => configOf(q.bytes), 'InvalidModelFile', /blk\.0\.attn_k\.bias/);
  });

  it('a mis-shaped tensor is named with found and expected shapes', async () => {
    const bytes = rewrite(base, (md) => ({ ...md, 'llama.feed_forward_length': gv.u32(96) }));
    await expectError(() => configOf(bytes), 'InvalidModelFile', /blk\.0\.ffn_gate\.weight has shape \[32, 64\], expected \[32, 96\]/);
    const heads = rewrite(base, (md) => ({ ...md, 'llama.attention.head_count_kv': gv.u32(2) }));
    await expectError(() => configOf(heads), 'InvalidModelFile', /attn_k\.weight has shape \[32, 16\], expected \[32, 32\]/);
    const badHeads = rewrite(base, (md) => ({ ...md, 'llama.attention.head_count': gv.u32(3) }));
    await expectError(() => configOf(badHeads), 'InvalidModelFile', /embedding width 32 is not a multiple of the 3 heads/);
    const badKv = rewrite(base, (md) => ({ ...md, 'llama.attention.head_count_kv': gv.u32(3) }));
    await expectError(() => configOf(badKv), 'InvalidModelFile', /2 attention heads cannot be shared evenly by 3 KV heads/);
  });

  it('a tensor the engine would ignore is refused, like llama.cpp does', async () => {
    const bytes = rewrite(base, (md) => md, (s) => [...s, { name: 'blk.0.ffn_up.bias', dims: [64], type: 'F32', data: new Uint8Array(256) }]);
    await expectError(() => configOf(bytes), 'InvalidModelFile', /unexpected tensor blk\.0\.ffn_up\.bias/);
  });

  it('per-layer arrays are accepted when uniform and refused otherwise', async () => {
    const uniform = rewrite(base, (md) => ({ ...md, 'llama.feed_forward_length': gv.array('u32', [64, 64]) }));
    expect((await configOf(uniform)).dFf).toBe(64);
    const varying = rewrite(base, (md) => ({ ...md, 'llama.feed_forward_length': gv.array('u32', [64, 128]) }));
    await expectError(() => configOf(varying), 'InvalidModelFile', /feed_forward_length differs between layers/);
  });
});
