import { createUsageApi } from '../api/usageApi.js';
import type { BillingImportResult } from '../billing/importBillingFile.js';
import { type BillingWatcher, watchBillingFiles } from '../billing/watchBillingFiles.js';
import { loadBudgetsFile } from '../budgets/budgetFile.js';
import { registerBudgetGauges } from '../budgets/gauges.js';
import type { SidecarContext, SidecarExtension } from '../extensions.js';
import { compactRollups, DEFAULT_HOURLY_RETENTION_DAYS } from '../retention/compactRollups.js';
import { registerReconciliationGauges } from './gauges.js';

export interface ReconciliationExtensionOptions {
  billingPollMs?: number;
  reconciliationDays?: number;
  hourlyRetentionDays?: number;
  compactEveryMs?: number;
  log?: (line: string) => void;
}

function describe(r: BillingImportResult): string {
  if (!r.ok) {
    const rejected = (r.rejections ?? []).map((x) => `\n  ${r.path}: ${x.location}: ${x.reason}`).join('');
    return `billing: ${r.path}: not imported: ${r.reason}${rejected}`;
  }
  // Unchanged: imported before (by this sidecar, or by another one sharing the ledger).
  return `billing: ${r.path}: ${r.format}: ${r.accepted} accepted, ${r.ignored} ignored, ${r.daysWritten} provider-days written${r.daysKeptNewer > 0 ? `, ${r.daysKeptNewer} kept (newer export already imported)` : ''}${r.unchanged ? ' (unchanged)' : ''}`;
}

/**
 * Billing import (`--billing` globs, polled), reconciliation gauges, budgets (`--budgets`), the usage
 * API routes and hourly→daily retention of the rollups.
 */
export function createReconciliationExtension(
  options: ReconciliationExtensionOptions = {},
): SidecarExtension {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  // One extension object may be started by several sidecars in one process (tests, `spendline up`):
  // keep every start's handles so stop() never leaves a timer polling a closed ledger.
  const watchers: BillingWatcher[] = [];
  const timers: NodeJS.Timeout[] = [];
  return {
    name: 'reconciliation',
    async start(ctx: SidecarContext) {
      let budgets: ReturnType<typeof loadBudgetsFile> | undefined;
      if (ctx.config.budgetsFile !== undefined) {
        budgets = loadBudgetsFile(ctx.config.budgetsFile);
        // A budget file that does not load must stop the start: silently running without limits is worse.
        if (!budgets.ok) throw new Error(`--budgets: ${budgets.reason}`);
        registerBudgetGauges(ctx.registry, ctx.db, budgets.budgets, ctx.now);
      }
      registerReconciliationGauges(ctx.registry, ctx.db, ctx.now, options.reconciliationDays ?? 35);
      ctx.api.use(createUsageApi(ctx.db, ctx.now, { budgets: budgets?.ok ? budgets.budgets : undefined }));

      const watcher = watchBillingFiles(ctx.db, ctx.config.billingGlobs, {
        intervalMs: options.billingPollMs ?? 10_000,
        now: ctx.now,
        onImport: (r) => log(describe(r)),
      });
      watchers.push(watcher);
      await watcher.scan();

      const compact = async (): Promise<void> => {
        try {
          const r = await compactRollups(
            ctx.db,
            ctx.now(),
            options.hourlyRetentionDays ?? DEFAULT_HOURLY_RETENTION_DAYS,
          );
          if (r.foldedUsageRows + r.foldedPrincipalRows > 0) {
            log(
              `retention: folded ${r.foldedUsageRows} + ${r.foldedPrincipalRows} hourly rows into daily rows`,
            );
          }
        } catch (err) {
          log(`retention: compaction failed, will retry: ${(err as Error).message}`);
        }
      };
      await compact();
      const timer = setInterval(() => void compact(), options.compactEveryMs ?? 3_600_000);
      timer.unref();
      timers.push(timer);
    },
    stop() {
      for (const w of watchers.splice(0)) w.stop();
      for (const t of timers.splice(0)) clearInterval(t);
    },
  };
}

export const reconciliationExtension = createReconciliationExtension();
