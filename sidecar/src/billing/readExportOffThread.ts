import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type BillingExport, type BillingExportRefused, readBillingExport } from './readBillingExport.js';

const WORKER = new URL('./readExportWorker.js', import.meta.url);

/**
 * Reads an export in a worker thread, so a 200 MB file does not stop /healthz, /metrics or ingestion
 * while it is parsed. Only where the compiled worker is missing (tests run from TypeScript sources)
 * is it read on this thread.
 */
export function readExportOffThread(file: string): Promise<BillingExport | BillingExportRefused> {
  if (!existsSync(fileURLToPath(WORKER))) return Promise.resolve(readBillingExport(file));
  return new Promise((resolve) => {
    const worker = new Worker(WORKER, { workerData: file });
    let answered = false;
    worker.once('message', (r: BillingExport | BillingExportRefused) => {
      answered = true;
      resolve(r);
    });
    worker.once('error', (err) => {
      answered = true;
      resolve({ ok: false, path: file, reason: `reading failed: ${err.message}` });
    });
    worker.once('exit', (code) => {
      if (!answered) resolve({ ok: false, path: file, reason: `reader exited with code ${code}` });
    });
  });
}
