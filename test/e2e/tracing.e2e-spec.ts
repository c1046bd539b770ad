import { createServer } from 'node:http';
import type { Server } from 'node:http';

import { freePort } from 'test/support/global-setup';
import { spawnServer, waitForStatus } from 'test/support/server-process';
import { createTestDatabase } from 'test/support/test-database';
import { TEST_SECRETS } from 'test/support/test-config';

/** A stand-in OTLP/HTTP collector: records the trace ids of the spans it receives. */
async function startCollector(): Promise<{
  url: string;
  traceIds: Set<string>;
  spanNames: Set<string>;
  server: Server;
}> {
  const traceIds = new Set<string>();
  const spanNames = new Set<string>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as {
        resourceSpans?: { scopeSpans?: { spans?: { traceId: string; name: string }[] }[] }[];
      };
      for (const resource of body.resourceSpans ?? []) {
        for (const scope of resource.scopeSpans ?? []) {
          for (const span of scope.spans ?? []) {
            traceIds.add(span.traceId);
            spanNames.add(span.name);
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, traceIds, spanNames, server };
}

describe('tracing', () => {
  it('exports HTTP and pg spans over OTLP, and puts the trace id in problems and log lines', async () => {
    const collector = await startCollector();
    const port = await freePort();
    const server = spawnServer({
      ...TEST_SECRETS,
      DATABASE_URL: await createTestDatabase(),
      PORT: String(port),
      LOG_LEVEL: 'info',
      OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
    });
    try {
      await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 30_000);
      const response = await fetch(`http://127.0.0.1:${port}/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'nobody@example.com', password: 'not-the-password' }),
      });
      const problem = (await response.json()) as { traceId: string; code: string };
      expect(problem.code).toBe('INVALID_CREDENTIALS');
      expect(problem.traceId).toMatch(/^[0-9a-f]{32}$/);

      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      // Shutdown flushes the exporter: the request's trace has arrived, with database spans in it.
      expect(collector.traceIds).toContain(problem.traceId);
      expect([...collector.spanNames].some((name) => /^(pg\.query|SELECT|INSERT)/.test(name))).toBe(
        true,
      );
      const logLine = server
        .output()
        .split('\n')
        .find((line) => line.includes('"request completed"') && line.includes(problem.traceId));
      expect(logLine).toBeDefined();
    } finally {
      server.child.kill('SIGKILL');
      collector.server.close();
    }
  });
});
