/**
 * A fault-injecting HTTP server for the download paths (the weight cache, the uncached URL reader), on
 * 127.0.0.1 only: it serves Range requests or, per file, ignores them (200 with the whole body, as
 * `python3 -m http.server` does), sends ETag / Last-Modified / Content-Type as told, cuts connections at a
 * given byte, answers errors, and counts requests, bytes and concurrent connections. Files can be replaced
 * between requests (a file changed on the server mid-download).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Served {
  bytes: Uint8Array;
  etag?: string;
  lastModified?: string;
  /** Content-Type of every answer (default application/octet-stream). */
  contentType?: string;
  /** Ignore Range headers: answer 200 with the whole file. */
  noRange?: boolean;
}

export interface Controls {
  /** Cut the connection once a response has sent the file up to this absolute byte (once). */
  cutAt: number | undefined;
  /** Cut every response after this many body bytes (a network that keeps failing). */
  cutEvery: number | undefined;
  /** Answer the next N requests with this status. */
  failNext: number;
  failStatus: number;
  /** Pause between 16 KiB writes (to make downloads overlap, or a slow link). */
  delayMs: number;
  /** Called before each request is answered (e.g. to replace a file after the first request). */
  onRequest: ((n: number) => void) | undefined;
}

export interface LoggedRequest {
  method: string;
  path: string;
  range: string;
  status: number;
  at: number;
  end: number;
}

const defaults = (): Controls => ({ cutAt: undefined, cutEvery: undefined, failNext: 0, failStatus: 503, delayMs: 0, onRequest: undefined });

export class FaultServer {
  readonly ctl: Controls = defaults();
  readonly files = new Map<string, Served>();
  log: LoggedRequest[] = [];
  bytesSent = 0;
  base = '';
  private server: Server | undefined;

  /** Clears the counters (not the files). */
  resetCounters(): void {
    this.log = [];
    this.bytesSent = 0;
  }

  /** Clears files, counters and faults. */
  reset(): void {
    Object.assign(this.ctl, defaults());
    this.files.clear();
    this.resetCounters();
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      const entry: LoggedRequest = { method: req.method ?? 'GET', path, range: req.headers.range ?? '', status: 0, at: performance.now(), end: Infinity };
      res.on('close', () => (entry.end = Math.min(entry.end, performance.now())));
      this.log.push(entry);
      this.ctl.onRequest?.(this.log.length);
      if (this.log.length > 5000) return void res.writeHead(500).end(); // bounded: a runaway client gets nowhere
      const f = this.files.get(path);
      const headers: Record<string, string | number> = { 'Content-Type': f?.contentType ?? 'application/octet-stream' };
      if (f?.etag) headers.ETag = f.etag;
      if (f?.lastModified) headers['Last-Modified'] = f.lastModified;
      const reply = (status: number, more: Record<string, string | number> = {}) => {
        entry.status = status;
        res.writeHead(status, { ...headers, ...more });
      };
      if (this.ctl.failNext > 0) {
        this.ctl.failNext--;
        return void (reply(this.ctl.failStatus, { 'Content-Length': 0 }), res.end());
      }
      if (!f) return void (reply(404, { 'Content-Length': 0 }), res.end());
      const size = f.bytes.length;
      if (req.method === 'HEAD') return void (reply(200, { 'Content-Length': size, ...(f.noRange ? {} : { 'Accept-Ranges': 'bytes' }) }), res.end());
      const m = f.noRange ? null : /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
      let start = 0;
      let end = size;
      if (m) {
        start = Number(m[1]);
        end = m[2] ? Math.min(size, Number(m[2]) + 1) : size;
        if (start >= size) return void (reply(416, { 'Content-Range': `bytes */${size}` }), res.end());
        reply(206, { 'Content-Length': end - start, 'Content-Range': `bytes ${start}-${end - 1}/${size}` });
      } else reply(200, { 'Content-Length': size });
      let cut = end;
      if (this.ctl.cutAt !== undefined && this.ctl.cutAt > start && this.ctl.cutAt < end) {
        cut = this.ctl.cutAt;
        this.ctl.cutAt = undefined;
      }
      if (this.ctl.cutEvery !== undefined) cut = Math.min(cut, start + this.ctl.cutEvery);
      const bytes = f.bytes; // the version this answer began with, even if the file is replaced meanwhile
      void (async () => {
        for (let at = start; at < cut && !res.destroyed; at += 16384) {
          const piece = bytes.subarray(at, Math.min(cut, at + 16384));
          await new Promise<void>((resolve) => res.write(piece, () => resolve()));
          this.bytesSent += piece.length;
          if (at + 16384 >= cut) entry.end = performance.now(); // the last byte is out: the client may finish any time now
          if (this.ctl.delayMs) await new Promise((r) => setTimeout(r, this.ctl.delayMs));
        }
        if (cut < end) res.destroy();
        else res.end();
      })();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.server = server;
    this.base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    setTimeout(() => server.closeAllConnections(), 170_000).unref(); // stops itself whatever happens
  }

  close(): Promise<void> {
    return new Promise<void>((resolve) => {
      if (!this.server) return resolve();
      this.server.closeAllConnections();
      this.server.close(() => resolve());
    });
  }
}

/** Most responses of `entries` open at the same time. */
export function concurrency(entries: { at: number; end: number }[]): number {
  return Math.max(...entries.map((e) => entries.filter((o) => o.at <= e.at && e.at < o.end).length));
}
