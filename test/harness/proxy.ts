/**
 * A small HTTP proxy on 127.0.0.1 in front of a real server, for fault
 * injection: each request is answered by `behaviour(n)` (n counts from 1) with
 * a status of its own, after a delay, or forwarded to the target.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyAnswer =
  | { readonly forward: true; readonly delayMs?: number }
  | { readonly status: number; readonly body?: string; readonly delayMs?: number };

export interface Proxy {
  readonly url: string;
  /** Requests seen so far (method and path). */
  readonly requests: { method: string; url: string }[];
  stop(): Promise<void>;
}

export async function startProxy(
  target: string,
  behaviour: (n: number) => ProxyAnswer,
): Promise<Proxy> {
  const requests: { method: string; url: string }[] = [];
  const to = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '' });
      const answer = behaviour(requests.length);
      const act = () => {
        if (!('forward' in answer)) {
          res.writeHead(answer.status).end(answer.body ?? '');
          return;
        }
        const upstream = http.request(
          {
            host: to.hostname,
            port: to.port,
            path: req.url,
            method: req.method,
            headers: req.headers,
          },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        upstream.on('error', () => res.writeHead(502).end());
        upstream.end(Buffer.concat(chunks));
      };
      if (answer.delayMs === undefined) act();
      else setTimeout(act, answer.delayMs).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
