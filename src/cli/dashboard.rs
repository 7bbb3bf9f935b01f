//! `flaky-detector dashboard`: the history pages on a local port until Ctrl-C.

use std::sync::Arc;

use clap::Args;
use tokio::net::TcpListener;

use super::error::CliError;
use super::history::DbArg;
use crate::history::Store;
use crate::history::read_only::WalRead;
use crate::web::status_page::QuarantineDir;

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Address to listen on; the default keeps the dashboard on this machine.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, default_value_t = 8501)]
    pub port: u16,
    /// Require this key (`Authorization: Bearer <key>` or the bare key) on every page.
    #[arg(long, env = "FLAKY_DASHBOARD_KEY", hide_env_values = true)]
    pub key: Option<String>,
    /// A repository folder whose `.flaky-detector.yml` (the `quarantine:` rules) and
    /// `.flaky-detector/quarantine.yml` the Status page applies.
    #[arg(long, value_name = "DIR")]
    pub quarantine_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub db: DbArg,
}

/// Serves the dashboard until Ctrl-C.
pub async fn run(args: DashboardArgs) -> Result<(), CliError> {
    let path = args.db.path();
    let postgres = args.db.postgres_url();
    if postgres.is_none() && !path.exists() {
        eprintln!(
            "note: {} does not exist yet; starting with an empty history",
            path.display()
        );
    }
    let opened = if let Some(url) = &postgres {
        Store::connect(url)
    } else if args.db.is_folder() {
        Store::open_folder(&path, None)
    } else if path.exists() {
        // Read-only: the dashboard never migrates or rewrites the file it shows.
        Store::open_read_only(&path, WalRead::InPlace)
    } else {
        Store::open(&path)
    };
    let store = Arc::new(opened?);
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .map_err(|source| CliError::Listen {
            host: args.host.clone(),
            port: args.port,
            source,
        })?;
    match listener.local_addr() {
        Ok(addr) => eprintln!(
            "dashboard on http://{addr}/ (history: {}); Ctrl-C to stop",
            store.path().display()
        ),
        Err(_) => eprintln!("dashboard started; Ctrl-C to stop"),
    }
    let shutdown = tokio_util::sync::CancellationToken::new();
    let stop = shutdown.clone();
    tokio::spawn(async move {
        let _ = tokio::signal::ctrl_c().await;
        stop.cancel();
    });
    let key = args
        .key
        .filter(|key| !key.is_empty())
        .map(secrecy::SecretString::from);
    let app = crate::web::router_with(store, QuarantineDir(args.quarantine_dir));
    crate::web::serve_app(listener, app, key, shutdown)
        .await
        .map_err(CliError::Dashboard)
}
