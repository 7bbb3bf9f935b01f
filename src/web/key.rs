//! An optional access key, shared by the endpoint API and the dashboard:
//! `Authorization: Bearer <key>` as the SDK sends it, or the bare key as RunPod's curl
//! examples do.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// What a refused request is told.
pub const REFUSAL: &str = "missing or wrong API key: send `Authorization: Bearer <key>`";

/// True when `key` is unset, or the request's `Authorization` header carries it.
pub fn accepts(headers: &HeaderMap, key: Option<&SecretString>) -> bool {
    let Some(key) = key else {
        return true;
    };
    headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .map(bare_key)
        .is_some_and(|given| matches(given, key))
}

/// Middleware for a router whose state is the key: 401 with a JSON error without it.
pub async fn require(
    State(key): State<Option<std::sync::Arc<SecretString>>>,
    request: Request,
    next: Next,
) -> Response {
    if !accepts(request.headers(), key.as_deref()) {
        let body = axum::Json(serde_json::json!({ "error": REFUSAL }));
        return (StatusCode::UNAUTHORIZED, body).into_response();
    }
    next.run(request).await
}

/// The key without a `Bearer ` scheme (any case), trimmed.
fn bare_key(header: &str) -> &str {
    let header = header.trim();
    match header.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        _ => header,
    }
}

/// Compares digests rather than the strings, so the time taken says nothing about how much
/// of the key a guess got right.
fn matches(given: &str, key: &SecretString) -> bool {
    Sha256::digest(given.as_bytes()) == Sha256::digest(key.expose_secret().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_bearer_and_bare_keys() {
        let key = SecretString::from("k-123");
        for header in ["Bearer k-123", "bearer k-123", "k-123", " Bearer  k-123 "] {
            assert!(matches(bare_key(header), &key), "{header}");
        }
        for header in ["Bearer k-12", "Basic k-123", "", "Bearer"] {
            assert!(!matches(bare_key(header), &key), "{header}");
        }
    }
}
