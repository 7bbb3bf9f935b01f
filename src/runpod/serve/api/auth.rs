//! Optional API key on every route but `/health` (see [`crate::web::key`]).

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiState;
use super::error::ApiError;

/// Lets the request through when no key is set or the right one is given.
pub async fn require_key(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if !crate::web::key::accepts(request.headers(), state.settings.api_key.as_ref()) {
        return ApiError::Unauthorized.into_response();
    }
    next.run(request).await
}
