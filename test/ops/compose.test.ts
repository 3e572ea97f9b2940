/**
 * docker-compose.yml (validated, not run: there is no Docker engine here): Debian's docker-compose
 * parses it, and the wiring that makes the stack work holds: the sidecar tails exactly the files the
 * collector writes, on the same named volume; every long-running service has a healthcheck; every
 * image is pinned; every published port is documented. The `scale` profile (gateway, two collector +
 * sidecar pairs, PostgreSQL) is validated at the end.
 */
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import picomatch from 'picomatch';
import { describe, expect, it } from 'vitest';
import {
  isRecord,
  REPO_ROOT,
  readRepoText,
  readRepoYaml,
  recordAt,
  repoPath,
  stringsAt,
} from './support/repoFiles.js';
import { runTool } from './support/runTool.js';

const compose = readRepoYaml('docker-compose.yml');
const services = recordAt(compose, 'services');
const collectorConfig = readRepoYaml('collector-config/otelcol.yaml');

function service(name: string): Record<string, unknown> {
  return recordAt(services, name);
}

const SCALE_SERVICES = [
  'otel-collector-a',
  'otel-collector-b',
  'otelcol-gateway',
  'postgres',
  'sidecar-a',
  'sidecar-b',
  'volume-init-scale',
];

/** Services `docker compose up` starts without a profile. */
function defaultServices(): string[] {
  return Object.keys(services).filter((name) => service(name).profiles === undefined);
}

function profileServices(profile: string): string[] {
  return Object.keys(services).filter((name) => list(service(name).profiles).includes(profile));
}

function list(value: unknown): string[] {
  return Array.isArray(value) ? value.map(String) : [];
}

interface Mount {
  source: string;
  target: string;
  readOnly: boolean;
  nocopy: boolean;
}

/** A service's volumes, short (`volume:/mount[:ro]`) or long syntax, as one shape. */
function mounts(name: string): Mount[] {
  const volumes = service(name).volumes;
  return (Array.isArray(volumes) ? volumes : []).map((v) => {
    if (typeof v === 'string') {
      const [source = '', target = '', mode = ''] = v.split(':');
      return { source, target, readOnly: mode === 'ro', nocopy: false };
    }
    const m = recordAt(v);
    return {
      source: String(m.source),
      target: String(m.target),
      readOnly: m.read_only === true,
      nocopy: isRecord(m.volume) && m.volume.nocopy === true,
    };
  });
}

/** The value following `flag` in a service's command list. */
function flagValue(name: string, flag: string): string {
  const command = list(service(name).command);
  const i = command.indexOf(flag);
  const value = command[i + 1];
  if (i < 0 || value === undefined) throw new Error(`${name} has no ${flag}`);
  return value;
}

/** Maps a path inside one container to the named volume and the path inside that volume. */
function onVolume(serviceName: string, path: string): { volume: string; inner: string } {
  const mount = mounts(serviceName).find((m) => path === m.target || path.startsWith(`${m.target}/`));
  if (!mount) throw new Error(`${path} is not on a volume of ${serviceName}`);
  return { volume: mount.source, inner: path.slice(mount.target.length) };
}

describe('docker-compose.yml', () => {
  it('parses with docker-compose config -q', () => {
    const r = runTool('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], REPO_ROOT);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('runs every component of the stack by default, and the fleet only with the scale profile', () => {
    expect(defaultServices().sort()).toEqual([
      'alertmanager',
      'grafana',
      'jaeger',
      'opensearch',
      'opensearch-dashboards',
      'opensearch-init',
      'otel-collector',
      'otel-collector-backends',
      'prometheus',
      'sidecar',
      'volume-init',
    ]);
    expect(profileServices('scale').sort()).toEqual(SCALE_SERVICES);
    expect(defaultServices().length + profileServices('scale').length).toBe(Object.keys(services).length);
  });

  it('the sidecar tails exactly the files the collector writes, live and rotated, on one named volume', () => {
    const glob = flagValue('sidecar', '--otlp-file');
    const sidecarSide = onVolume('sidecar', posix.dirname(glob));
    const exporters = recordAt(collectorConfig, 'exporters');
    const filePaths = Object.entries(exporters)
      .filter(([name]) => name === 'file' || name.startsWith('file/'))
      .map(([, e]) => String(recordAt(e).path));
    expect(filePaths).toHaveLength(2);
    const matches = picomatch(posix.basename(glob));
    for (const path of filePaths) {
      const collectorSide = onVolume('otel-collector', posix.dirname(path));
      expect(collectorSide).toEqual(sidecarSide);
      const name = posix.basename(path);
      // The file exporter's rotation renames to <name>-<timestamp>.<ext> (lumberjack's format).
      const rotated = name.replace(/\.jsonl$/, '-2026-11-22T10-00-00.000.jsonl');
      expect(matches(name), name).toBe(true);
      expect(matches(rotated), rotated).toBe(true);
    }
    expect(Object.keys(recordAt(compose, 'volumes'))).toContain(sidecarSide.volume);
    // The sidecar only reads the export; the collector's config file is the one compose mounts.
    expect(mounts('sidecar')).toContainEqual({
      source: 'genai-export',
      target: '/var/spendline/export',
      readOnly: true,
      nocopy: true,
    });
    expect(list(service('otel-collector').command)).toEqual(['--config=/etc/otelcol-contrib/otelcol.yaml']);
    expect(mounts('otel-collector')).toContainEqual({
      source: './collector-config/otelcol.yaml',
      target: '/etc/otelcol-contrib/otelcol.yaml',
      readOnly: true,
      nocopy: false,
    });
    expect(flagValue('sidecar', '--listen')).toBe('0.0.0.0:9464');
  });

  it('Prometheus scrapes the sidecar and collector under the names compose gives them', () => {
    const prom = readRepoYaml('prometheus/prometheus.yml');
    const jobs = new Map<string, string[]>();
    for (const job of (isRecord(prom) && Array.isArray(prom.scrape_configs)
      ? prom.scrape_configs
      : []
    ).filter(isRecord)) {
      const targets = (Array.isArray(job.static_configs) ? job.static_configs : [])
        .filter(isRecord)
        .flatMap((s) => list(s.targets));
      jobs.set(String(job.job_name), targets);
    }
    expect(jobs.get('spendline-sidecar')).toEqual(['sidecar:9464']);
    expect(jobs.get('otel-collector')).toEqual(['otel-collector:8888', 'otel-collector-backends:8888']);
    expect(jobs.get('prometheus')).toEqual(['localhost:9090']);
  });

  it('has a healthcheck on every long-running service except the scratch-based collector', () => {
    const oneShot = ['volume-init', 'volume-init-scale', 'opensearch-init'];
    for (const [name, svc] of Object.entries(services)) {
      if (oneShot.includes(name)) {
        expect(recordAt(svc).restart, name).toBe('no');
        continue;
      }
      const hc = recordAt(svc, 'healthcheck');
      if (name.startsWith('otel')) expect(hc.disable).toBe(true);
      else expect(list(hc.test).length, name).toBeGreaterThan(1);
    }
  });

  it('the state and export volumes keep the owner compose runs the sidecar and collector as', () => {
    // Compose runs the sidecar as 10001 (the collector image's user); volume-init chowns the shared
    // volumes to it, the services mount them with nocopy (no copy-up resets the owner afterwards),
    // and the sidecar image's own directories are owned by the same UID.
    expect(service('sidecar').user).toBe('10001:10001');
    expect(list(service('volume-init').command).join(' ')).toContain(
      'chown -R 10001:10001 /var/spendline/export /var/lib/spendline',
    );
    for (const [svc, volume] of [
      ['sidecar', 'genai-export'],
      ['sidecar', 'sidecar-state'],
      ['otel-collector', 'genai-export'],
    ] as const) {
      const mount = mounts(svc).find((m) => m.source === volume);
      expect(mount?.nocopy, `${svc} ${volume}`).toBe(true);
    }
    const dockerfile = readFileSync(repoPath('sidecar/Dockerfile'), 'utf8');
    expect(dockerfile).toContain('ARG SPENDLINE_UID=10001');
    expect(dockerfile).toMatch(
      /chown \$\{SPENDLINE_UID\}:\$\{SPENDLINE_UID\} \/var\/lib\/spendline \/var\/spendline\/export/,
    );
    expect(dockerfile).toMatch(/^USER \$\{SPENDLINE_UID\}:\$\{SPENDLINE_UID\}$/m);
  });

  it('the file export depends on nothing but the volumes; the backends collector waits for opensearch-init', () => {
    expect(recordAt(service('otel-collector'), 'depends_on')).toEqual({
      'volume-init': { condition: 'service_completed_successfully' },
    });
    expect(recordAt(service('otel-collector-backends'), 'depends_on')).toEqual({
      'opensearch-init': { condition: 'service_completed_successfully' },
      jaeger: { condition: 'service_healthy' },
    });
    expect(list(service('otel-collector-backends').command)).toEqual([
      '--config=/etc/otelcol-contrib/otelcol-backends.yaml',
    ]);
    expect(list(service('opensearch-init').entrypoint)).toEqual(['sh', '/opensearch/init.sh']);
    expect(recordAt(service('opensearch-init'), 'depends_on')).toEqual({
      opensearch: { condition: 'service_healthy' },
    });
    // The front collector forwards to the backends collector by its compose name.
    const forward = recordAt(collectorConfig, 'exporters', 'otlp/backends');
    expect(forward.endpoint).toBe('otel-collector-backends:4317');
  });

  it('pins every image to a version and builds the sidecar from sidecar/Dockerfile', () => {
    for (const [name, svc] of Object.entries(services)) {
      const image = String(recordAt(svc).image);
      // PostgreSQL numbers its releases major.minor.
      if (name === 'postgres') expect(image).toMatch(/^postgres:16\.\d+$/);
      else expect(image, name).toMatch(/^[\w./-]+:v?\d+\.\d+\.\d+$/);
    }
    expect(String(service('otel-collector').image)).toBe('otel/opentelemetry-collector-contrib:0.133.0');
    expect(readRepoText('collector-config/otelcol.yaml')).toContain(
      'opentelemetry-collector-contrib 0.133.0',
    );
    expect(recordAt(service('sidecar'), 'build')).toEqual({ context: '.', dockerfile: 'sidecar/Dockerfile' });
    const dockerfile = readFileSync(repoPath('sidecar/Dockerfile'), 'utf8');
    expect(dockerfile.match(/^FROM node:20/gm)).toHaveLength(2);
    expect(dockerfile).toContain('npm ci');
  });

  it('the build context keeps every file sidecar/Dockerfile copies (.dockerignore)', () => {
    const ignored = readRepoText('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    const isIgnored = picomatch(ignored.flatMap((p) => [p, `${p}/**`]));
    const dockerfile = readFileSync(repoPath('sidecar/Dockerfile'), 'utf8');
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) =>
      (m[1] ?? '').split(' '),
    );
    expect(sources).toEqual([
      'package.json',
      'package-lock.json',
      'tsconfig.base.json',
      'tsconfig.json',
      'sdk/package.json',
      'sidecar/package.json',
      'sdk',
      'sidecar',
    ]);
    for (const path of [...sources, 'sdk/src/index.ts', 'sidecar/src/cli.ts', 'sidecar/public/index.html']) {
      expect(isIgnored(path), path).toBe(false);
    }
    for (const path of ['node_modules/x', 'sidecar/dist/cli.js', 'sidecar/test/a.test.ts', '.git/HEAD']) {
      expect(isIgnored(path), path).toBe(true);
    }
  });

  it('documents every published port in the compose header and in docs/deploy.md', () => {
    const header = readRepoText('docker-compose.yml').split('\nservices:')[0] ?? '';
    const deploy = readRepoText('docs/deploy.md');
    const published = Object.values(services).flatMap((svc) =>
      list(recordAt(svc).ports).map((p) => p.split(':')[0] ?? ''),
    );
    expect(published.sort()).toEqual([
      '13133',
      '14317',
      '14318',
      '16686',
      '3000',
      '4317',
      '4318',
      '5601',
      '8888',
      '9090',
      '9093',
      '9200',
      '9464',
      '9465',
      '9466',
    ]);
    for (const port of published) {
      expect(header, port).toMatch(new RegExp(`#\\s+${port}\\s`));
      expect(deploy, port).toContain(`| ${port} |`);
    }
  });

  it('mounts the provisioning Grafana reads and the dashboards path its provider names', () => {
    const provider = readRepoYaml('grafana/provisioning/dashboards/spendline.yml');
    const providers = isRecord(provider) && Array.isArray(provider.providers) ? provider.providers : [];
    const path = String(recordAt(providers[0], 'options').path);
    expect(list(service('grafana').volumes)).toContain(`./grafana/dashboards:${path}:ro`);
    expect(list(service('grafana').volumes)).toContain('./grafana/provisioning:/etc/grafana/provisioning:ro');
  });
});

/**
 * The `scale` profile: a gateway collector, two collector + sidecar pairs and one PostgreSQL. Debian's
 * docker-compose 1.29 knows profiles partly: it parses `profiles` (a non-list fails), checks that every
 * `depends_on` names a defined service and lists the file's profiles (`config --profiles`), but its
 * `config` prints every service whatever `--profile` says, and it does not check that a service
 * started without the profile depends only on services that start too. What it cannot tell is
 * checked here from the file.
 */
describe('docker-compose.yml profile scale', () => {
  const gateway = readRepoYaml('collector-config/otelcol-gateway.yaml');
  const pairs = [
    ['otel-collector-a', 'sidecar-a'],
    ['otel-collector-b', 'sidecar-b'],
  ] as const;

  it('parses with the profile, and scale is its only profile', () => {
    const r = runTool(
      'docker-compose',
      ['-f', 'docker-compose.yml', '--profile', 'scale', 'config', '-q'],
      REPO_ROOT,
    );
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
    const profiles = runTool(
      'docker-compose',
      ['-f', 'docker-compose.yml', 'config', '--profiles'],
      REPO_ROOT,
    );
    expect(profiles.status).toBe(0);
    expect(profiles.output.trim().split('\n')).toEqual(['scale']);
  });

  it('plain `up` needs none of the fleet; every service the fleet depends on exists', () => {
    const fleet = new Set(profileServices('scale'));
    for (const name of Object.keys(services)) {
      const dependsOn = service(name).depends_on;
      const needs = isRecord(dependsOn) ? Object.keys(dependsOn) : list(dependsOn);
      for (const dependency of needs) {
        expect(Object.keys(services), `${name} -> ${dependency}`).toContain(dependency);
        if (!fleet.has(name)) expect(fleet.has(dependency), `${name} -> ${dependency}`).toBe(false);
      }
    }
    for (const name of ['sidecar-a', 'sidecar-b']) {
      expect(recordAt(service(name), 'depends_on')).toEqual({
        'volume-init-scale': { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
      });
    }
  });

  it('the gateway routes logs and traces by trace ID to exactly the two fleet collectors', () => {
    expect(list(service('otelcol-gateway').command)).toEqual([
      '--config=/etc/otelcol-contrib/otelcol-gateway.yaml',
    ]);
    expect(list(service('otelcol-gateway').volumes)).toContain(
      './collector-config/otelcol-gateway.yaml:/etc/otelcol-contrib/otelcol-gateway.yaml:ro',
    );
    const gp = recordAt(gateway, 'service', 'pipelines');
    expect(Object.keys(gp).sort()).toEqual(['logs', 'traces']);
    for (const name of ['logs', 'traces']) {
      expect(stringsAt(gp, name, 'receivers')).toEqual(['otlp']);
      expect(stringsAt(gp, name, 'exporters')).toEqual(['loadbalancing']);
    }
    const lb = recordAt(gateway, 'exporters', 'loadbalancing');
    expect(lb.routing_key).toBe('traceID');
    const resolver = recordAt(lb, 'resolver');
    expect(Object.keys(resolver)).toEqual(['dns']);
    const dns = recordAt(resolver, 'dns');
    // The alias is carried by exactly the fleet collectors, and the port is their OTLP gRPC receiver's.
    const carriers = Object.keys(services).filter((name) => {
      const networks = service(name).networks;
      return (
        isRecord(networks) &&
        Object.values(networks).some((n) => isRecord(n) && list(n.aliases).includes(String(dns.hostname)))
      );
    });
    expect(carriers.sort()).toEqual(['otel-collector-a', 'otel-collector-b']);
    const grpc = String(recordAt(collectorConfig, 'receivers', 'otlp', 'protocols', 'grpc').endpoint);
    expect(grpc.endsWith(`:${dns.port}`)).toBe(true);
    // A failed send goes back to the load balancer's own queue and retry, which route it again.
    expect(recordAt(lb, 'sending_queue').enabled).toBe(true);
    expect(recordAt(lb, 'retry_on_failure').enabled).toBe(true);
    const perBackend = recordAt(lb, 'protocol', 'otlp');
    expect(recordAt(perBackend, 'retry_on_failure').enabled).toBe(false);
    expect(recordAt(perBackend, 'sending_queue').enabled).toBe(false);
    expect(perBackend.endpoint).toBeUndefined();
  });

  it('each fleet sidecar tails only its own collector export; the pairs share nothing but PostgreSQL', () => {
    const volumesOf = (name: string) => new Set(mounts(name).map((m) => m.source));
    for (const [collector, sidecar] of pairs) {
      expect(list(service(collector).command)).toEqual(['--config=/etc/otelcol-contrib/otelcol.yaml']);
      const glob = flagValue(sidecar, '--otlp-file');
      expect(glob).toBe(flagValue('sidecar', '--otlp-file'));
      const sidecarSide = onVolume(sidecar, posix.dirname(glob));
      expect(onVolume(collector, '/var/spendline/export')).toEqual(sidecarSide);
      expect(mounts(sidecar)).toContainEqual({
        source: sidecarSide.volume,
        target: '/var/spendline/export',
        readOnly: true,
        nocopy: true,
      });
      expect(service(sidecar).user).toBe('10001:10001');
      expect(list(service('volume-init-scale').volumes).map((v) => v.split(':')[0])).toEqual(
        expect.arrayContaining([...volumesOf(sidecar)]),
      );
    }
    const [a, b] = pairs.map(
      ([collector, sidecar]) => new Set([...volumesOf(collector), ...volumesOf(sidecar)]),
    );
    const shared = [...(a ?? [])].filter((v) => b?.has(v) && !v.startsWith('./'));
    expect(shared).toEqual([]);
    // None of the fleet's volumes is the default pair's either.
    for (const volume of [...(a ?? []), ...(b ?? [])].filter((v) => !v.startsWith('./'))) {
      expect(volumesOf('sidecar').has(volume), volume).toBe(false);
      expect(Object.keys(recordAt(compose, 'volumes'))).toContain(volume);
    }
  });

  it('every fleet sidecar has its own --sidecar-id and the same PostgreSQL ledger URL', () => {
    const pg = recordAt(service('postgres'), 'environment');
    const ids = pairs.map(([, sidecar]) => flagValue(sidecar, '--sidecar-id'));
    expect(new Set(ids).size).toBe(pairs.length);
    expect(list(service('sidecar').command)).not.toContain('--sidecar-id');
    for (const [, sidecar] of pairs) {
      const env = recordAt(service(sidecar), 'environment');
      const url = String(env.SPENDLINE_LEDGER_URL);
      expect(url).toBe(
        `postgres://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`,
      );
      expect(list(service(sidecar).command)).not.toContain('--ledger');
    }
    expect(recordAt(service('sidecar'), 'environment').SPENDLINE_LEDGER_URL).toBeUndefined();
    expect(list(recordAt(service('postgres'), 'healthcheck').test)).toEqual([
      'CMD',
      'pg_isready',
      '-U',
      String(pg.POSTGRES_USER),
      '-d',
      String(pg.POSTGRES_DB),
    ]);
    expect(list(service('postgres').volumes)).toEqual(['postgres-data:/var/lib/postgresql/data']);
    expect(service('postgres').ports).toBeUndefined();
  });

  it('publishes no host port twice, with or without the profile', () => {
    const published = Object.entries(services).flatMap(([name, svc]) =>
      list(recordAt(svc).ports).map((p) => ({ name, host: p.split(':')[0] ?? '' })),
    );
    const seen = new Map<string, string>();
    for (const { name, host } of published) {
      expect(seen.get(host), `${host} published by ${seen.get(host)} and ${name}`).toBeUndefined();
      seen.set(host, name);
    }
    expect(list(service('otelcol-gateway').ports)).toEqual(['14317:4317', '14318:4318']);
  });

  it('Prometheus finds the fleet sidecars and collectors by DNS under the jobs the alerts select', () => {
    const prom = readRepoYaml('prometheus/prometheus.yml');
    const jobs =
      isRecord(prom) && Array.isArray(prom.scrape_configs) ? prom.scrape_configs.filter(isRecord) : [];
    const dnsNames = (job: string) =>
      jobs
        .filter((j) => j.job_name === job)
        .flatMap((j) => (Array.isArray(j.dns_sd_configs) ? j.dns_sd_configs.filter(isRecord) : []))
        .flatMap((d) => list(d.names));
    expect(dnsNames('spendline-sidecar')).toEqual(['sidecar-a', 'sidecar-b']);
    expect(dnsNames('otel-collector')).toEqual(['otelcol-gateway', 'otel-collector-a', 'otel-collector-b']);
    for (const name of [...dnsNames('spendline-sidecar'), ...dnsNames('otel-collector')]) {
      expect(profileServices('scale')).toContain(name);
    }
  });
});
