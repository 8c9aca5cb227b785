/**
 * What every model loader (our kernels: ./load_model.ts; onnxruntime-web on a GGUF file:
 * src/backends/ort/load_ort_model.ts) does around reading the file: a URL is opened once for the whole load
 * as an HttpReader (every read checked against the same version of the file, retried and resumed: see
 * src/formats/http_reader.ts), and the load's signal is honoured at every step — also after the loader's
 * last one, since shader compile and warm-up do not look at it — with one typed AbortError however it was
 * noticed.
 */
import { abortErrorOf } from '../errors';
import type { ByteSource } from '../formats/byte_source';
import { HttpReader } from '../formats/http_reader';

export async function withModelSource<T extends { unload(): Promise<void> }>(
  opened: ByteSource,
  signal: AbortSignal | undefined,
  load: (source: ByteSource) => Promise<T>,
): Promise<T> {
  let http: HttpReader | undefined;
  try {
    if ('url' in opened) http = await HttpReader.open(opened, { signal });
    const model = await load(http ? { reader: http } : opened);
    if (signal?.aborted) await model.unload();
    signal?.throwIfAborted();
    return model;
  } catch (e) {
    throw signal?.aborted ? abortErrorOf(signal) : e;
  } finally {
    http?.close();
  }
}
