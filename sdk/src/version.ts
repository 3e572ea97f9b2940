/** The SDK's version, as reported in its instrumentation scope. */
export const SDK_VERSION = '0.1.0';
