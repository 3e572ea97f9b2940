/**
 * Reads the provisioned Grafana dashboards and yields every panel query with Grafana's variables
 * substituted the way Grafana would send them to Prometheus.
 */
import { readdirSync } from 'node:fs';
import { isRecord, readRepoJson, repoPath } from './repoFiles.js';

export interface PanelQuery {
  dashboard: string;
  panel: string;
  refId: string;
  expr: string;
}

export interface Dashboard {
  file: string;
  title: string;
  variables: string[];
  queries: PanelQuery[];
}

export const DASHBOARD_DIR = 'grafana/dashboards';

export function loadDashboards(): Dashboard[] {
  return readdirSync(repoPath(DASHBOARD_DIR))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const json = readRepoJson(`${DASHBOARD_DIR}/${file}`);
      if (!isRecord(json) || typeof json.title !== 'string') throw new Error(`${file}: no title`);
      const title = json.title;
      const templating =
        isRecord(json.templating) && Array.isArray(json.templating.list) ? json.templating.list : [];
      const variables = templating.filter(isRecord).map((v) => String(v.name));
      const panels = Array.isArray(json.panels) ? json.panels.filter(isRecord) : [];
      const queries: PanelQuery[] = [];
      for (const panel of panels) {
        const targets = Array.isArray(panel.targets) ? panel.targets.filter(isRecord) : [];
        for (const t of targets) {
          if (typeof t.expr !== 'string')
            throw new Error(`${file}: panel ${String(panel.title)} has a target without expr`);
          queries.push({
            dashboard: title,
            panel: String(panel.title),
            refId: String(t.refId),
            expr: t.expr,
          });
        }
      }
      return { file, title, variables, queries };
    });
}

/**
 * Substitutes Grafana variables: template variables become the "All" regex `.*` (or a given value),
 * `$__range` / `$__rate_interval` / `$__interval` become durations.
 */
export function substituteVariables(expr: string, values: Record<string, string> = {}): string {
  const durations: Record<string, string> = {
    __rate_interval: values.__rate_interval ?? '1m',
    __range: values.__range ?? '1h',
    __interval: values.__interval ?? '15s',
  };
  return expr.replace(/\$\{?(\w+)\}?/g, (whole, name: string) => {
    if (name in durations) return durations[name] ?? whole;
    return values[name] ?? '.*';
  });
}
