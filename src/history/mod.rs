//! History: every finished job in SQLite, and the reads the `history` command and the
//! dashboard need. [`Store`] owns the connections; [`migrations`] holds the schema;
//! [`record_summary`] is the step `detect()` ends with.
//!
//! Imports point one way, from the top down (checked by `history_dependencies_point_one_way`
//! in `src/layering.rs`):
//! - [`record`], [`detail`], [`queries`], [`status`]: what is read and written through a
//!   [`Store`];
//! - [`store`]: `Store`, an enum over the three engines, with its [`pending`] folder;
//! - [`folder`] (a shared folder of SQLite files) and [`pending`];
//! - the engines: [`sqlite`] (one file; [`read_only`] opens one without changing it) and
//!   [`postgres`];
//! - [`jobs`]: the statements over one job's rows, for any engine;
//! - [`error`], [`sql`], [`columns`], [`migrations`], [`filter`], [`pg_tls`].

pub mod columns;
pub mod detail;
pub mod error;
pub mod filter;
pub mod folder;
pub mod jobs;
pub mod migrations;
pub mod pending;
pub mod pg_tls;
pub mod postgres;
pub mod queries;
pub mod read_only;
pub mod record;
pub mod sql;
pub mod sqlite;
pub mod status;
pub mod store;

pub use columns::{RunId, TestCaseId};
pub use detail::{Excerpt, JobDetail, RunSummary, TestInJob};
pub use error::HistoryError;
pub use filter::JobFilter;
pub use pending::Retried;
pub use queries::{FlakyTest, JobRow, Overview, SEVERITIES, TrendDay};
pub use record::{record_summary, retry_pending_every};
pub use sqlite::Journal;
pub use status::{Standing, Status, TestHistory, TestJob, standing};
pub use store::{DB_FILE_NAME, Store, VOLUME_HISTORY_DIR, default_db_path};
