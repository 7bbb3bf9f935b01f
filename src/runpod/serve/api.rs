//! The local endpoint API: RunPod's public operations (§8) served over the same
//! `detect()` as every front end, at `/…` and at `/v2/{endpoint_id}/…` so the official SDK
//! works with `RUNPOD_ENDPOINT_BASE_URL=http://host:port/v2`. [`router`] is public so
//! another front end (the dashboard) can be mounted next to it.

mod auth;
mod error;
mod handlers;
mod origin;
mod request;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware;
use axum::routing::{get, post};
use secrecy::SecretString;
use tower_http::timeout::TimeoutLayer;

pub use error::ApiError;

use crate::job::RepoPolicy;
use crate::runpod::serve::jobs::JobTable;

/// RunPod's limit on a `/run` body.
pub const BODY_LIMIT: usize = 10 * 1024 * 1024;
/// Above the longest `/runsync` wait (300 s), so only a stuck request is cut.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(330);

/// What the handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub table: Arc<JobTable>,
    pub settings: Arc<ApiSettings>,
}

/// Fixed at start by the operator.
pub struct ApiSettings {
    /// When set, every route but `/health` needs it.
    pub api_key: Option<SecretString>,
    pub policy: RepoPolicy,
    /// Used when a request sets no `policy.executionTimeout`.
    pub execution_timeout: Duration,
    /// How long `/runsync` waits without `?wait=`.
    pub runsync_wait: Duration,
    pub body_limit: usize,
    /// Without a key, any `Host` is accepted (the operator bound a non-loopback address
    /// with `--allow-unauthenticated-remote`); otherwise only loopback names are.
    pub unauthenticated_remote: bool,
}

/// Every route of the API, at both prefixes, with auth, body limit and request timeout.
pub fn router(state: ApiState) -> Router {
    let api = api(state.clone());
    same_machine_unless_keyed(api, &state)
}

/// Without a key, every route answers only requests from this machine's programs
/// (see [`origin`]).
fn same_machine_unless_keyed(app: Router, state: &ApiState) -> Router {
    if state.settings.api_key.is_some() {
        return app;
    }
    let policy = origin::OriginPolicy {
        any_host: state.settings.unauthenticated_remote,
    };
    app.layer(middleware::from_fn_with_state(
        policy,
        origin::same_machine_only,
    ))
}

fn api(state: ApiState) -> Router {
    let operations = operations(state.clone());
    Router::new()
        .merge(operations.clone())
        .nest("/v2/{endpoint_id}", operations)
        .fallback(handlers::no_route)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.settings.body_limit))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
}

/// [`router`] plus the history dashboard at `/dashboard`, behind the same key as the API.
pub fn router_with_dashboard(
    state: ApiState,
    store: std::sync::Arc<crate::history::Store>,
) -> Router {
    // `layer`, not `route_layer`: the dashboard's own 404s sit behind the key as well.
    let dashboard = crate::web::mounted("/dashboard", store).layer(middleware::from_fn_with_state(
        state.clone(),
        auth::require_key,
    ));
    let app = api(state.clone()).merge(dashboard);
    same_machine_unless_keyed(app, &state)
}

fn operations(state: ApiState) -> Router {
    let protected = Router::new()
        .route("/run", post(handlers::run))
        .route("/runsync", post(handlers::runsync))
        .route("/status/{id}", get(handlers::status).post(handlers::status))
        .route("/stream/{id}", get(handlers::stream).post(handlers::stream))
        .route("/cancel/{id}", post(handlers::cancel))
        .route("/purge-queue", post(handlers::purge_queue))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ));
    Router::new()
        .route("/health", get(handlers::health))
        .merge(protected)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .with_state(state)
}
