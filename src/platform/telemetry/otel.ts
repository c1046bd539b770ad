/**
 * Loaded with `node --require` before anything else, so the HTTP and pg instrumentations can patch their
 * modules before Nest loads them. Tracing is on when OTEL_EXPORTER_OTLP_ENDPOINT is configured, off otherwise.
 */
// First: stops with a clear message on an unsupported Node, before any dependency loads.
import 'src/platform/runtime/supported-node';
import { ConfigError, loadConfig } from 'src/config/app-config';
import { startTracing } from 'src/platform/telemetry/tracing';

try {
  startTracing(loadConfig());
} catch (error) {
  // A bad configuration is reported, with every bad variable, by main.ts; tracing just stays off.
  if (!(error instanceof ConfigError)) {
    throw error;
  }
}
