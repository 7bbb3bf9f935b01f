//! The worker's jobs in progress ([`Board`]): what the take loop counts (`job_in_progress`,
//! free slots), what the heartbeat lists, and where a stop order finds a job to cancel.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// One acquired, unfinished job.
struct Slot {
    cancel: CancellationToken,
    /// Set by a platform stop order: the job must post nothing (§6.1).
    stopped: bool,
}

/// Shared by the take loop, the stop poll, the heartbeat thread and the job tasks. Cheap to
/// clone. The lock is a std mutex held for a few map operations only, so the heartbeat
/// thread (another runtime) can read it too.
#[derive(Clone)]
pub struct Board {
    slots: Arc<Mutex<BTreeMap<String, Slot>>>,
    count: Arc<watch::Sender<usize>>,
}

impl Default for Board {
    fn default() -> Self {
        Board {
            slots: Arc::default(),
            count: Arc::new(watch::Sender::new(0)),
        }
    }
}

impl Board {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Slot>> {
        // A panic while holding this lock leaves the map consistent (single inserts and
        // removes), so a poisoned lock is still usable.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a job and returns the token that cancels it, or `None` when a job with this
    /// id is already in progress (the platform delivered it twice).
    pub fn add(&self, id: &str) -> Option<CancellationToken> {
        let mut slots = self.lock();
        if slots.contains_key(id) {
            return None;
        }
        let cancel = CancellationToken::new();
        slots.insert(
            id.to_string(),
            Slot {
                cancel: cancel.clone(),
                stopped: false,
            },
        );
        self.count.send_replace(slots.len());
        Some(cancel)
    }

    /// Forgets a finished job.
    pub fn remove(&self, id: &str) {
        let mut slots = self.lock();
        slots.remove(id);
        self.count.send_replace(slots.len());
    }

    /// Carries out a platform stop order; returns false for an id not in progress.
    pub fn stop(&self, id: &str) -> bool {
        let mut slots = self.lock();
        match slots.get_mut(id) {
            Some(slot) => {
                slot.stopped = true;
                slot.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// True when the platform stopped this job, which then posts nothing.
    pub fn was_stopped(&self, id: &str) -> bool {
        self.lock().get(id).is_some_and(|slot| slot.stopped)
    }

    /// Cancels every job (shutdown grace is over); their partial results are still posted.
    pub fn cancel_all(&self) {
        for slot in self.lock().values() {
            slot.cancel.cancel();
        }
    }

    pub fn ids(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        *self.count.borrow()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Resolves once fewer than `limit` jobs are in progress.
    pub async fn wait_below(&self, limit: usize) {
        let mut count = self.count.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let _ = count.wait_for(|n| *n < limit).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_order_cancels_only_its_job() {
        let board = Board::default();
        let a = board.add("a").expect("new id");
        let b = board.add("b").expect("new id");
        assert!(board.add("a").is_none(), "a duplicate is refused");
        assert!(board.stop("a"));
        assert!(!board.stop("unknown"));
        assert!(a.is_cancelled() && !b.is_cancelled());
        assert!(board.was_stopped("a") && !board.was_stopped("b"));
        assert_eq!(board.ids(), ["a", "b"]);
        board.remove("a");
        assert_eq!(board.len(), 1);
    }
}
