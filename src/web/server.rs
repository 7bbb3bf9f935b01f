//! [`serve`]: the dashboard on its own listener, for `flaky-detector dashboard`, with a
//! request timeout and a graceful shutdown passed in by the caller.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;

use crate::history::Store;

/// Longest a page may take; a history read stuck behind a lock gets a 408, not a hang.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the dashboard on `listener` until `shutdown` is cancelled, then lets requests in
/// flight finish. With `key`, every page (and every 404) needs it.
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    key: Option<SecretString>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve_app(listener, super::router(store), key, shutdown).await
}

/// [`serve`] for a router already made (with the status page's quarantine folder, say).
pub async fn serve_app(
    listener: TcpListener,
    app: axum::Router,
    key: Option<SecretString>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = app
        .layer(axum::middleware::from_fn_with_state(
            key.map(Arc::new),
            super::key::require,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
