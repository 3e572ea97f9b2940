/** Which of spendline's listeners could not bind: the command that started it names the flag that moves it. */
export type Listener = 'otlp-http' | 'otlp-grpc' | 'sidecar';

const WHAT: Record<Listener, string> = {
  'otlp-http': 'the OTLP/HTTP receiver',
  'otlp-grpc': 'the OTLP/gRPC receiver',
  sidecar: 'the HTTP server (status page, /metrics, /api)',
};

/** A bind failure in one line: which listener, where, and why in words (not `listen EADDRINUSE: …`). */
export class ListenError extends Error {
  constructor(
    readonly listener: Listener,
    where: string,
    cause: unknown,
  ) {
    const text = cause instanceof Error ? cause.message : String(cause);
    const code = (cause as { code?: unknown } | undefined)?.code;
    const reason =
      code === 'EADDRINUSE' || /EADDRINUSE/.test(text)
        ? 'address already in use'
        : code === 'EACCES' || /EACCES/.test(text)
          ? 'permission denied (ports below 1024 need privileges)'
          : code === 'EADDRNOTAVAIL' || /EADDRNOTAVAIL/.test(text)
            ? 'this host has no such address'
            : text;
    super(`${WHAT[listener]} cannot listen on ${where}: ${reason}`);
    this.name = 'ListenError';
  }
}

/** A host as it goes before `:port` in an address or a URL: an IPv6 host in brackets. */
export const hostText = (host: string): string => (host.includes(':') ? `[${host}]` : host);

/** `host:port`, with an IPv6 host in brackets. */
export const hostPortText = (host: string, port: number): string => `${hostText(host)}:${port}`;
