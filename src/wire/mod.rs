//! What crosses a process boundary as data: a job's output ([`summary::Summary`]) and the
//! figures, findings and reports it carries, and a RunPod job's state ([`job_state`]). Plain
//! types with their serde spelling and nothing else: this module depends on no stage of the
//! pipeline (only on the job's vocabulary, [`crate::job`], just below it, which holds the job
//! input), so a client of the wire format (`submit`, the dashboard, a merge of shards) does
//! not reach into the runner. The stages that compute these values keep their logic and
//! re-export the types where they were.

pub mod figures;
pub mod findings;
pub mod install;
pub mod isolation;
pub mod job_state;
pub mod summary;
pub mod triage;
