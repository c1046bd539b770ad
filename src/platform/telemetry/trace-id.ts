import { trace } from '@opentelemetry/api';

/** The trace id of the active span, when tracing is on and a span is active. */
export function activeTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context !== undefined && context.traceFlags !== undefined && /[^0]/.test(context.traceId)
    ? context.traceId
    : undefined;
}
