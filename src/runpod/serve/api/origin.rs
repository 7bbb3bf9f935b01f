//! Keyless `serve` answers only to its own machine's programs, not to web pages: a page the
//! developer visits can send a "simple" cross-site POST (no preflight) or rebind a DNS name
//! to 127.0.0.1. So without a key, a request must name a loopback host in `Host`, carry no
//! foreign `Origin`, and send any body as `application/json` (which a page cannot do
//! without a preflight this server never grants).

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, HOST, ORIGIN, TRANSFER_ENCODING};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

/// What the check allows beyond loopback names.
#[derive(Debug, Clone, Copy)]
pub struct OriginPolicy {
    /// The operator bound a non-loopback address without a key on purpose
    /// (`--allow-unauthenticated-remote`): any `Host` passes, but an `Origin` must still
    /// match it.
    pub any_host: bool,
}

/// Host names that can only mean this machine.
const LOOPBACK: [&str; 3] = ["localhost", "127.0.0.1", "[::1]"];

pub async fn same_machine_only(
    State(policy): State<OriginPolicy>,
    request: Request,
    next: Next,
) -> Response {
    match check(request.method(), request.headers(), policy) {
        Ok(()) => next.run(request).await,
        Err(error) => error.into_response(),
    }
}

fn check(method: &Method, headers: &HeaderMap, policy: OriginPolicy) -> Result<(), ApiError> {
    let host = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(host_name)
        .ok_or_else(|| ApiError::Forbidden("the request has no Host header".into()))?;
    if !policy.any_host && !LOOPBACK.contains(&host.as_str()) {
        return Err(ApiError::Forbidden(format!(
            "Host `{}` is not this machine; without an API key the server only answers to localhost, 127.0.0.1 or [::1]",
            printable(&host)
        )));
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let parsed = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok());
        let origin_host = parsed
            .as_ref()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .map(|h| {
                if h.contains(':') {
                    format!("[{}]", h.trim_matches(['[', ']']))
                } else {
                    h
                }
            });
        let same_name = |o: &str| o == host || (!policy.any_host && LOOPBACK.contains(&o));
        let allowed = origin_host.as_deref().is_some_and(same_name);
        if !allowed {
            return Err(ApiError::Forbidden(format!(
                "requests from web pages (Origin `{}`) are refused without an API key",
                printable(origin.to_str().unwrap_or("?"))
            )));
        }
        // A page on another port of this machine is another program's page (issue 21,
        // finding 10): it may read nothing (no CORS headers are sent), and it may change
        // nothing either. Only this server's own pages (`/dashboard`) may, which share its
        // scheme and port.
        let own_origin = parsed.as_ref().is_some_and(|u| {
            u.scheme() == "http" && u.port_or_known_default() == Some(host_port(headers))
        });
        if changes_state(method) && !own_origin {
            return Err(ApiError::Forbidden(format!(
                "{method} from a page of another origin (`{}`) is refused without an API key; only this server's own pages may change its state",
                printable(origin.to_str().unwrap_or("?"))
            )));
        }
    }
    if *method == Method::POST && has_body(headers) && !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(())
}

/// Whether `method` may change the server's state (anything but a read).
fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The port of the `Host` header, 80 when it names none (this server speaks only http).
fn host_port(headers: &HeaderMap) -> u16 {
    let header = headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim();
    let after_name = match header.rfind(']') {
        Some(end) => &header[end + 1..],
        None => header,
    };
    after_name
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(80)
}

/// The host part of a `Host` header, lower case, brackets kept for IPv6.
fn host_name(header: &str) -> String {
    let header = header.trim().to_ascii_lowercase();
    if header.starts_with('[') {
        return match header.find(']') {
            Some(end) => header[..=end].to_string(),
            None => header,
        };
    }
    match header.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name.to_string(),
        _ => header,
    }
}

fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    headers.contains_key(TRANSFER_ENCODING) || length.is_some_and(|n| n > 0)
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Header text inside a one-line error: control characters escaped, length capped.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(char::escape_debug)
        .take(100)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_lose_their_port() {
        assert_eq!(host_name("LocalHost:8000"), "localhost");
        assert_eq!(host_name("[::1]:8000"), "[::1]");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("evil.example:80"), "evil.example");
    }

    fn headers(host: &str, origin: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(HOST, host.parse().expect("header"));
        headers.insert(ORIGIN, origin.parse().expect("header"));
        headers
    }

    #[test]
    fn only_the_servers_own_origin_changes_state() {
        let policy = OriginPolicy { any_host: false };
        let own = headers("127.0.0.1:8000", "http://127.0.0.1:8000");
        let other_port = headers("127.0.0.1:8000", "http://localhost:31337");
        let other_scheme = headers("127.0.0.1:8000", "https://127.0.0.1:8000");
        let ipv6 = headers("[::1]:8000", "http://[::1]:8000");
        assert!(check(&Method::POST, &own, policy).is_ok());
        assert!(check(&Method::POST, &ipv6, policy).is_ok());
        assert!(check(&Method::POST, &other_port, policy).is_err());
        assert!(check(&Method::DELETE, &other_scheme, policy).is_err());
        assert!(
            check(&Method::GET, &other_port, policy).is_ok(),
            "reads as before"
        );
        assert_eq!(host_port(&headers("localhost", "http://x")), 80);
    }
}
