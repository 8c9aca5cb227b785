// openGguf / readTensorChunks against an independent reading (test/reference/gguf_reader.ts, written from
// the spec) and against what the test writer put in the file; URL sources through a local HTTP server that
// counts the bytes it sends; and corrupt files, which must fail with typed errors that say what was found.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InpageError, ModelFileError } from '../../src/errors';
import { openGguf, readTensorChunks, type ByteSource, type GgufFile } from '../../src/formats/gguf';
import { HEAD_BYTES, HttpReader } from '../../src/formats/http_reader';
import { rng } from '../random';
import { GGML_TYPE_ID, gv, makeSyntheticModel, writeGguf, type TensorSpec } from '../reference/gguf_writer';
import { readGguf, type RefGguf } from '../reference/gguf_reader';

const FIXTURE = '../shared/models/fortunes-1.8m';
const VARIANTS = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_k_m'];
const fixtureBytes = (v: string) => new Uint8Array(readFileSync(`${FIXTURE}/fortunes-1.8m-${v}.gguf`));

/** Our parse must equal the independent reader's: tensors (name, dims, type, offset, length) and every metadata entry. */
function expectSameAsReference(ours: GgufFile, ref: RefGguf): void {
  expect(ours.fileSize).toBe(ref.fileSize);
  expect(ours.dataOffset).toBe(ref.dataOffset);
  expect(ours.alignment).toBe(ref.alignment);
  expect(ours.tensors.map((t) => [t.name, t.dims, t.type, t.offset, t.byteLength])).toEqual(
    ref.tensorList.map((t) => [t.name, t.dims, t.type, t.offset, t.byteLength]),
  );
  expect(ours.metadata).toEqual(Object.fromEntries(ref.metadata));
}

/** Rejects with a ModelFileError of this code whose message matches `message`. */
async function expectModelError(p: Promise<unknown>, code: string, message?: RegExp): Promise<ModelFileError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, 'expected a rejection').toBeInstanceOf(ModelFileError);
  const e = err as ModelFileError;
  expect(e.code, e.message).toBe(code);
  if (message) expect(e.message).toMatch(message);
  return e;
}

async function collect(chunks: AsyncIterable<Uint8Array>, expectedChunk?: number): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of chunks) parts.push(c.slice());
  if (expectedChunk) for (const p of parts.slice(0, -1)) expect(p.length).toBe(expectedChunk);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe('fixture files', () => {
  for (const v of VARIANTS) {
    it(`${v}: tensors and metadata equal the independent reader's`, async () => {
      const bytes = fixtureBytes(v);
      const ours = await openGguf({ bytes });
      expectSameAsReference(ours, readGguf(bytes));
      expect(ours.tensors.length).toBe(38); // 1 embedding + 4 × 9 per layer + output_norm (tied head)
      expect(ours.metadata['general.architecture']).toBe('llama');
    });
  }

  it('Blob and bytes sources give the same result, and a Blob is read in ranges', async () => {
    const bytes = fixtureBytes('f32');
    const fromBytes = await openGguf({ bytes });
    let sliced = 0;
    class CountingBlob extends Blob {
      override slice(start?: number, end?: number, type?: string): Blob {
        sliced += Math.min(end ?? this.size, this.size) - (start ?? 0);
        return super.slice(start, end, type);
      }
    }
    const fromBlob = await openGguf({ blob: new CountingBlob([bytes]) });
    expect(fromBlob).toEqual(fromBytes);
    expect(sliced).toBeLessThan(bytes.length / 2);
  });
});

describe('synthetic files from the test writer', () => {
  it('every metadata value type, arrays included, and a non-default alignment', async () => {
    const metadata = {
      'general.architecture': gv.string('llama'),
      'test.u8': gv.u8(250), 'test.i8': gv.i8(-120), 'test.u16': gv.u16(65000), 'test.i16': gv.i16(-32000),
      'test.u32': gv.u32(4_000_000_000), 'test.i32': gv.i32(-2_000_000_000), 'test.f32': gv.f32(0.25),
      'test.bool': gv.bool(true), 'test.string': gv.string('héllo ✓'), 'test.u64': gv.u64(2n ** 60n),
      'test.i64': gv.i64(-(2n ** 60n)), 'test.f64': gv.f64(Math.PI),
      'test.strings': gv.array('string', ['a', '', 'ĠThe']), 'test.f32s': gv.array('f32', [1.5, -2]),
      'test.i32s': gv.array('i32', [-1, 7]), 'test.bools': gv.array('bool', [false, true]), 'test.empty': gv.array('u8', []),
    };
    const tensors: TensorSpec[] = [
      { name: 'a', dims: [3], type: 'F32', data: new Uint8Array(12).fill(1) },
      { name: 'b', dims: [64, 2], type: 'Q8_0', data: new Uint8Array(136).fill(2) },
      { name: 'c', dims: [256, 1], type: 'Q6_K', data: new Uint8Array(210).fill(3) },
      { name: 'd', dims: [5, 3], type: 'F16', data: new Uint8Array(30).fill(4) },
    ];
    const w = writeGguf({ metadata, tensors, alignment: 64 });
    const ours = await openGguf({ bytes: w.bytes });
    expectSameAsReference(ours, readGguf(w.bytes));
    expect(ours.alignment).toBe(64);
    expect(ours.metadata['test.u64']).toBe(2n ** 60n);
    expect(ours.metadata['test.string']).toBe('héllo ✓');
    expect(ours.metadata['test.strings']).toEqual(['a', '', 'ĠThe']);
    expect(ours.tensors.map((t) => t.offset)).toEqual(w.tensors.map((t) => t.offset));
    for (const t of ours.tensors) expect(t.offset % 64).toBe(0);
  });

  for (const options of [
    { architecture: 'llama' as const },
    { architecture: 'qwen2' as const, tiedOutput: false, dModel: 256, dFf: 512, weightType: 'Q4_K' as const, types: { ffn_down: 'Q6_K' as const } },
    { architecture: 'llama' as const, weightType: 'Q4_0' as const, tokenizer: { model: 'llama' as const }, alignment: 128 },
  ]) {
    it(`${options.architecture} ${'weightType' in options ? options.weightType : 'F32'}: parses as written`, async () => {
      const m = makeSyntheticModel(options);
      const ours = await openGguf({ blob: new Blob([m.bytes]) });
      expectSameAsReference(ours, readGguf(m.bytes));
      expect(ours.tensors.map((t) => [t.name, t.offset, t.byteLength])).toEqual(m.tensors.map((t) => [t.name, t.offset, t.byteLength]));
    });
  }
});

describe('streaming tensor data', () => {
  const bytes = fixtureBytes('q4_k_m');
  const ref = readGguf(bytes);
  const sources: [string, ByteSource][] = [['bytes', { bytes }], ['blob', { blob: new Blob([bytes]) }]];
  for (const [kind, source] of sources) {
    it(`${kind}: chunks of odd sizes reproduce each tensor exactly`, async () => {
      const file = await openGguf(source);
      for (const chunk of [1, 7, 1000, 4097, 65_535, 10_000_000]) {
        // Tiny chunks on small tensors (F32, Q8_0); larger ones on the big Q8_0 embedding and a Q6_K tensor too.
        const names = ['blk.0.attn_norm.weight', 'blk.0.attn_k.weight'];
        if (chunk >= 1000) names.push('token_embd.weight', 'blk.0.ffn_down.weight', 'output_norm.weight');
        for (const name of names) {
          const t = file.tensors.find((x) => x.name === name)!;
          const got = await collect(readTensorChunks(source, t, chunk), chunk);
          expect(got).toEqual(ref.tensors.get(name)!.data);
        }
      }
    });
  }

  it('stops when its AbortSignal fires', async () => {
    const file = await openGguf({ bytes });
    const t = file.tensors.find((x) => x.name === 'token_embd.weight')!;
    const abort = new AbortController();
    let chunks = 0;
    const run = async () => {
      for await (const _ of readTensorChunks({ blob: new Blob([bytes]) }, t, 1000, { signal: abort.signal })) {
        if (++chunks === 3) abort.abort();
      }
    };
    await expect(run()).rejects.toMatchObject({ name: 'AbortError' });
    expect(chunks).toBe(3);
  });

  it('rejects a non-positive chunk size', async () => {
    const file = await openGguf({ bytes });
    expect(() => readTensorChunks({ bytes }, file.tensors[0]!, 0)).toThrow(RangeError);
  });
});

describe('URL sources (local HTTP server)', () => {
  const bytes = fixtureBytes('f32');
  let server: Server;
  let base = '';
  let sent = 0;
  let requests: string[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const range = req.headers.range?.match(/^bytes=(\d+)-(\d*)$/);
      requests.push(`${req.url} ${req.headers.range ?? ''}`);
      const send = (status: number, body: Uint8Array, headers: Record<string, string>) => {
        res.writeHead(status, { 'Content-Length': String(body.length), ...headers });
        sent += body.length;
        res.end(body);
      };
      if (req.url === '/missing.gguf') return send(404, new Uint8Array(0), {});
      if (req.url === '/no-range.gguf' || !range) return send(200, bytes, {});
      const start = Number(range[1]);
      const end = Math.min(bytes.length, range[2] ? Number(range[2]) + 1 : bytes.length);
      if (start >= bytes.length) return send(416, new Uint8Array(0), { 'Content-Range': `bytes */${bytes.length}` });
      send(206, bytes.subarray(start, end), { 'Content-Range': `bytes ${start}-${end - 1}/${bytes.length}` });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads the header with range requests, without transferring the file', async () => {
    sent = 0;
    requests = [];
    const file = await openGguf({ url: `${base}/model.gguf` });
    expectSameAsReference(file, readGguf(bytes));
    expect(requests.every((r) => / bytes=\d+-\d+$/.test(r))).toBe(true);
    expect(sent).toBeLessThan(bytes.length / 3);
    console.log(`URL header read: ${requests.length} request(s), ${sent} of ${bytes.length} bytes`);
  });

  it("streams a tensor beyond the header through the load's HttpReader: one request, from the tensor on", async () => {
    const reader = await HttpReader.open({ url: `${base}/model.gguf` });
    const file = await openGguf({ reader });
    const t = [...file.tensors].sort((a, b) => b.offset - a.offset)[0]!; // the last in the file
    expect(t.offset).toBeGreaterThan(HEAD_BYTES);
    sent = 0;
    requests = [];
    const got = await collect(readTensorChunks({ reader }, t, 10_007), 10_007);
    expect(got).toEqual(bytes.subarray(t.offset, t.offset + t.byteLength));
    expect(requests).toEqual([`/model.gguf bytes=${t.offset}-`]);
    expect(sent).toBe(bytes.length - t.offset);
    reader.close();
  });

  it('a server that ignores Range is read front to back (its 200 answer), the header parsed as from a ranged one', async () => {
    const file = await openGguf({ url: `${base}/no-range.gguf` });
    expectSameAsReference(file, readGguf(bytes));
  });

  it('an HTTP error is a NetworkError naming the status', async () => {
    const err = await openGguf({ url: `${base}/missing.gguf` }).catch((e: unknown) => e);
    expect((err as InpageError).code).toBe('NetworkError');
    expect((err as Error).message).toMatch(/404/);
  });
});

/** Overwrites a little-endian u32 / u64 at `at` in a copy. */
function patched(bytes: Uint8Array, at: number, value: number | bigint, size: 4 | 8): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  if (size === 4) view.setUint32(at, Number(value), true);
  else view.setBigUint64(at, BigInt(value), true);
  return out;
}

describe('corrupt and unsupported files', () => {
  const model = makeSyntheticModel({ architecture: 'llama', nLayers: 1, dModel: 32, nHeads: 2, nKvHeads: 1, dFf: 64 });
  const open = (bytes: Uint8Array) => openGguf({ bytes });
  const rewrite = (change: (specs: TensorSpec[]) => TensorSpec[]) => writeGguf({ metadata: model.metadata, tensors: change(model.specs.map((s) => ({ ...s }))) }).bytes;

  it('the unmodified synthetic file opens (so the failures below are caused by the corruption)', async () => {
    await expect(open(model.bytes)).resolves.toBeDefined();
  });

  it('bad magic', async () => {
    const bytes = model.bytes.slice();
    bytes.set([0x47, 0x47, 0x4d, 0x4c]); // "GGML", the pre-GGUF format
    await expectModelError(open(bytes), 'InvalidModelFile', /not a GGUF file.*"GGML".*expected "GGUF"/);
    await expectModelError(open(new TextEncoder().encode('<!DOCTYPE html><html>not a model</html>')), 'InvalidModelFile', /not a GGUF file/);
  });

  it('unsupported versions, and big-endian files', async () => {
    await expectModelError(open(patched(model.bytes, 4, 1, 4)), 'InvalidModelFile', /version 1 is not supported; supported versions: 2, 3/);
    await expectModelError(open(patched(model.bytes, 4, 4, 4)), 'InvalidModelFile', /version 4/);
    await expectModelError(open(patched(model.bytes, 4, 0x03000000, 4)), 'InvalidModelFile', /big-endian/);
  });

  it('truncated anywhere before the end of the last tensor → TruncatedFile with expected vs actual size', async () => {
    const end = model.tensors.reduce((n, t) => Math.max(n, t.offset + t.byteLength), 0);
    const cuts = [0, 3, 4, 8, 16, 23, 24, 30, 100, model.kvEnd - 1, model.kvEnd, model.kvEnd + 1, model.tensorInfosEnd - 1, model.dataOffset, model.dataOffset + 1, end - 1];
    const r = rng(11);
    for (let i = 0; i < 60; i++) cuts.push(Math.floor(r() * end));
    for (const cut of cuts) {
      const e = await expectModelError(open(model.bytes.subarray(0, cut)), 'TruncatedFile');
      expect(e.message, `cut at ${cut}`).toMatch(new RegExp(`\\b${cut}\\b`)); // names the actual size
    }
    const e = await expectModelError(open(model.bytes.subarray(0, end - 1)), 'TruncatedFile', /expected at least \d+ bytes/);
    expect(e.message).toContain(`${end}`);
  });

  it('a tensor offset outside the file', async () => {
    const bytes = rewrite((s) => s.map((t) => (t.name === 'blk.0.ffn_up.weight' ? { ...t, offsetOverride: 2n ** 40n } : t)));
    await expectModelError(open(bytes), 'InvalidModelFile', /blk\.0\.ffn_up\.weight.*outside the \d+-byte file/);
    const huge = rewrite((s) => s.map((t) => (t.name === 'output_norm.weight' ? { ...t, offsetOverride: 2n ** 63n } : t)));
    await expectModelError(open(huge), 'InvalidModelFile', /output_norm\.weight/);
  });

  it('misaligned, overlapping and duplicate tensors', async () => {
    const misaligned = rewrite((s) => s.map((t) => (t.name === 'blk.0.attn_norm.weight' ? { ...t, offsetOverride: 4 } : t)));
    await expectModelError(open(misaligned), 'InvalidModelFile', /attn_norm.*not a multiple of the alignment 32/);
    const overlapping = rewrite((s) => s.map((t) => (t.name === 'blk.0.attn_k.weight' ? { ...t, offsetOverride: 0 } : t)));
    await expectModelError(open(overlapping), 'InvalidModelFile', /overlap/);
    const duplicate = rewrite((s) => [...s, { ...s[1]!, name: s[2]!.name }]);
    await expectModelError(open(duplicate), 'InvalidModelFile', /appears twice/);
  });

  it('dims inconsistent with the block size, zero or too many dims', async () => {
    const rows48 = writeGguf({ metadata: {}, tensors: [{ name: 'w', dims: [48, 2], type: GGML_TYPE_ID.Q8_0, data: new Uint8Array(102) }] }).bytes;
    await expectModelError(open(rows48), 'InvalidModelFile', /"w" has rows of 48 values, but Q8_0 stores blocks of 32/);
    const zero = writeGguf({ metadata: {}, tensors: [{ name: 'z', dims: [0, 4], type: 'F32', data: new Uint8Array(0) }] }).bytes;
    await expectModelError(open(zero), 'InvalidModelFile', /"z"/);
    const fiveD = writeGguf({ metadata: {}, tensors: [{ name: 'v', dims: [1, 1, 1, 1, 2], type: 'F32', data: new Uint8Array(8) }] }).bytes;
    await expectModelError(open(fiveD), 'InvalidModelFile', /"v" has 5 dimensions/);
  });

  it('unsupported tensor types name the tensor and the supported types', async () => {
    const supported = 'F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS';
    const cases = [[GGML_TYPE_ID.IQ2_XXS, 66, 'IQ2_XXS'], [GGML_TYPE_ID.MXFP4, 136, 'MXFP4'], [34, 54, 'TQ1_0'], [99, 16, 'unknown type id 99']] as const;
    for (const [type, bytes256, label] of cases) {
      const bytes = rewrite((s) => s.map((t) => (t.name === 'blk.0.ffn_down.weight' ? { ...t, dims: [256, 1], type, data: new Uint8Array(bytes256) } : t)));
      await expectModelError(open(bytes), 'UnsupportedQuantType', new RegExp(`"blk\\.0\\.ffn_down\\.weight" has type ${label}.*supported types: ${supported}`));
    }
  });

  it('absurd counts fail at once, without hanging or allocating', async () => {
    for (const [at, value, what] of [[8, 2n ** 40n, /2\^?1099511627776 tensors|1099511627776 tensors/], [16, 2n ** 40n, /1099511627776 metadata entries/], [8, 2n ** 64n - 1n, /tensors/]] as const) {
      const t0 = performance.now();
      await expectModelError(open(patched(model.bytes, at, value, 8)), 'InvalidModelFile', what);
      expect(performance.now() - t0).toBeLessThan(200);
    }
    // Plausible counts a small file cannot hold: truncated, also at once.
    const t0 = performance.now();
    await expectModelError(open(patched(model.bytes, 8, 5_000_000, 8)), 'TruncatedFile', /5000000 tensors/);
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('an absurd string length inside the header is a ModelFileError, not a library RangeError', async () => {
    // The first key's length field sits right after the 24-byte fixed header.
    await expectModelError(open(patched(model.bytes, 24, 2n ** 60n, 8)), 'InvalidModelFile', /malformed GGUF header/);
    await expectModelError(open(patched(model.bytes, 24, 2n ** 20n, 8)), 'TruncatedFile');
  });

  it('random corruption of header bytes only ever yields a typed error or a successful parse', async () => {
    const r = rng(5);
    const failures = new Map<string, number>();
    for (let i = 0; i < 300; i++) {
      const bytes = model.bytes.slice();
      for (let k = 0; k < 1 + (i % 4); k++) bytes[Math.floor(r() * model.tensorInfosEnd)] = Math.floor(r() * 256);
      const outcome = await open(bytes).then(
        () => 'ok',
        (e: unknown) => (e instanceof ModelFileError ? e.code : `untyped ${String(e)}`),
      );
      failures.set(outcome, (failures.get(outcome) ?? 0) + 1);
      expect(outcome).not.toMatch(/^untyped/);
    }
    console.log('random header corruption outcomes:', Object.fromEntries(failures));
  });
});
