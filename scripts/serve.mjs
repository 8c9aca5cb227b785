// A tiny static file server for the browser tests and the demo (`npm run demo`): serves the repository root on
// 127.0.0.1 (WebGPU needs a secure context; localhost counts) with a strict Content-Security-Policy on
// HTML pages (no eval, no inline script: the SDK must work under it) and the cross-origin isolation
// headers onnxruntime-web's threaded WASM needs.
import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { Transform } from 'node:stream';
import { extname, join, normalize, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? '.');
const port = Number(process.argv[3] ?? process.env.PORT ?? 4173);
const types = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.map': 'application/json',
  '.gguf': 'application/octet-stream', '.png': 'image/png', '.svg': 'image/svg+xml', '.wgsl': 'text/plain',
};
const csp = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'";

/**
 * `?throttle=N` on a file's URL sends its bytes at N MiB/s (benchmarks use it to stand for a real link:
 * on localhost the transfer itself is CPU-bound). The pacing is by the clock, from the response's start.
 */
function paced(mibPerSecond) {
  const t0 = Date.now();
  let sent = 0;
  return new Transform({
    transform(piece, _encoding, done) {
      sent += piece.length;
      const due = t0 + (sent / (mibPerSecond * 2 ** 20)) * 1000;
      const wait = due - Date.now();
      if (wait < 1) done(null, piece); // a timer waits ≥ 1 ms: only behind schedule is no wait
      else setTimeout(() => done(null, piece), wait);
    },
  });
}

createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const throttle = Number(url.searchParams.get('throttle'));
  const send = (stream) => (throttle > 0 ? stream.pipe(paced(throttle)) : stream).pipe(res);
  let path = normalize(join(root, decodeURIComponent(url.pathname)));
  if (!path.startsWith(root)) return void res.writeHead(403).end();
  try {
    if (statSync(path).isDirectory()) path = join(path, 'index.html');
    const size = statSync(path).size;
    const type = types[extname(path)] ?? 'application/octet-stream';
    const headers = {
      'Content-Type': type, 'Content-Length': size, 'Cache-Control': 'no-store',
      'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin', 'Accept-Ranges': 'bytes',
    };
    if (type.startsWith('text/html')) headers['Content-Security-Policy'] = csp;
    // Range requests: the SDK reads GGUF headers and streams tensors with them.
    const range = /^bytes=(\d*)-(\d*)$/.exec(req.headers.range ?? '');
    if (range && (range[1] || range[2])) {
      const start = range[1] ? Number(range[1]) : Math.max(0, size - Number(range[2]));
      const end = range[1] && range[2] ? Math.min(size - 1, Number(range[2])) : size - 1;
      if (start >= size || start > end) return void res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
      res.writeHead(206, { ...headers, 'Content-Length': end - start + 1, 'Content-Range': `bytes ${start}-${end}/${size}` });
      if (req.method === 'HEAD') return void res.end();
      return void send(createReadStream(path, { start, end }));
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return void res.end();
    send(createReadStream(path));
  } catch {
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found');
  }
}).listen(port, '127.0.0.1', () => console.log(`serving ${root} at http://127.0.0.1:${port}/ (Ctrl-C to stop)`));
