//! The endpoint operations (§8): each handler translates between HTTP and the
//! [`JobTable`](crate::runpod::serve::jobs::JobTable), nothing more. Extractor rejections are
//! turned into [`ApiError`]s so every refusal has a JSON body.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiState;
use super::error::ApiError;
use super::request;
use crate::runpod::serve::jobs::{Health, JobView, StreamView};

/// RunPod's bounds on `/runsync?wait=` (milliseconds).
const MIN_WAIT_MS: u64 = 1_000;
const MAX_WAIT_MS: u64 = 300_000;

#[derive(Debug, Deserialize)]
pub struct JobPath {
    id: String,
}

#[derive(Debug, Deserialize)]
pub struct WaitQuery {
    wait: Option<u64>,
}

fn body_bytes(state: &ApiState, body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(state.settings.body_limit)
        } else {
            ApiError::BadRequest(format!(
                "cannot read the request body: {}",
                rejection.body_text()
            ))
        }
    })
}

fn job_id(path: Result<Path<JobPath>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(p)| p.id)
        .map_err(|rejection| ApiError::BadRequest(rejection.body_text()))
}

/// `POST /run`: queue the job, answer at once.
pub async fn run(
    State(state): State<ApiState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<JobView>, ApiError> {
    let body = body_bytes(&state, body)?;
    let submission = request::parse(
        &body,
        state.settings.policy,
        state.settings.execution_timeout,
    )?;
    let view = state.table.submit(submission)?;
    tracing::info!(request_id = %view.id, "job queued");
    Ok(Json(view))
}

/// `POST /runsync[?wait=ms]`: queue the job and wait for its end, up to `wait`; then answer
/// with the status it has (IN_QUEUE or IN_PROGRESS), as RunPod does, to be polled further.
pub async fn runsync(
    State(state): State<ApiState>,
    query: Result<Query<WaitQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<JobView>, ApiError> {
    let Query(query) = query.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let wait = match query.wait {
        Some(ms) => Duration::from_millis(ms.clamp(MIN_WAIT_MS, MAX_WAIT_MS)),
        None => state.settings.runsync_wait,
    };
    let body = body_bytes(&state, body)?;
    let submission = request::parse(
        &body,
        state.settings.policy,
        state.settings.execution_timeout,
    )?;
    let queued = state.table.submit(submission)?;
    tracing::info!(request_id = %queued.id, "job queued (runsync)");
    if let Some(mut changes) = state.table.watch(&queued.id) {
        let _ = tokio::time::timeout(wait, changes.wait_for(|s| s.is_terminal())).await;
    }
    // Purged or expired meanwhile: the queued answer is all there is to say.
    Ok(Json(state.table.view(&queued.id).unwrap_or(queued)))
}

/// `GET|POST /status/{id}`.
pub async fn status(
    State(state): State<ApiState>,
    path: Result<Path<JobPath>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let id = job_id(path)?;
    state
        .table
        .view(&id)
        .map(Json)
        .ok_or(ApiError::JobNotFound(id))
}

/// `GET|POST /stream/{id}`: the progress chunks since the previous poll.
pub async fn stream(
    State(state): State<ApiState>,
    path: Result<Path<JobPath>, PathRejection>,
) -> Result<Json<StreamView>, ApiError> {
    let id = job_id(path)?;
    state
        .table
        .stream(&id)
        .map(Json)
        .ok_or(ApiError::JobNotFound(id))
}

/// `POST /cancel/{id}`: kills the job's runs; a finished job keeps its status.
pub async fn cancel(
    State(state): State<ApiState>,
    path: Result<Path<JobPath>, PathRejection>,
) -> Result<Json<JobView>, ApiError> {
    let id = job_id(path)?;
    let view = state
        .table
        .cancel(&id)
        .ok_or_else(|| ApiError::JobNotFound(id.clone()))?;
    tracing::info!(request_id = %id, status = ?view.status, "cancel requested");
    Ok(Json(view))
}

/// `POST /purge-queue`: drops the queued jobs (running ones go on).
pub async fn purge_queue(State(state): State<ApiState>) -> Json<Value> {
    let removed = state.table.purge_queue();
    Json(json!({ "removed": removed, "status": "completed" }))
}

/// `GET /health`: job counts and executors, without authentication.
pub async fn health(State(state): State<ApiState>) -> Json<Health> {
    Json(state.table.health())
}

pub async fn no_route(uri: Uri) -> ApiError {
    ApiError::NoRoute(uri.path().chars().take(200).collect())
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed {
        method: method.to_string(),
        path: uri.path().chars().take(200).collect(),
    }
}
