/** Runs a system tool (promtool, amtool, docker-compose) to completion; a missing binary fails the test. */
import { spawnSync } from 'node:child_process';
import { requireBinary } from '../../support/prometheus.js';

export interface ToolResult {
  status: number | null;
  output: string;
}

export function runTool(name: string, args: string[], cwd: string, timeoutMs = 50_000): ToolResult {
  const binary = requireBinary(name);
  const result = spawnSync(binary, args, { cwd, encoding: 'utf8', timeout: timeoutMs });
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}
