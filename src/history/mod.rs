//! History: every finished job in SQLite, and the reads the `history` command and the
//! dashboard need. [`Store`] owns the connections; [`migrations`] holds the schema;
//! [`record_summary`] is the step `detect()` ends with.

pub mod columns;
pub mod detail;
pub mod filter;
pub mod folder;
pub mod migrations;
pub mod pending;
pub mod pg_tls;
pub mod postgres;
pub mod queries;
pub mod read_only;
pub mod record;
pub mod sql;
pub mod status;
pub mod store;

pub use columns::{RunId, TestCaseId};
pub use detail::{Excerpt, JobDetail, RunSummary, TestResult};
pub use filter::JobFilter;
pub use pending::{Retried, retry_pending_every};
pub use queries::{FlakyTest, JobRow, Overview, SEVERITIES, TrendDay};
pub use record::record_summary;
pub use status::{Standing, Status, TestHistory, TestJob, standing};
pub use store::{DB_FILE_NAME, HistoryError, Journal, Store, VOLUME_HISTORY_DIR, default_db_path};
