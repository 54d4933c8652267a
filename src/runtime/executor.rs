//! The executor a request's future runs on: polled at once when it is spawned, and again as
//! soon as it is woken, in the same JavaScript job that woke it.
//!
//! `wasm_bindgen_futures` defers every poll to a microtask: a spawned future's first poll,
//! and each one after a promise it awaits settles. On this runtime each of those turns
//! (a `queueMicrotask` call from Wasm, the callback crossing back) costs more than the Rust
//! work it resumes, and a request makes one per await. Here a wake that comes from
//! JavaScript (a promise's callback, a timer) polls the task right there; a wake from within
//! a poll (one of our tasks telling another, as an ESI fragment tells its page) is queued and
//! run when that poll returns, so no task is ever polled inside another's poll.
//!
//! Background work handed to the runtime with `ctx.wait_until` still runs on
//! `wasm_bindgen_futures`: it never wakes a task of ours directly (a coalesced follower polls
//! on its own timer, `wait_for`), and `spawn` is only called from our own tasks (ESI
//! fragments, from a page's), so the two executors never poll each other's tasks. What wakes
//! a task of ours must not hold a borrow the task may take (take the waker or the sender out
//! of its cell first, as `Sleep` and `assemble::Decided` do).

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::rc::Rc;

use async_task::Runnable;
use wasm_bindgen::JsValue;

thread_local! {
    /// Tasks woken while one was being polled, run in order when it returns.
    static QUEUE: RefCell<VecDeque<Runnable>> = const { RefCell::new(VecDeque::new()) };
    /// A task of ours is being polled.
    static RUNNING: Cell<bool> = const { Cell::new(false) };
}

/// Where a woken task goes: run now, or after the poll under way.
fn schedule(runnable: Runnable) {
    QUEUE.with(|queue| queue.borrow_mut().push_back(runnable));
    if RUNNING.with(Cell::get) {
        return;
    }
    RUNNING.with(|running| running.set(true));
    while let Some(next) = QUEUE.with(|queue| queue.borrow_mut().pop_front()) {
        next.run();
    }
    RUNNING.with(|running| running.set(false));
}

/// Runs `future` to its end, starting now (or, from within a poll, when that poll returns).
pub fn spawn(future: impl Future<Output = ()> + 'static) {
    let (runnable, task) = async_task::spawn_local(future, schedule);
    task.detach();
    runnable.schedule();
}

/// What became of a request's future, for the `Promise` its caller may be holding.
enum Settled {
    Running,
    Done(Result<JsValue, JsValue>),
    Awaited(js_sys::Function, js_sys::Function),
}

/// Runs a request's future as far as it goes without waiting, and answers with its value
/// when that is all of it (a memory-tier hit), with no `Promise`; otherwise with a `Promise`
/// of it, settled when the future ends.
pub fn now_or_later<F>(future: F) -> JsValue
where
    F: Future<Output = Result<JsValue, JsValue>> + 'static,
{
    // Called by JavaScript only, never from within a poll: a run still marked as under way
    // was cut short by a JavaScript exception thrown through Wasm (which runs no Rust
    // destructors). Without this, every later task of the isolate would wait for it.
    RUNNING.with(|running| running.set(false));
    let settled = Rc::new(RefCell::new(Settled::Running));
    let end = settled.clone();
    spawn(async move {
        let result = future.await;
        let before = std::mem::replace(&mut *end.borrow_mut(), Settled::Running);
        match (before, result) {
            (Settled::Awaited(resolve, _), Ok(value)) => {
                let _ = resolve.call1(&JsValue::UNDEFINED, &value);
            }
            (Settled::Awaited(_, reject), Err(error)) => {
                let _ = reject.call1(&JsValue::UNDEFINED, &error);
            }
            (_, result) => *end.borrow_mut() = Settled::Done(result),
        }
    });
    let now = std::mem::replace(&mut *settled.borrow_mut(), Settled::Running);
    match now {
        Settled::Done(Ok(value)) => value,
        Settled::Done(Err(error)) => js_sys::Promise::reject(&error).into(),
        _ => js_sys::Promise::new(&mut |resolve, reject| {
            *settled.borrow_mut() = Settled::Awaited(resolve, reject);
        })
        .into(),
    }
}
