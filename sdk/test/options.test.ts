import { describe, expect, it } from 'vitest';
import { baseUrlOf, parseKeyValueList, resolveEndpoints } from '../src/telemetry/options.js';

describe('resolveEndpoints (design.md endpoint rules)', () => {
  it('appends /v1/logs and /v1/traces to OTLP_ENDPOINT', () => {
    expect(resolveEndpoints({ OTLP_ENDPOINT: 'http://collector:4318' })).toEqual({
      logsUrl: 'http://collector:4318/v1/logs',
      tracesUrl: 'http://collector:4318/v1/traces',
    });
  });
  it('takes a value ending in /v1/logs or /v1/traces as its base', () => {
    for (const v of [
      'http://c:4318/v1/logs',
      'http://c:4318/v1/traces',
      'http://c:4318/v1/traces/',
      'http://c:4318/',
    ]) {
      expect(resolveEndpoints({ OTLP_ENDPOINT: v })).toEqual({
        logsUrl: 'http://c:4318/v1/logs',
        tracesUrl: 'http://c:4318/v1/traces',
      });
    }
    expect(baseUrlOf('http://gw/otlp/v1/logs')).toBe('http://gw/otlp');
  });
  it('lets OTEL_EXPORTER_OTLP_ENDPOINT win over OTLP_ENDPOINT, and per-signal variables win over both', () => {
    expect(
      resolveEndpoints({ OTLP_ENDPOINT: 'http://a:1', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:2' }),
    ).toEqual({
      logsUrl: 'http://b:2/v1/logs',
      tracesUrl: 'http://b:2/v1/traces',
    });
    expect(
      resolveEndpoints({
        OTLP_ENDPOINT: 'http://a:1',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:2',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:3/custom/traces',
      }),
    ).toEqual({ logsUrl: 'http://b:2/v1/logs', tracesUrl: 'http://t:3/custom/traces' });
  });
  it('uses the endpoint option only when no variable is set, then localhost:4318', () => {
    expect(resolveEndpoints({}, 'http://opt:9/v1/traces').logsUrl).toBe('http://opt:9/v1/logs');
    expect(resolveEndpoints({ OTLP_ENDPOINT: 'http://env:1' }, 'http://opt:9').logsUrl).toBe(
      'http://env:1/v1/logs',
    );
    expect(resolveEndpoints({ OTLP_ENDPOINT: '  ' })).toEqual({
      logsUrl: 'http://localhost:4318/v1/logs',
      tracesUrl: 'http://localhost:4318/v1/traces',
    });
  });
  it('parses k=v lists with percent-encoding and skips malformed parts', () => {
    expect(parseKeyValueList('a=1, b = x%20y ,bad,=novalue,c=')).toEqual({ a: '1', b: 'x y', c: '' });
  });
});
