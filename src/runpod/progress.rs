//! Progress as RunPod shows it: [`update`] turns an [`Event`] into the `output` of a
//! progress post (§5) or a `/stream` chunk, and [`post_updates`] sends a job's updates to
//! job-done one at a time, in order, and never after the final result.

use serde_json::{Value, json};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::sync::mpsc::error::TryRecvError;
use tokio_util::sync::CancellationToken;

use super::job_state::JobState;
use super::worker::post::{PostOutcome, PostPolicy, post_json};
use crate::events::Event;

/// The event as data (its `stage` and fields) plus `message`, the line a person reads:
/// `{"stage": "run_finished", "done": 37, "total": 100, "failures": 5, …,
/// "message": "37/100 runs, 5 failures"}`.
pub fn update(event: &Event) -> Value {
    let mut value = serde_json::to_value(event).unwrap_or_else(|_| json!({}));
    if let Value::Object(fields) = &mut value {
        fields.insert("message".into(), Value::String(event.message()));
    }
    value
}

/// Where and how a job's progress goes.
pub struct ProgressTarget<'a> {
    pub client: &'a reqwest::Client,
    pub url: &'a str,
    pub job_id: &'a str,
    pub retry: &'a PostPolicy,
}

/// Posts each event as `{"status": "IN_PROGRESS", "output": update}` until the channel
/// closes or `finished` fires. Posts are awaited one by one, so they arrive in order; a
/// burst of finished runs is coalesced into its latest count, so the posts never fall far
/// behind the job. Once `finished` fires nothing more is sent, and a post waiting to be
/// retried is given up, so the final result is always the last post.
pub async fn post_updates(
    target: ProgressTarget<'_>,
    mut events: UnboundedReceiver<Event>,
    finished: CancellationToken,
) {
    let mut held: Option<Event> = None;
    loop {
        let event = match held.take() {
            Some(event) => event,
            None => tokio::select! {
                biased;
                () = finished.cancelled() => return,
                event = events.recv() => match event {
                    Some(event) => event,
                    None => return,
                },
            },
        };
        let event = if matches!(event, Event::RunFinished { .. }) {
            latest_run_count(event, &mut events, &mut held)
        } else {
            event
        };
        if finished.is_cancelled() {
            return;
        }
        let body = json!({"status": JobState::InProgress, "output": update(&event)}).to_string();
        match post_json(
            target.client,
            target.url,
            target.job_id,
            &body,
            target.retry,
            Some(&finished),
        )
        .await
        {
            PostOutcome::Delivered | PostOutcome::Aborted => {}
            PostOutcome::Refused(status) => {
                tracing::warn!("progress update refused with HTTP {status}");
            }
            PostOutcome::Failed(why) => tracing::warn!("progress update not delivered: {why}"),
        }
    }
}

/// Skips to the last of a run of queued `RunFinished` events; the first other event is kept
/// in `held` so it is still sent, in order.
fn latest_run_count(
    first: Event,
    events: &mut UnboundedReceiver<Event>,
    held: &mut Option<Event>,
) -> Event {
    let mut latest = first;
    loop {
        match events.try_recv() {
            Ok(event @ Event::RunFinished { .. }) => latest = event,
            Ok(other) => {
                *held = Some(other);
                return latest;
            }
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => return latest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finished(done: u32) -> Event {
        Event::RunFinished {
            attempt: done - 1,
            seed: 7,
            passed: true,
            timed_out: false,
            done,
            total: 100,
            failures: 5,
        }
    }

    #[test]
    fn an_update_carries_the_message_and_the_event() {
        let value = update(&finished(37));
        assert_eq!(value["message"], "37/100 runs, 5 failures");
        assert_eq!(value["stage"], "run_finished");
        assert_eq!(value["done"], 37);
    }

    #[test]
    fn a_burst_of_finished_runs_collapses_to_the_latest() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for done in 2..=4 {
            tx.send(finished(done)).expect("open");
        }
        tx.send(Event::Confirming { seeds: vec![1] }).expect("open");
        tx.send(finished(5)).expect("open");
        let mut held = None;
        let latest = latest_run_count(finished(1), &mut rx, &mut held);
        assert_eq!(latest, finished(4));
        assert_eq!(held, Some(Event::Confirming { seeds: vec![1] }));
    }
}
