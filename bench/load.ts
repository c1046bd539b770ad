/**
 * Load generator, run as a child process by the benchmarks so that it does not share an event loop with the
 * server it measures: `node dist/bench/load.js <url> <connections> <seconds> [bodies.json|-] [headers]`. With a
 * bodies file (a JSON array of strings), each request POSTs one of them, chosen at random; with `-`, GETs.
 * `headers` is a JSON object sent with every request. Prints one JSON line.
 */
import { readFileSync } from 'node:fs';

// autocannon ships no types; this is the part of its API the benchmarks use.
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}
type Autocannon = (options: Record<string, unknown>) => Promise<AutocannonResult>;

async function main(): Promise<void> {
  const [url, connections, seconds, bodiesArg, headersArg] = process.argv.slice(2);
  const bodiesFile = bodiesArg === '-' ? undefined : bodiesArg;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const autocannon = require('autocannon') as Autocannon;
  const bodies =
    bodiesFile === undefined
      ? undefined
      : (JSON.parse(readFileSync(bodiesFile, 'utf8')) as string[]);
  const result = await autocannon({
    url,
    connections: Number(connections),
    duration: Number(seconds),
    headers: headersArg === undefined ? {} : (JSON.parse(headersArg) as Record<string, string>),
    ...(bodies === undefined
      ? {}
      : {
          requests: [
            {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              setupRequest: (request: Record<string, unknown>) => ({
                ...request,
                body: bodies[Math.floor(Math.random() * bodies.length)],
              }),
            },
          ],
        }),
  });
  process.stdout.write(
    `${JSON.stringify({
      rps: result.requests.average,
      total: result.requests.total,
      p50: result.latency.p50,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
      // The generator's own CPU, so that benchmarks can say how much of the machine the load took.
      cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    })}\n`,
  );
}

void main();
