//! Waiting on a condition rather than on the clock: poll until it holds, and fail, naming
//! what was awaited, once a deadline generous enough to mean "hung" has passed. A deadline
//! here never measures speed (benches do); it only turns a hang into a failure.

use std::future::Future;
use std::time::{Duration, Instant};

/// How long a step may take before the test calls it hung: far above any step's time on a
/// loaded 2-core machine, so that reaching it means the awaited thing never happens.
pub const HANG: Duration = Duration::from_secs(600);

/// Polls `done` every 20 ms until it holds; panics naming `what` after `patience`.
pub fn wait_until(patience: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within {patience:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `done` every 20 ms until it holds or `patience` has passed; whether it held. For a
/// test that then asserts the final state with its own message.
pub async fn holds_within(patience: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// [`wait_until`] for async tests, where checking may itself await (an HTTP request):
/// polls without blocking the runtime.
pub async fn wait_until_async(patience: Duration, what: &str, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + patience;
    while !done().await {
        assert!(Instant::now() < deadline, "{what}: not within {patience:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `future`'s output; panics naming `what` if it has not ended within [`HANG`].
pub async fn ends<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(HANG, future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within {HANG:?}"))
}

/// `work`'s result, run on its own thread; panics naming `what` if it has not ended within
/// [`HANG`] (the thread is left behind: the test has failed anyway).
pub fn ends_blocking<T: Send + 'static>(
    what: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(work());
    });
    match receiver.recv_timeout(HANG) {
        Ok(value) => value,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not end within {HANG:?}")
        }
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            panic!("{what} panicked (see its message above)")
        }
    }
}
