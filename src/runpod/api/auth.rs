//! Optional API key on every route but `/health`: `Authorization: Bearer <key>` as the SDK
//! sends it, or the bare key as RunPod's curl examples do.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use super::ApiState;
use super::error::ApiError;

/// Lets the request through when no key is set or the right one is given.
pub async fn require_key(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    if let Some(key) = &state.settings.api_key {
        let given = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .map(bare_key);
        if !given.is_some_and(|given| matches(given, key)) {
            return ApiError::Unauthorized.into_response();
        }
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
