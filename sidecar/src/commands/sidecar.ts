import { parseSidecarArgs, sidecarHelp } from '../config.js';
import { tuneHeapForCounting } from '../heap.js';
import { SidecarIdInUseError, StateDirLockedError, startSidecar } from '../index.js';
import { ListenError } from '../listenError.js';

export async function run(argv: string[]): Promise<number> {
  const parsed = parseSidecarArgs(argv, process.env);
  if (!parsed.ok) {
    process.stderr.write(`spendline sidecar: ${parsed.reason}\n(run "npx spendline sidecar --help")\n`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(`${sidecarHelp()}\n`);
    return 0;
  }
  let sidecar: Awaited<ReturnType<typeof startSidecar>>;
  tuneHeapForCounting();
  try {
    sidecar = await startSidecar(parsed.config);
  } catch (err) {
    const hint = err instanceof ListenError ? ' (choose another address with --listen HOST:PORT)' : '';
    process.stderr.write(`spendline sidecar: cannot start: ${(err as Error).message}${hint}\n`);
    // Another sidecar already counts as this one (same state directory, or same id on the ledger).
    return err instanceof StateDirLockedError || err instanceof SidecarIdInUseError ? 2 : 1;
  }
  const ledger =
    sidecar.db.kind === 'sqlite'
      ? `ledger ${sidecar.db.location}`
      : `ledger ${sidecar.db.location} as sidecar ${sidecar.db.sidecarId}`;
  process.stderr.write(
    `spendline sidecar: listening on ${sidecar.url} (metrics at ${sidecar.url}/metrics); ${ledger}\n`,
  );
  void sidecar.ready.then(() => process.stderr.write('spendline sidecar: backlog read; ready\n'));
  return await new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`spendline sidecar: ${signal}: committing the current batch, then exiting\n`);
      sidecar.stop().then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`spendline sidecar: stop failed: ${(err as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    sidecar.failed.catch((err: unknown) => {
      process.stderr.write(
        `spendline sidecar: counting pipeline failed: ${(err as Error).stack ?? String(err)}\n`,
      );
      void sidecar.stop().finally(() => resolve(1));
    });
  });
}
