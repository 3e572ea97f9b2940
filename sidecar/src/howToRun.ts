/** How to invoke the command: `spendline` is on no PATH after `npm install`; npx finds it. */
export const HOW_TO_RUN =
  'Run it as "npx spendline <command>" (in the repository after npm install, or in a project that\n' +
  'installed @spendline/sidecar), or as "npm run spendline -- <command>" in the repository.';
