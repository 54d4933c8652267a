// The README's session is what a user sees: this test starts `make dev` on free loopback ports
// (stopped by its PID when done), runs every command of the README's "A session" block in
// order, as a shell at the top of the clone would (stdout and stderr together, without the
// variables of a parent make), and fails when what a command prints differs from what the
// README shows under it.
//
// Normalised, because they differ from run to run and say nothing about edgecache: line ends
// (curl prints header lines with CRLF); the port (the README's 8787 is the test's free port);
// HTTP dates (`Date:`) and ISO times in bodies; the purge's `at` (a time) and `seq` (how many
// purges the local control plane has recorded before); make dev's PID. `Age` and the `ttl` of
// `Cache-Status` count seconds, so they may be up to 5 s off what the README shows (older:
// `Age` larger, `ttl` smaller). Nothing else is normalised: headers, their order, bodies, the
// demo origin's request numbers and every Cache-Status are compared as they are.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import net from "node:net";
import { read, root } from "./markdown.mjs";

const README_BASE = "http://127.0.0.1:8787";
const SECONDS_TOLERANCE = 5;

/** The README's session: `[{command, expected}]`, from the ```text block under "A session". */
export function session(readme) {
  const section = readme.split(/\n#{2,3} A session\n/)[1];
  assert.ok(section, 'README.md has no "A session" section');
  const block = section.match(/```text\n([\s\S]*?)\n```/)?.[1];
  assert.ok(block, "the session has no ```text block");
  const steps = [];
  for (const line of block.split("\n")) {
    if (line.startsWith("$ ")) steps.push({ command: line.slice(2), lines: [] });
    else {
      assert.ok(steps.length, `output before the first command: ${line}`);
      steps.at(-1).lines.push(line);
    }
  }
  return steps.map(({ command, lines }) => ({ command, expected: lines.join("\n").trimEnd() }));
}

/** What may differ between runs, replaced; `Age` and `ttl` values taken out to be compared apart. */
export function normalise(text, port) {
  const seconds = [];
  const out = text
    .replace(/\r\n/g, "\n")
    .trimEnd()
    .replaceAll(`127.0.0.1:${port}`, "127.0.0.1:8787")
    .replace(/^(Date: ).*$/gim, "$1<date>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z/g, "<time>")
    .replace(/("at": )\d+/g, "$1<time>")
    .replace(/("seq": )\d+/g, "$1<seq>")
    .replace(/\(PID \d+,/g, "(PID <pid>,")
    .replace(/^(Age: )(\d+)$/gim, (_, name, n) => {
      seconds.push({ kind: "age", n: Number(n) });
      return `${name}<age>`;
    })
    .replace(/\bttl=(-?\d+)/g, (_, n) => {
      seconds.push({ kind: "ttl", n: Number(n) });
      return "ttl=<ttl>";
    });
  return { text: out, seconds };
}

/** Whether the actual Age and ttl values are the README's, give or take the time a run takes. */
export function closeEnough(expected, actual) {
  if (expected.length !== actual.length) return false;
  return expected.every((e, i) => {
    const a = actual[i];
    const later = e.kind === "age" ? a.n - e.n : e.n - a.n;
    return e.kind === a.kind && later >= 0 && later <= SECONDS_TOLERANCE;
  });
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The environment of a shell a user opened: no variables of a make that runs this test, nothing
 * that would point make purge elsewhere than the running make dev. */
function userEnv() {
  const env = { ...process.env };
  for (const name of ["MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKEOVERRIDES", "EDGECACHE_URL", "PORT", "ADMIN_TOKEN", "EDGECACHE_ADMIN_PATH"]) {
    delete env[name];
  }
  return env;
}

/** make dev on free ports, its process group stopped by PID. */
async function startDev() {
  const [port, demoPort] = [await freePort(), await freePort()];
  const child = spawn("make", ["--no-print-directory", "dev", `PORT=${port}`, `DEMO_PORT=${demoPort}`], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...userEnv(), CI: "true" },
  });
  let log = "";
  child.stdout.on("data", (d) => (log += d));
  child.stderr.on("data", (d) => (log += d));
  const exited = new Promise((resolve) => child.on("exit", resolve));
  const ready = await new Promise((resolve) => {
    const timer = setInterval(() => log.includes("edgecache is serving") && (clearInterval(timer), resolve(true)), 50);
    exited.then(() => (clearInterval(timer), resolve(false)));
  });
  const stop = async () => {
    try {
      process.kill(-child.pid, "SIGINT");
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {}
    }, 15_000);
    await exited;
    clearTimeout(timer);
  };
  if (!ready) {
    await stop();
    assert.fail(`make dev did not become ready:\n${log}`);
  }
  return { port, base: `http://127.0.0.1:${port}`, log: () => log, stop };
}

describe("the README's session, against make dev", () => {
  const steps = session(read("README.md"));
  let dev;
  before(async () => {
    dev = await startDev();
  });
  after(async () => {
    await dev?.stop();
  });

  it("has commands, each with what it prints", () => {
    assert.ok(steps.length >= 5, `${steps.length} commands`);
    for (const { command, expected } of steps) assert.ok(expected, `no output shown for ${command}`);
  });

  for (const [i, { command, expected }] of steps.entries()) {
    it(`${i + 1}. $ ${command}`, () => {
      const run = spawnSync("bash", ["-c", `${command.replaceAll(README_BASE, dev.base)} 2>&1`], {
        cwd: root,
        encoding: "utf8",
        env: userEnv(),
        timeout: 60_000,
      });
      assert.equal(run.error, undefined, String(run.error));
      const want = normalise(expected, dev.port);
      const got = normalise(run.stdout, dev.port);
      assert.equal(got.text, want.text, `$ ${command}\nprinted (normalised) differs from the README's`);
      assert.ok(
        closeEnough(want.seconds, got.seconds),
        `Age/ttl: the README shows ${JSON.stringify(want.seconds)}, got ${JSON.stringify(got.seconds)} (at most ${SECONDS_TOLERANCE} s apart)`,
      );
    });
  }
});

describe("the session's comparison", () => {
  it("normalises only the varying parts, and tells a different Cache-Status apart", () => {
    const readme = "HTTP/1.1 200 OK\r\nDate: Mon, 07 Dec 2026 05:12:40 GMT\r\nAge: 0\r\ncache-status: edgecache; hit; ttl=10; detail=memory\r\n\r\ngenerated at 2026-12-07T05:12:40.961Z";
    const same = readme.replace("05:12:40 GMT", "06:00:01 GMT").replace("Age: 0", "Age: 2").replace("ttl=10", "ttl=8");
    const a = normalise(readme, 1);
    const b = normalise(same, 1);
    assert.equal(a.text, b.text);
    assert.ok(closeEnough(a.seconds, b.seconds));
    assert.ok(!closeEnough(a.seconds, normalise(same.replace("ttl=8", "ttl=3"), 1).seconds), "ttl 7 s off");
    assert.ok(!closeEnough(a.seconds, normalise(readme.replace("ttl=10", "ttl=11"), 1).seconds), "ttl above the README's");
    assert.notEqual(a.text, normalise(readme.replace("detail=memory", "detail=cache"), 1).text);
    assert.notEqual(a.text, normalise(readme.replace("request #5", "request #6").replace("hit;", "fwd=miss;"), 1).text);
  });

  it("reads each command with the lines under it", () => {
    const steps = session("# x\n\n### A session\n\n```text\n$ a\none\n\ntwo\n\n$ b\nthree\n```\n");
    assert.deepEqual(steps, [
      { command: "a", expected: "one\n\ntwo" },
      { command: "b", expected: "three" },
    ]);
  });
});
