import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';

import type { AppConfig } from 'src/config/app-config';

let sdk: NodeSDK | undefined;

/** Starts tracing when an OTLP endpoint is configured: HTTP, Fastify and pg spans, exported over OTLP/HTTP. */
export function startTracing(config: AppConfig): void {
  const endpoint = config.telemetry.otlpEndpoint;
  if (endpoint === undefined || sdk !== undefined) {
    return;
  }
  sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': config.telemetry.serviceName }),
    traceExporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }),
    // Traces only: without these the SDK would also ship logs to the endpoint by default.
    logRecordProcessors: [],
    metricReaders: [],
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (req) => req.url?.startsWith('/health/') === true,
      }),
      new FastifyOtelInstrumentation({ registerOnInitialization: true }),
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
}

/** Flushes spans still buffered; the server calls it last, on shutdown. */
export async function stopTracing(): Promise<void> {
  await sdk?.shutdown();
  sdk = undefined;
}
