import type { ServiceDefinition } from '@grpc/grpc-js';
import type { OtlpSignal } from './otlpProto.js';

/** The OTLP collector services' `Export` methods (grpc paths). */
export const OTLP_GRPC_PATHS: Record<OtlpSignal | 'metrics', string> = {
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};

/**
 * One OTLP collector service with its `Export` method taking the raw protobuf request bytes and
 * answering an empty `Export*ServiceResponse` (no partial_success), which is zero bytes.
 */
export function rawExportService(path: string): ServiceDefinition {
  return {
    Export: {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: () => Buffer.alloc(0),
      responseDeserialize: (b: Buffer) => b,
    },
  };
}
