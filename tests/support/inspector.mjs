// What the worker's isolate holds, read through workerd's V8 inspector (`startWorker`'s
// `inspectorPort`): the bytes of its WebAssembly memories, the V8 heap in use, and how many
// `Headers` objects are alive. `Runtime.queryObjects` collects garbage before it counts, so
// what is measured is what is still referenced.
//
// The inspector is reached with Miniflare's own `fetch`, which upgrades to a WebSocket.
// Iterating a `Headers` object from the inspector crashes workerd, so they are only counted.
import { fetch as upgradeFetch } from "miniflare";

/**
 * A Chrome DevTools Protocol session on a worker of the workerd whose inspector is at
 * `inspectorUrl` (`worker.inspectorUrl()`): `target` is workerd's name for it,
 * `core:user:<worker name>` ("edgecache" for the worker `startWorker` runs).
 */
export async function inspect(inspectorUrl, target = "core:user:edgecache") {
  const { host } = new URL(inspectorUrl);
  const response = await upgradeFetch(`http://${host}/${target}`, { headers: { upgrade: "websocket" } });
  const socket = response.webSocket;
  if (!socket) throw new Error(`no inspector target ${target} at ${host} (${response.status})`);
  socket.accept();
  let next = 0;
  let context;
  const waiting = new Map();
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.method === "Runtime.executionContextCreated") context = message.params.context.id;
    const pending = waiting.get(message.id);
    if (!pending) return;
    waiting.delete(message.id);
    if (message.error) pending.reject(new Error(`${message.error.message} (${message.error.code})`));
    else pending.resolve(message.result);
  });
  const send = (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = ++next;
      waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
  await send("Runtime.enable");
  if (context === undefined) throw new Error("the worker's execution context was not announced");

  /** Runs `fn` on the array of every live object whose prototype is `prototype`. */
  async function overInstances(prototype, fn) {
    const objectGroup = "edgecache-measure";
    const { result } = await send("Runtime.evaluate", { expression: prototype, contextId: context, objectGroup });
    const { objects } = await send("Runtime.queryObjects", { prototypeObjectId: result.objectId, objectGroup });
    const answer = await send("Runtime.callFunctionOn", { objectId: objects.objectId, functionDeclaration: fn, returnByValue: true });
    await send("Runtime.releaseObjectGroup", { objectGroup });
    return answer.result.value;
  }

  return {
    /** `{ wasm, heap, headers }`: WebAssembly memory bytes, V8 heap bytes in use, live `Headers`. */
    async measure() {
      const wasm = await overInstances("WebAssembly.Memory.prototype", "function () { return this.reduce((sum, m) => sum + m.buffer.byteLength, 0); }");
      const headers = await overInstances("Headers.prototype", "function () { return this.length; }");
      const { usedSize } = await send("Runtime.getHeapUsage");
      return { wasm, heap: usedSize, headers };
    },
    close: () => socket.close(),
  };
}
