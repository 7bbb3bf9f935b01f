//! [`serve`]: the dashboard on its own listener, for `flaky-detector dashboard`, with a
//! request timeout and a graceful shutdown passed in by the caller.

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::timeout::TimeoutLayer;

use crate::history::Store;

/// Longest a page may take; a history read stuck behind a lock gets a 408, not a hang.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves the dashboard on `listener` until `shutdown` is cancelled, then lets requests in
/// flight finish.
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = super::router(store).layer(TimeoutLayer::with_status_code(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        REQUEST_TIMEOUT,
    ));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
