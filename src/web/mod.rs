//! The dashboard: server-rendered pages over history ([`router`]), charts as inline SVG, and
//! [`serve`] for `flaky-detector dashboard`. Like every front end it only reads what the
//! pipeline recorded.

pub mod charts;
pub mod job_page;
pub mod key;
pub mod pages;
pub mod params;
pub mod routes;
pub mod server;
pub mod status_page;

pub use routes::{mounted, router, router_with};
pub use server::{serve, serve_app};
