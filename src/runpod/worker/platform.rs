//! What the RunPod platform tells a worker through its environment ([`Platform`]): the
//! job-take, job-done and ping URL templates with their placeholders substituted, the worker
//! id, the raw API key, and the HTTP client that carries that key on every request.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use secrecy::{ExposeSecret, SecretString};

/// Sent as `runpod_version` on pings and in the User-Agent, so the platform's logs tell this
/// worker from the Python SDK.
pub const WORKER_VERSION: &str = concat!("flaky-detector/", env!("CARGO_PKG_VERSION"));

/// Default heartbeat period (`RUNPOD_PING_INTERVAL` is in milliseconds).
const DEFAULT_PING_INTERVAL: Duration = Duration::from_secs(10);
/// The SDK turns intervals under a second into zero and pings in a tight loop; we keep the
/// value but never go below this floor.
const MIN_PING_INTERVAL: Duration = Duration::from_millis(100);

/// Why the worker cannot talk to the platform. Raised once, at start.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "{0} is not set; the worker needs the job URLs RunPod provides (use `flaky-detector serve` to run a local endpoint instead)"
    )]
    Missing(&'static str),
    #[error("RUNPOD_AI_API_KEY contains characters that cannot go in an HTTP header")]
    BadKey,
    #[error("RUNPOD_PING_INTERVAL must be a whole number of milliseconds, got `{0}`")]
    BadInterval(String),
    #[error("cannot build the HTTP client for the platform")]
    Client(#[source] reqwest::Error),
}

/// The worker's view of the platform, read once at start.
pub struct Platform {
    pub worker_id: String,
    api_key: SecretString,
    /// GET_JOB with the worker id substituted.
    take_url: String,
    /// POST_OUTPUT with the worker id substituted; `$ID` is still the job id placeholder.
    done_template: String,
    /// PING with the worker id substituted; `None` when pings are off (§4: key, pod id and
    /// URL must all be present).
    ping_url: Option<String>,
    pub ping_interval: Duration,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("worker_id", &self.worker_id)
            .field("take_url", &self.take_url)
            .field("done_template", &self.done_template)
            .field("ping_url", &self.ping_url)
            .field("ping_interval", &self.ping_interval)
            .finish_non_exhaustive()
    }
}

impl Platform {
    /// Reads the `RUNPOD_*` variables of the process.
    pub fn from_env() -> Result<Platform, PlatformError> {
        Platform::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Same as [`Platform::from_env`] with an explicit lookup, for tests.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Platform, PlatformError> {
        let get_job = var("RUNPOD_WEBHOOK_GET_JOB")
            .ok_or(PlatformError::Missing("RUNPOD_WEBHOOK_GET_JOB"))?;
        let post_output = var("RUNPOD_WEBHOOK_POST_OUTPUT")
            .ok_or(PlatformError::Missing("RUNPOD_WEBHOOK_POST_OUTPUT"))?;
        let pod_id = var("RUNPOD_POD_ID");
        let worker_id = pod_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let api_key = var("RUNPOD_AI_API_KEY").unwrap_or_default();
        if HeaderValue::from_str(&api_key).is_err() {
            return Err(PlatformError::BadKey);
        }
        let ping_interval = match var("RUNPOD_PING_INTERVAL") {
            None => DEFAULT_PING_INTERVAL,
            Some(text) => text
                .trim()
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| PlatformError::BadInterval(text))?
                .max(MIN_PING_INTERVAL),
        };
        let ping_url = var("RUNPOD_WEBHOOK_PING")
            .filter(|url| url != "PING_NOT_SET")
            .filter(|_| pod_id.is_some() && !api_key.is_empty())
            .map(|url| url.replace("$RUNPOD_POD_ID", &worker_id));
        // §1: the SDK substitutes only `$ID` in GET_JOB, its simulator uses `$RUNPOD_POD_ID`
        // there; accept both, the longer token first so `$ID` never eats half of it.
        let take_url = get_job
            .replace("$RUNPOD_POD_ID", &worker_id)
            .replace("$ID", &worker_id);
        Ok(Platform {
            done_template: post_output.replace("$RUNPOD_POD_ID", &worker_id),
            worker_id,
            api_key: SecretString::from(api_key),
            take_url,
            ping_url,
            ping_interval,
        })
    }

    /// The job-take URL for `free` slots (§2): the batch form when more than one is free.
    pub fn take_url(&self, free: usize, job_in_progress: bool) -> String {
        let in_progress = if job_in_progress { "1" } else { "0" };
        if free > 1 && self.take_url.contains("/job-take/") {
            let batch = self.take_url.replacen("/job-take/", "/job-take-batch/", 1);
            append_query(
                &batch,
                &[
                    ("batch_size", &free.to_string()),
                    ("job_in_progress", in_progress),
                ],
            )
        } else {
            append_query(&self.take_url, &[("job_in_progress", in_progress)])
        }
    }

    /// The job-stop long-poll URL (§6.1), or `None` when the take URL has no `/job-take/`.
    pub fn stop_url(&self) -> Option<String> {
        self.take_url
            .contains("/job-take/")
            .then(|| self.take_url.replacen("/job-take/", "/job-stop/", 1))
    }

    /// The job-done URL for `job_id` (§3), used for results and progress alike.
    pub fn done_url(&self, job_id: &str, is_stream: bool) -> String {
        let url = self.done_template.replace("$ID", job_id);
        append_query(
            &url,
            &[("isStream", if is_stream { "true" } else { "false" })],
        )
    }

    /// The ping URL listing `job_ids` (§4), or `None` when pings are off.
    pub fn ping_url(&self, job_ids: &[String]) -> Option<String> {
        let base = self.ping_url.as_deref()?;
        let mut url = match url::Url::parse(base) {
            Ok(url) => url,
            // Not parseable: fall back to the SDK's literal append and let the request fail.
            Err(_) => return Some(append_query(base, &[("runpod_version", WORKER_VERSION)])),
        };
        {
            let mut query = url.query_pairs_mut();
            if !job_ids.is_empty() {
                query.append_pair("job_id", &joined_ids(job_ids));
            }
            query.append_pair("runpod_version", WORKER_VERSION);
        }
        Some(url.to_string())
    }

    /// A client whose every request carries `Authorization: <key>` exactly as given (no
    /// `Bearer `), marked sensitive so it never shows in a debug print.
    pub fn client(&self) -> Result<reqwest::Client, PlatformError> {
        let mut headers = HeaderMap::new();
        let mut key = HeaderValue::from_str(self.api_key.expose_secret())
            .map_err(|_| PlatformError::BadKey)?;
        key.set_sensitive(true);
        headers.insert(AUTHORIZATION, key);
        headers.insert(USER_AGENT, HeaderValue::from_static(WORKER_VERSION));
        reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(PlatformError::Client)
    }
}

/// The ids comma-joined, cut at a comma so the list stays under 65535 bytes (§4).
fn joined_ids(ids: &[String]) -> String {
    let mut joined = String::new();
    for id in ids {
        if joined.len() + id.len() + 1 > 65_535 {
            break;
        }
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(id);
    }
    joined
}

/// Appends `pairs` to `url` literally, with `&` when it already has a query and `?` when not
/// (the SDK always uses `&` and relies on the platform's templates having a `?`).
pub fn append_query(url: &str, pairs: &[(&str, &str)]) -> String {
    let mut out = url.to_string();
    for (name, value) in pairs {
        out.push(if out.contains('?') { '&' } else { '?' });
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn platform(vars: &[(&str, &str)]) -> Platform {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Platform::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
            .expect("the variables are complete")
    }

    const BASE: [(&str, &str); 5] = [
        (
            "RUNPOD_WEBHOOK_GET_JOB",
            "http://p/v2/ep/job-take/$ID?gpu=cpu",
        ),
        (
            "RUNPOD_WEBHOOK_POST_OUTPUT",
            "http://p/v2/ep/job-done/$RUNPOD_POD_ID/$ID?gpu=cpu",
        ),
        ("RUNPOD_WEBHOOK_PING", "http://p/v2/ep/ping/$RUNPOD_POD_ID"),
        ("RUNPOD_POD_ID", "pod-7"),
        ("RUNPOD_AI_API_KEY", "key"),
    ];

    #[test]
    fn substitutes_worker_and_job_ids_everywhere() {
        let p = platform(&BASE);
        assert_eq!(
            p.take_url(1, false),
            "http://p/v2/ep/job-take/pod-7?gpu=cpu&job_in_progress=0"
        );
        assert_eq!(
            p.take_url(3, true),
            "http://p/v2/ep/job-take-batch/pod-7?gpu=cpu&batch_size=3&job_in_progress=1"
        );
        assert_eq!(
            p.stop_url().as_deref(),
            Some("http://p/v2/ep/job-stop/pod-7?gpu=cpu")
        );
        assert_eq!(
            p.done_url("j-1", false),
            "http://p/v2/ep/job-done/pod-7/j-1?gpu=cpu&isStream=false"
        );
        let ping = p.ping_url(&["a".into(), "b".into()]).expect("pings are on");
        assert!(ping.starts_with("http://p/v2/ep/ping/pod-7?job_id=a%2Cb&runpod_version="));
        let idle = p.ping_url(&[]).expect("pings are on");
        assert!(!idle.contains("job_id"), "{idle}");
    }

    #[test]
    fn accepts_the_simulators_placeholder_in_get_job() {
        let mut vars = BASE.to_vec();
        vars[0] = (
            "RUNPOD_WEBHOOK_GET_JOB",
            "http://p/job-take/$RUNPOD_POD_ID/$ID",
        );
        let p = platform(&vars);
        assert_eq!(
            p.take_url(1, false),
            "http://p/job-take/pod-7/pod-7?job_in_progress=0"
        );
    }

    #[test]
    fn pings_need_a_key_and_a_pod_id() {
        let vars: Vec<_> = BASE
            .iter()
            .copied()
            .filter(|(k, _)| *k != "RUNPOD_POD_ID")
            .collect();
        let p = platform(&vars);
        assert!(p.ping_url(&[]).is_none());
        assert_eq!(
            p.worker_id.len(),
            36,
            "a fresh UUID stands in for the pod id"
        );
    }
}
