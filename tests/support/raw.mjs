// A raw HTTP/1.1 client for tests that must send bytes a normal client would refuse to send:
// a body on GET, bytes that are not UTF-8, CR inside a field, thousands of fields.
import net from "node:net";

/**
 * Sends `bytes` (a Buffer, or a string taken as latin1) to `base` (`http://127.0.0.1:port`)
 * and reads one response, by Content-Length or chunked framing, or until the server closes.
 * Resolves `{ status, headers, body }` (`body` a Buffer); rejects after `timeoutMs`.
 */
export function rawRequest(base, bytes, timeoutMs = 10000) {
  const { hostname, port } = new URL(base);
  const payload = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, "latin1");
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) });
    let data = Buffer.alloc(0);
    let done = false;
    const finish = (error, value) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(() => finish(new Error(`no complete response within ${timeoutMs} ms`)), timeoutMs);
    const tryParse = (closed) => {
      const end = data.indexOf("\r\n\r\n");
      if (end < 0) return closed ? finish(new Error(`connection closed before a response: ${data.toString("latin1")}`)) : undefined;
      const lines = data.subarray(0, end).toString("latin1").split("\r\n");
      const status = Number(lines[0].split(" ")[1]);
      const headers = {};
      for (const line of lines.slice(1)) {
        const at = line.indexOf(":");
        const name = line.slice(0, at).trim().toLowerCase();
        headers[name] = headers[name] === undefined ? line.slice(at + 1).trim() : `${headers[name]}, ${line.slice(at + 1).trim()}`;
      }
      const rest = data.subarray(end + 4);
      if (headers["content-length"] !== undefined) {
        const length = Number(headers["content-length"]);
        if (rest.length >= length) finish(null, { status, headers, body: rest.subarray(0, length) });
        else if (closed) finish(null, { status, headers, body: rest, truncated: true });
      } else if (/chunked/i.test(headers["transfer-encoding"] ?? "")) {
        const chunks = [];
        let at = 0;
        for (;;) {
          const lineEnd = rest.indexOf("\r\n", at);
          if (lineEnd < 0) break;
          const size = parseInt(rest.subarray(at, lineEnd).toString("latin1"), 16);
          if (size === 0) return finish(null, { status, headers, body: Buffer.concat(chunks) });
          if (rest.length < lineEnd + 2 + size + 2) break;
          chunks.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
          at = lineEnd + 2 + size + 2;
        }
        if (closed) finish(null, { status, headers, body: Buffer.concat(chunks), truncated: true });
      } else if (closed || [204, 304].includes(status)) {
        finish(null, { status, headers, body: rest });
      }
    };
    socket.on("data", (chunk) => {
      data = Buffer.concat([data, chunk]);
      tryParse(false);
    });
    socket.on("end", () => tryParse(true));
    socket.on("error", (error) => (data.length ? tryParse(true) : finish(error)));
    socket.write(payload);
  });
}
