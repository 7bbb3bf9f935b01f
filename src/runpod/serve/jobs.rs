//! The job table of the local endpoint API ([`JobTable`]): a bounded queue, each job's
//! status as RunPod names it, its progress chunks for `/stream`, and finished jobs kept for
//! the retention period. Executors take queued jobs from it and report back; handlers only
//! read and cancel.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::job::Job;
use crate::runpod::job_state::JobState;
use crate::summary::Summary;

/// Progress chunks kept per job; later ones are dropped (a 1000-run job sends about 1010).
const MAX_CHUNKS: usize = 10_000;

/// A validated request, ready to queue.
#[derive(Debug)]
pub struct Submission {
    pub job: Job,
    pub webhook: Option<String>,
    /// Time the job may run before it is cancelled and marked TIMED_OUT.
    pub execution_timeout: Duration,
    /// Time the job may wait in the queue before it is marked TIMED_OUT.
    pub ttl: Option<Duration>,
}

/// A job as `/run`, `/status` and `/cancel` answer it (and as a webhook receives it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub id: String,
    pub status: JobState,
    /// Milliseconds in the queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_time: Option<u64>,
    /// Milliseconds running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub execution_time: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// New progress chunks since the last `/stream` poll.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamView {
    pub id: String,
    pub status: JobState,
    pub stream: Vec<Chunk>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chunk {
    pub output: Value,
}

/// `/health`, in RunPod's shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Health {
    pub jobs: JobCounts,
    pub workers: WorkerCounts,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobCounts {
    pub completed: usize,
    pub failed: usize,
    pub in_progress: usize,
    pub in_queue: usize,
    pub retried: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerCounts {
    pub idle: usize,
    pub running: usize,
}

/// A job handed to an executor.
#[derive(Debug)]
pub struct Started {
    pub id: String,
    pub job: Job,
    pub cancel: CancellationToken,
    pub execution_timeout: Duration,
}

/// How a run ended, as the executor saw it.
#[derive(Debug)]
pub enum JobEnd {
    Finished(Box<Summary>),
    Failed(String),
    TimedOut(Duration),
}

/// Why a job was not queued.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("the queue is full ({0} jobs waiting); retry later")]
    QueueFull(usize),
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// Limits fixed at start.
#[derive(Debug, Clone)]
pub struct TableLimits {
    pub max_queue: usize,
    pub retention: Duration,
    /// Executors, reported as workers by `/health`.
    pub concurrency: usize,
}

struct Entry {
    status: JobState,
    /// Taken by the executor when the job starts.
    job: Option<Job>,
    webhook: Option<String>,
    execution_timeout: Duration,
    ttl: Option<Duration>,
    submitted: Instant,
    started: Option<Instant>,
    finished: Option<Instant>,
    output: Option<Value>,
    error: Option<String>,
    chunks: Vec<Value>,
    streamed: usize,
    cancel: CancellationToken,
    changes: watch::Sender<JobState>,
}

impl Entry {
    fn view(&self, id: &str) -> JobView {
        let millis = |d: Duration| d.as_millis() as u64;
        JobView {
            id: id.to_string(),
            status: self.status,
            delay_time: self.started.map(|s| millis(s - self.submitted)),
            execution_time: match (self.started, self.finished) {
                (Some(s), Some(f)) => Some(millis(f - s)),
                (Some(s), None) => Some(millis(s.elapsed())),
                _ => None,
            },
            output: self.output.clone(),
            error: self.error.clone(),
        }
    }

    /// Moves to a terminal status; returns the webhook delivery it calls for, if any.
    fn end(&mut self, id: &str, status: JobState) -> Option<(String, JobView)> {
        self.status = status;
        self.finished = Some(Instant::now());
        self.job = None;
        self.changes.send_replace(status);
        self.webhook.clone().map(|url| (url, self.view(id)))
    }
}

#[derive(Default)]
struct Inner {
    jobs: HashMap<String, Entry>,
    queue: VecDeque<String>,
}

/// Shared by the handlers and the executors. Every method takes the lock briefly and never
/// across an `.await`.
pub struct JobTable {
    inner: Mutex<Inner>,
    queued: Notify,
    limits: TableLimits,
    closed: CancellationToken,
    webhooks: mpsc::UnboundedSender<(String, JobView)>,
}

impl JobTable {
    /// A table and the receiver of webhook deliveries its jobs call for.
    pub fn new(limits: TableLimits) -> (JobTable, mpsc::UnboundedReceiver<(String, JobView)>) {
        let (webhooks, receiver) = mpsc::unbounded_channel();
        let table = JobTable {
            inner: Mutex::default(),
            queued: Notify::new(),
            limits,
            closed: CancellationToken::new(),
            webhooks,
        };
        (table, receiver)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every update below leaves the maps consistent at each step.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify_webhook(&self, delivery: Option<(String, JobView)>) {
        if let Some(delivery) = delivery {
            let _ = self.webhooks.send(delivery);
        }
    }

    /// Queues a job and returns its id and status (IN_QUEUE).
    pub fn submit(&self, submission: Submission) -> Result<JobView, SubmitError> {
        if self.closed.is_cancelled() {
            return Err(SubmitError::ShuttingDown);
        }
        let mut inner = self.lock();
        if inner.queue.len() >= self.limits.max_queue {
            return Err(SubmitError::QueueFull(inner.queue.len()));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let entry = Entry {
            status: JobState::InQueue,
            job: Some(submission.job),
            webhook: submission.webhook,
            execution_timeout: submission.execution_timeout,
            ttl: submission.ttl,
            submitted: Instant::now(),
            started: None,
            finished: None,
            output: None,
            error: None,
            chunks: Vec::new(),
            streamed: 0,
            cancel: CancellationToken::new(),
            changes: watch::Sender::new(JobState::InQueue),
        };
        let view = entry.view(&id);
        inner.jobs.insert(id.clone(), entry);
        inner.queue.push_back(id);
        drop(inner);
        self.queued.notify_one();
        Ok(view)
    }

    pub fn view(&self, id: &str) -> Option<JobView> {
        self.lock().jobs.get(id).map(|entry| entry.view(id))
    }

    /// A receiver that sees each status change of the job.
    pub fn watch(&self, id: &str) -> Option<watch::Receiver<JobState>> {
        self.lock()
            .jobs
            .get(id)
            .map(|entry| entry.changes.subscribe())
    }

    /// The chunks not yet returned by an earlier call.
    pub fn stream(&self, id: &str) -> Option<StreamView> {
        let mut inner = self.lock();
        let entry = inner.jobs.get_mut(id)?;
        let fresh = entry.chunks[entry.streamed..]
            .iter()
            .map(|output| Chunk {
                output: output.clone(),
            })
            .collect();
        entry.streamed = entry.chunks.len();
        Some(StreamView {
            id: id.to_string(),
            status: entry.status,
            stream: fresh,
        })
    }

    /// Cancels a queued or running job (its runs are killed by the executor's pipeline);
    /// a finished job is left as it is. `None` for an unknown id.
    pub fn cancel(&self, id: &str) -> Option<JobView> {
        let mut inner = self.lock();
        let entry = inner.jobs.get_mut(id)?;
        let delivery = match entry.status {
            JobState::InQueue | JobState::InProgress => {
                entry.cancel.cancel();
                entry.error = Some("cancelled by request".into());
                entry.end(id, JobState::Cancelled)
            }
            _ => None,
        };
        let view = entry.view(id);
        inner.queue.retain(|queued| queued != id);
        drop(inner);
        self.notify_webhook(delivery);
        Some(view)
    }

    /// Removes every queued job; returns how many.
    pub fn purge_queue(&self) -> usize {
        let mut inner = self.lock();
        let queued: Vec<String> = inner.queue.drain(..).collect();
        for id in &queued {
            if let Some(entry) = inner.jobs.remove(id) {
                entry.changes.send_replace(JobState::Cancelled);
            }
        }
        queued.len()
    }

    pub fn health(&self) -> Health {
        let inner = self.lock();
        let count = |status| inner.jobs.values().filter(|e| e.status == status).count();
        let running = count(JobState::InProgress);
        Health {
            jobs: JobCounts {
                completed: count(JobState::Completed),
                failed: count(JobState::Failed),
                in_progress: running,
                in_queue: inner.queue.len(),
                retried: 0,
            },
            workers: WorkerCounts {
                idle: self.limits.concurrency.saturating_sub(running),
                running,
            },
        }
    }

    /// Waits for a queued job and marks it IN_PROGRESS; `None` once the table is closed.
    /// Jobs that outlived their `ttl` in the queue are marked TIMED_OUT on the way.
    pub async fn next_queued(&self) -> Option<Started> {
        loop {
            if self.closed.is_cancelled() {
                return None;
            }
            if let Some(started) = self.pop() {
                return Some(started);
            }
            tokio::select! {
                () = self.queued.notified() => {}
                () = self.closed.cancelled() => return None,
            }
        }
    }

    fn pop(&self) -> Option<Started> {
        let mut inner = self.lock();
        while let Some(id) = inner.queue.pop_front() {
            let Some(entry) = inner.jobs.get_mut(&id) else {
                continue;
            };
            if entry.ttl.is_some_and(|ttl| entry.submitted.elapsed() > ttl) {
                entry.error = Some("the job waited in the queue longer than its ttl".into());
                let delivery = entry.end(&id, JobState::TimedOut);
                drop(inner);
                self.notify_webhook(delivery);
                inner = self.lock();
                continue;
            }
            let Some(job) = entry.job.take() else {
                continue;
            };
            entry.status = JobState::InProgress;
            entry.started = Some(Instant::now());
            entry.changes.send_replace(JobState::InProgress);
            return Some(Started {
                id,
                job,
                cancel: entry.cancel.clone(),
                execution_timeout: entry.execution_timeout,
            });
        }
        None
    }

    /// Adds a progress chunk to a running job.
    pub fn push_chunk(&self, id: &str, chunk: Value) {
        if let Some(entry) = self.lock().jobs.get_mut(id)
            && entry.status == JobState::InProgress
            && entry.chunks.len() < MAX_CHUNKS
        {
            entry.chunks.push(chunk);
        }
    }

    /// Records how a run ended. A job cancelled meanwhile stays CANCELLED.
    pub fn finish(&self, id: &str, outcome: JobEnd) {
        let mut inner = self.lock();
        let Some(entry) = inner.jobs.get_mut(id) else {
            return;
        };
        if entry.status.is_terminal() {
            return;
        }
        let status = match outcome {
            JobEnd::Finished(summary) => {
                entry.output = serde_json::to_value(&*summary).ok();
                JobState::Completed
            }
            JobEnd::Failed(message) => {
                entry.error = Some(message);
                JobState::Failed
            }
            JobEnd::TimedOut(limit) => {
                entry.error = Some(format!(
                    "the job ran longer than its execution timeout of {} ms and was cancelled",
                    limit.as_millis()
                ));
                JobState::TimedOut
            }
        };
        let delivery = entry.end(id, status);
        drop(inner);
        self.notify_webhook(delivery);
    }

    /// Forgets finished jobs older than the retention period; returns how many.
    pub fn sweep(&self) -> usize {
        let retention = self.limits.retention;
        let mut inner = self.lock();
        let before = inner.jobs.len();
        inner
            .jobs
            .retain(|_, entry| entry.finished.is_none_or(|at| at.elapsed() < retention));
        before - inner.jobs.len()
    }

    /// Stops handing out jobs and cancels every queued and running one (shutdown).
    pub fn close(&self) {
        self.closed.cancel();
        let mut inner = self.lock();
        inner.queue.clear();
        for (id, entry) in inner.jobs.iter_mut() {
            if !entry.status.is_terminal() {
                entry.cancel.cancel();
                entry.error = Some("the server shut down".into());
                let _ = entry.end(id, JobState::Cancelled);
            }
        }
    }
}

#[cfg(test)]
mod tests;
