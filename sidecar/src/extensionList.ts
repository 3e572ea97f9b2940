import type { SidecarExtension } from './extensions.js';
import { insightsExtension } from './insights/extension.js';
import { reconciliationExtension } from './reconcile/extension.js';

/** Extensions the sidecar starts (reconciliation, budgets, insights append themselves here). */
export const EXTENSIONS: SidecarExtension[] = [reconciliationExtension, insightsExtension];
