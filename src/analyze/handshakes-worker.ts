/**
 * Worker thread entry: reads one capture's handshake table (readHandshakePair in handshakes.ts
 * starts it for the server capture) and posts it back, its columns moved rather than copied, with
 * the base second its times count from. A capture that cannot be read is posted as its error.
 * The file comes as workerData, or, for a worker started before the files were known
 * (read-worker.ts), as the first message.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { postableTable, readHandshakes } from './handshakes.js';
import { TimeBase } from './time.js';
import { CaptureFileError } from '../read/types.js';

const given = (workerData as { file: string } | null)?.file;
const file = given ?? (await new Promise<string>((resolve) => parentPort!.once('message', (m: { file: string }) => resolve(m.file))));
const time = new TimeBase();
try {
  const { table, transfer } = postableTable(await readHandshakes(file, time));
  parentPort!.postMessage({ table, baseSec: time.sec }, transfer);
} catch (error) {
  if (!(error instanceof CaptureFileError)) throw error; // the parent reads the file itself
  parentPort!.postMessage({ error: { file: error.file, offset: error.offset, code: error.code, message: error.message } });
}
