// Serves the built worker (build/index.js on workerd through Miniflare, as the integration
// tests do: tests/support/worker.mjs) for a test written in another language:
//
//   node tests/support/serve.mjs '{"origin": "http://127.0.0.1:8000", "config": {...}, "bindings": {"ADMIN_TOKEN": "…"}}'
//
// prints one line of JSON, `{"url": "http://127.0.0.1:<port>"}` (a free loopback port), once
// the worker answers, and stays up until its standard input closes or it gets SIGTERM/SIGINT,
// then stops the worker and exits. The worker's log lines go to standard error.
// Used by integrations/django's pytest fixtures.
import { startWorker } from "./worker.mjs";

const options = JSON.parse(process.argv[2] ?? "{}");
const worker = await startWorker({
  origin: options.origin ? { url: options.origin } : undefined,
  config: options.config ?? {},
  bindings: options.bindings ?? {},
});
const logged = { count: 0 };
const flush = setInterval(() => {
  for (; logged.count < worker.logs.length; logged.count++) process.stderr.write(worker.logs[logged.count] + "\n");
}, 100);
process.stdout.write(JSON.stringify({ url: String(worker.url).replace(/\/$/, "") }) + "\n");

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(flush);
  await worker.dispose();
  process.exit(0);
}
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
