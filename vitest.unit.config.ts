import { configDefaults, defineConfig, mergeConfig } from 'vitest/config';
import base from './vitest.config.js';

/**
 * The unit suite `.ci/run` runs on every supported Node version besides the default one: every test
 * except those whose subject is an external program (Prometheus, Alertmanager, promtool, amtool,
 * Chromium, docker-compose, PostgreSQL), which behave the same whatever Node runs the sidecar and make
 * up most of the suite's time. The full suite (`npm test`) runs them on Node 20.
 */
export const NEEDS_EXTERNAL_PROGRAMS = [
  'test/ops/**',
  'test/e2e/pipeline.test.ts',
  'test/e2e/npm-start-signals.test.ts',
  'test/support/prometheus.test.ts',
  'sidecar/test/postgres-harness.test.ts',
  'sidecar/test/prometheus-kill-restart.test.ts',
  'sidecar/test/reconcile-extension.test.ts',
  'sidecar/test/sidecar-server.test.ts',
  'sidecar/test/status.test.ts',
];

export default mergeConfig(
  base,
  defineConfig({ test: { exclude: [...configDefaults.exclude, ...NEEDS_EXTERNAL_PROGRAMS] } }),
);
