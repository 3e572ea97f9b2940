import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireBinary } from '../../../test/support/prometheus.js';

export interface TestCertificates {
  dir: string;
  /** PEM paths: a CA, a server certificate for 127.0.0.1 it signed, a client certificate it signed. */
  paths: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string };
  read(name: keyof TestCertificates['paths']): Buffer;
  remove(): void;
}

/** A throwaway CA with a server (IP 127.0.0.1) and a client certificate, made with `openssl`. */
export function makeTestCertificates(): TestCertificates {
  const openssl = requireBinary('openssl');
  const dir = mkdtempSync(join(tmpdir(), 'spendline-tls-'));
  const run = (...args: string[]) => {
    const r = spawnSync(openssl, args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  run(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=spendline test CA',
  );
  for (const who of ['server', 'client']) {
    run(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${who}.key`,
      '-out',
      `${who}.csr`,
      '-subj',
      `/CN=${who}`,
    );
    const ext = who === 'server' ? 'subjectAltName=IP:127.0.0.1\n' : 'extendedKeyUsage=clientAuth\n';
    writeFileSync(join(dir, `${who}.ext`), ext);
    run(
      'x509',
      '-req',
      '-in',
      `${who}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${who}.pem`,
      '-days',
      '2',
      '-extfile',
      `${who}.ext`,
    );
  }
  const paths = {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
  };
  return {
    dir,
    paths,
    read: (name) => readFileSync(paths[name]),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
