#!/usr/bin/env node
// `analyze` of a large pair reads the server capture in a worker thread: when its arguments name two
// large files, start it now, while the rest loads (~80 ms), rather than once the files are known
// (src/analyze/read-worker.ts).
if (process.argv[2] === 'analyze') (await import('../dist/analyze/read-worker.js')).startEarlyWorker(process.argv.slice(3));
const { main } = await import('../dist/cli/main.js');

main(process.argv).then(
  (code) => { process.exitCode = code; },
  (err) => {
    process.stderr.write(`synprobe: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exitCode = 2;
  },
);
