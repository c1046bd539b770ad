/**
 * Loaded with `node --require` before anything else, so the HTTP and pg instrumentations can patch their
 * modules before Nest loads them. Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT is configured, off otherwise.
 */
import { FastifyOtelInstrumentation } from '@fastify/otel';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';

import { ConfigError, loadConfig } from 'src/config/app-config';
import type { AppConfig } from 'src/config/app-config';

export function startTracing(config: AppConfig): NodeSDK | undefined {
  const endpoint = config.telemetry.otlpEndpoint;
  if (endpoint === undefined) {
    return undefined;
  }
  const sdk = new NodeSDK({
    resource: resourceFromAttributes({ 'service.name': config.telemetry.serviceName }),
    traceExporter: new OTLPTraceExporter({ url: `${endpoint.replace(/\/$/, '')}/v1/traces` }),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (req) => req.url?.startsWith('/health/') === true }),
      new FastifyOtelInstrumentation({ registerOnInitialization: true }),
      new PgInstrumentation({ requireParentSpan: true }),
    ],
  });
  sdk.start();
  process.once('beforeExit', () => void sdk.shutdown());
  return sdk;
}

try {
  startTracing(loadConfig());
} catch (error) {
  // A bad configuration is reported, with every bad variable, by main.ts; tracing just stays off.
  if (!(error instanceof ConfigError)) {
    throw error;
  }
}
