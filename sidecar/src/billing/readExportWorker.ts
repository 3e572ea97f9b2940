/** Worker-thread entry: reads one billing export off the sidecar's event loop (see readExportOffThread). */
import { parentPort, workerData } from 'node:worker_threads';
import { readBillingExport } from './readBillingExport.js';

parentPort?.postMessage(readBillingExport(String(workerData)));
