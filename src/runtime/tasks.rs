//! Waiting inside a request: a timer that wakes the task that polled it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::WorkerGlobalScope;

/// A timer (`setTimeout`) that wakes whichever task polled it last, cleared when dropped.
pub struct Sleep {
    state: Rc<SleepState>,
    timeout_id: Option<i32>,
    _callback: Closure<dyn FnMut()>,
}

#[derive(Default)]
struct SleepState {
    done: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Sleep {
    pub fn new(ms: u64) -> Sleep {
        let state = Rc::new(SleepState::default());
        let fired = state.clone();
        let callback = Closure::<dyn FnMut()>::new(move || {
            fired.done.set(true);
            // Taken out first: the wake may poll the task at once (`runtime::executor`).
            let waker = fired.waker.borrow_mut().take();
            if let Some(waker) = waker {
                waker.wake();
            }
        });
        let global: WorkerGlobalScope = js_sys::global().unchecked_into();
        let timeout_id = global
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                callback.as_ref().unchecked_ref(),
                ms.min(i32::MAX as u64) as i32,
            )
            .ok();
        if timeout_id.is_none() {
            // No timer could be set: end at once rather than never.
            state.done.set(true);
        }
        Sleep {
            state,
            timeout_id,
            _callback: callback,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.state.done.get() {
            return Poll::Ready(());
        }
        *self.state.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(id), false) = (self.timeout_id, self.state.done.get()) {
            let global: WorkerGlobalScope = js_sys::global().unchecked_into();
            global.clear_timeout_with_handle(id);
        }
    }
}
