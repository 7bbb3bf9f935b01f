//! [`ApiError`]: every refusal of the endpoint API as a status code and a JSON
//! `{"error": "..."}` body naming what was wrong. A job that fails is not an API error: it
//! ends as FAILED with the pipeline's message.

use axum::Json;
use axum::http::StatusCode;
use axum::http::header::CONNECTION;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::runpod::serve::jobs::SubmitError;

/// A request the API refuses, or cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or wrong API key: send `Authorization: Bearer <key>`")]
    Unauthorized,
    #[error("job {0} not found (unknown id, or its result has expired)")]
    JobNotFound(String),
    #[error("no such route: {0}")]
    NoRoute(String),
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    #[error("{0}")]
    Forbidden(String),
    #[error("a request body must be sent as `Content-Type: application/json`")]
    UnsupportedMediaType,
    #[error("request body is larger than the {0}-byte limit")]
    TooLarge(usize),
    #[error(transparent)]
    Submit(#[from] SubmitError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::JobNotFound(_) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Submit(SubmitError::QueueFull(_)) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Submit(SubmitError::ShuttingDown) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Json(json!({ "error": crate::errors::one_line(&self) }));
        if matches!(self, ApiError::TooLarge(_)) {
            // The rest of the body is never read, so the connection cannot carry another
            // request; say so, or a client would reuse it and see its next request fail.
            return (status, [(CONNECTION, "close")], body).into_response();
        }
        (status, body).into_response()
    }
}
