import type { Agent } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * TLS material for an https endpoint, from `OTEL_EXPORTER_OTLP_CERTIFICATE` (trusted roots),
 * `…_CLIENT_CERTIFICATE` and `…_CLIENT_KEY` (mTLS) or their per-signal variants.
 */
export interface TlsFiles {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** The exporters' HTTP agents, which `shutdown()` can close for good. */
export interface ClosableAgents {
  /** `httpAgentOptions` for an OTLP exporter: one keep-alive agent per call, remembered. */
  factory(protocol: string): Promise<Agent>;
  /** The same, with TLS material for https endpoints. */
  factoryFor(tls: TlsFiles): (protocol: string) => Promise<Agent>;
  /** Ends every request in flight and refuses new ones, with an error the exporter does not retry. */
  closeAll(): void;
}

type CreateConnection = Agent['createConnection'];

/**
 * A request abandoned at the shutdown deadline must not keep the process alive until its export
 * timeout: its socket is destroyed, and retries the exporter had scheduled fail at once. The error
 * has a code the OTLP transport does not treat as retryable (ECONNRESET would be retried).
 */
export function closableAgents(): ClosableAgents {
  const agents: Agent[] = [];
  let closed = false;
  const shutDown = () =>
    Object.assign(new Error('@spendline/sdk: telemetry was shut down'), { code: 'SPENDLINE_SHUT_DOWN' });
  const factoryFor =
    (tls: TlsFiles) =>
    async (protocol: string): Promise<Agent> => {
      // Loaded lazily, as the exporter's docs ask, so an http instrumentation can patch the module first.
      const https = protocol === 'https:';
      const { Agent } = https ? await import('node:https') : await import('node:http');
      // The exporter would build this from the same variables itself, but a factory given to it
      // (ours: closable at the deadline) replaces its own: so the TLS material goes here.
      const agent: Agent = new Agent({ keepAlive: true, ...(https ? tls : {}) });
      const create = agent.createConnection.bind(agent);
      agent.createConnection = ((options, callback) => {
        if (!closed) return create(options, callback);
        callback?.(shutDown(), undefined as unknown as Duplex);
        return undefined;
      }) as CreateConnection;
      agents.push(agent);
      return agent;
    };
  return {
    factory: factoryFor({}),
    factoryFor,
    closeAll() {
      closed = true;
      for (const agent of agents) {
        for (const sockets of Object.values(agent.sockets))
          for (const s of sockets ?? []) s.destroy(shutDown());
        agent.destroy();
      }
    },
  };
}
