import { SDK_SCOPE_NAME } from '../contract.js';
import { SDK_VERSION } from '../version.js';

// What the direct paths (directRecords.ts, directSpans.ts) check before skipping the logger or tracer.

/** Whether none of `variables` is set in any of `envs` (a blank value is unset, as NodeSDK reads it). */
export function noneSet(
  variables: readonly string[],
  envs: readonly Record<string, string | undefined>[],
): boolean {
  return envs.every((env) => variables.every((v) => (env[v] ?? '').trim() === ''));
}

/**
 * Whether a logger's or tracer's scope is the SDK's own: its name and version, no schema URL, no
 * attributes (the provider's key of the SDK's logger or tracer). Another copy of the SDK, of another
 * version, does not count.
 */
export function isSdkScope(scope: {
  name: string;
  version?: string | undefined;
  schemaUrl?: string | undefined;
  attributes?: unknown;
}): boolean {
  return (
    scope.name === SDK_SCOPE_NAME &&
    scope.version === SDK_VERSION &&
    scope.schemaUrl === undefined &&
    scope.attributes === undefined
  );
}
