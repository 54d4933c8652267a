//! Bodies moved as streams in the runtime, a chunk at a time, so that what a request holds in
//! the isolate is bounded by a chunk rather than by the body: a stream held to the length its
//! record promises, a part cut out of a stream as it passes, and a stored body in Wasm sent a
//! chunk at a time.

use std::ops::Range;
use std::rc::Rc;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStream, TransformStream, WritableStreamDefaultWriter};

/// Bytes a memory-tier body is sent in: what one hit copies out of Wasm at a time.
pub const CHUNK_BYTES: usize = 64 * 1024;

#[wasm_bindgen(inline_js = "
export function fixedLength(length) {
  return new FixedLengthStream(length);
}
export function exactly(stream, length) {
  const { readable, writable } = new FixedLengthStream(length);
  stream.pipeTo(writable).catch(() => {});
  return readable;
}
export function cut(stream, first, last) {
  const length = last - first + 1;
  let reader;
  try {
    reader = stream.getReader({ mode: 'byob' });
  } catch {
    return exactly(cutByChunks(stream, first, last), length);
  }
  // The bytes before the part are read into one reused buffer, so skipping them leaves no
  // garbage behind; the part's bytes are read into buffers of their own, as they are sent.
  let skipped = false;
  let left = length;
  const part = new ReadableStream({
    async pull(controller) {
      if (!skipped) {
        let buffer = new ArrayBuffer(Math.max(1, Math.min(first, 65536)));
        let skip = first;
        while (skip > 0) {
          const { done, value } = await reader.read(new Uint8Array(buffer, 0, Math.min(skip, buffer.byteLength)));
          if (done) {
            controller.error(new Error('the stored body is shorter than its record says'));
            return;
          }
          buffer = value.buffer;
          skip -= value.byteLength;
        }
        skipped = true;
      }
      const { done, value } = await reader.read(new Uint8Array(Math.min(left, 65536)));
      if (done) {
        controller.error(new Error('the stored body is shorter than its record says'));
        return;
      }
      left -= value.byteLength;
      controller.enqueue(value);
      if (left === 0) {
        controller.close();
        reader.cancel().catch(() => {});
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
  return exactly(part, length);
}
function cutByChunks(stream, first, last) {
  const reader = stream.getReader();
  let at = 0;
  return new ReadableStream({
    async pull(controller) {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          controller.error(new Error('the stored body is shorter than its record says'));
          return;
        }
        const start = at;
        at += value.byteLength;
        if (at <= first) continue;
        const from = Math.max(first - start, 0);
        const to = Math.min(last + 1 - start, value.byteLength);
        if (to > from) controller.enqueue(value.slice(from, to));
        if (at > last) {
          controller.close();
          reader.cancel().catch(() => {});
        }
        return;
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
")]
extern "C" {
    /// A `FixedLengthStream` of `length` bytes: a `TransformStream` whose readable side the
    /// runtime knows the length of.
    #[wasm_bindgen(js_name = fixedLength)]
    fn fixed_length(length: f64) -> TransformStream;
    /// `stream` through a `FixedLengthStream` of `length` bytes: the runtime knows its length
    /// (a `Content-Length` for the client), and a stream that ends early or runs long errors
    /// instead of passing for the body.
    pub fn exactly(stream: &ReadableStream, length: f64) -> ReadableStream;
    /// Bytes `first..=last` of `stream`, as they pass: the bytes before are read into one
    /// reused buffer and dropped (a chunk at a time where the stream has no BYOB reader), the
    /// stream is cancelled after `last`, and a stream that ends before `last` errors.
    pub fn cut(stream: &ReadableStream, first: f64, last: f64) -> ReadableStream;
}

/// Bytes `range` of `body` (in Wasm, shared) as a stream the runtime reads a chunk at a
/// time, of known length: a task copies the next `CHUNK_BYTES` out of Wasm only when the
/// reader has taken the one before, so a hit holds one chunk in JavaScript, never a copy of
/// the body. The task ends (and lets go of `body`) when the stream is read or the client
/// goes away.
pub fn chunked(body: Rc<[u8]>, range: Range<usize>) -> Result<ReadableStream, JsValue> {
    let stream = fixed_length(range.len() as f64);
    let writer = stream.writable().get_writer()?;
    wasm_bindgen_futures::spawn_local(async move {
        let part = body.get(range).unwrap_or_default();
        if write_chunks(&writer, part).await.is_err() {
            let _ = writer.abort();
        }
    });
    Ok(stream.readable())
}

/// Writes `body` a chunk at a time through one buffer in JavaScript, filled again for each
/// chunk once the runtime has taken the one before (a write settles when its chunk is read),
/// so a body leaves no garbage behind, whatever its length.
async fn write_chunks(writer: &WritableStreamDefaultWriter, body: &[u8]) -> Result<(), JsValue> {
    let buffer = js_sys::Uint8Array::new_with_length(body.len().min(CHUNK_BYTES) as u32);
    for chunk in body.chunks(CHUNK_BYTES) {
        JsFuture::from(writer.ready()).await?;
        let view = buffer.subarray(0, chunk.len() as u32);
        view.copy_from(chunk);
        JsFuture::from(writer.write_with_chunk(&view)).await?;
    }
    JsFuture::from(writer.close()).await.map(|_| ())
}
