import { type Metadata, Server, ServerCredentials } from '@grpc/grpc-js';
import { OTLP_GRPC_PATHS, rawExportService } from '../../../sidecar/src/receiver/otlpGrpcService.js';
import { decodeOtlpProtobuf, type OtlpSignal } from '../../../sidecar/src/receiver/otlpProto.js';
import { type CapturedLog, type CapturedSpan, capturedLogs, capturedSpans } from './otlpReceiver.js';

export interface OtlpGrpcReceiver {
  /** `http://127.0.0.1:<port>`: an OTLP/gRPC endpoint (no path). */
  url: string;
  /** Metadata of every Export call, per signal (lowercase keys). */
  metadata: { signal: OtlpSignal; values: Record<string, unknown> }[];
  logs(): CapturedLog[];
  spans(): CapturedSpan[];
  close(): Promise<void>;
}

/**
 * A loopback OTLP/gRPC receiver (the collector's `otlp` receiver on 4317 stands behind it in
 * production): it decodes each Export request with the sidecar's protobuf decoder and records it.
 */
export async function startOtlpGrpcReceiver(
  options: {
    /** Serve TLS with this key and certificate (the URL is then https). */
    tls?: { key: Buffer; cert: Buffer };
  } = {},
): Promise<OtlpGrpcReceiver> {
  const server = new Server();
  const bodies: Record<OtlpSignal, unknown[]> = { logs: [], traces: [] };
  const metadata: OtlpGrpcReceiver['metadata'] = [];
  for (const signal of ['logs', 'traces'] as const) {
    server.addService(rawExportService(OTLP_GRPC_PATHS[signal]), {
      Export: (
        call: { request: Buffer; metadata: Metadata },
        callback: (err: Error | null, response?: Buffer) => void,
      ) => {
        metadata.push({ signal, values: call.metadata.getMap() });
        const decoded = decodeOtlpProtobuf(signal, call.request);
        if (!decoded.ok) {
          callback(new Error(decoded.reason));
          return;
        }
        bodies[signal].push(decoded.message);
        callback(null, Buffer.alloc(0));
      },
    });
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      '127.0.0.1:0',
      options.tls === undefined
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(null, [{ private_key: options.tls.key, cert_chain: options.tls.cert }]),
      (err, p) => (err ? reject(err) : resolve(p)),
    ),
  );
  return {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    metadata,
    logs: () => capturedLogs(bodies.logs),
    spans: () => capturedSpans(bodies.traces),
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        setTimeout(() => server.forceShutdown(), 2000).unref();
      }),
  };
}
