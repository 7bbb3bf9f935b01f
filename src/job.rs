//! The job input schema ([`JobInput`], seed-compatible and extended) and its validation into a
//! [`Job`], after which no stage has to ask "was this given?" about the repository or command.
//! The names an input may choose ([`Framework`], [`Isolation`], [`BuildOnce`]) are defined
//! here too, so every later stage reads them from the job.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secrets::hide_userinfo;

mod choices;
mod knobs;

pub use choices::{BuildOnce, Framework, Isolation};
pub use knobs::{Knobs, check_seconds};

/// Bounds shared by the job input, the repo config file and the JSON Schema.
pub const MAX_RUNS: u32 = 1000;
pub const MAX_PARALLELISM: u32 = 50;
pub const MAX_TIMEOUT_SECONDS: f64 = 86_400.0;

/// The `input` of a job, exactly as a user sends it. Unknown fields are an error: a typo such
/// as `parallelsim` must not silently fall back to a default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobInput {
    pub repo: String,
    /// What the repository's file may set too; an input's value wins.
    #[serde(flatten)]
    pub knobs: Knobs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<Framework>,
    #[serde(default, rename = "ref", skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    /// Explicit seeds, to replay: run `i` uses `seeds[i % seeds.len()]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<u64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr_number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_sha: Option<String>,
}

/// Where a front end stands on local repository paths: the CLI allows them, the worker and
/// the server refuse them unless the operator says otherwise, since a remote caller must not
/// read the server's disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepoPolicy {
    pub allow_local: bool,
}

/// Why a job input was refused. Each message is one sentence naming the field.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("invalid job input: {0}")]
    Parse(String),
    #[error("invalid job input: {}", joined(.0))]
    Invalid(Vec<Problem>),
}

/// One thing wrong in a job input: the field it is about and what is wrong with it, for
/// callers that need more than the sentence (which field to point at). Shown as
/// ``"`field` message"``; the message names the value given where that helps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: &'static str,
    pub message: String,
}

impl Problem {
    fn new(field: &'static str, message: impl Into<String>) -> Problem {
        Problem {
            field,
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.field, self.message)
    }
}

/// The problems as one sentence list, `; ` between them.
fn joined(problems: &[Problem]) -> String {
    let texts: Vec<String> = problems.iter().map(Problem::to_string).collect();
    texts.join("; ")
}

/// A validated job: what to fetch, what overrides the repository's config, and what the runs
/// get in their environment.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub repo: RepoSource,
    pub git_ref: Option<String>,
    pub overrides: Overrides,
    pub env: BTreeMap<String, String>,
    pub meta: JobMeta,
}

/// The job input fields that take precedence over `.flaky-detector.yml`, or that only an
/// input may set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overrides {
    pub knobs: Knobs,
    pub framework: Option<Framework>,
    pub seeds: Option<Vec<u64>>,
}

/// Where the job came from, for history and reports; never used to pick what is tested
/// (`ref` does that).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JobMeta {
    pub pr_number: Option<u64>,
    pub branch: Option<String>,
    pub commit_sha: Option<String>,
}

/// The repository to test.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoSource {
    Remote(RemoteUrl),
    Local(PathBuf),
}

impl RepoSource {
    /// The repository as it may be shown in a summary or log: credentials removed.
    pub fn display(&self) -> String {
        match self {
            RepoSource::Remote(url) => url.to_string(),
            RepoSource::Local(path) => path.display().to_string(),
        }
    }
}

/// A remote repository URL that was checked to be `https://` or `git@host:path`. Its
/// `Display` hides any password or token a user put in the URL.
#[derive(Clone, PartialEq)]
pub struct RemoteUrl(String);

impl RemoteUrl {
    /// The URL handed to git, credentials included. Never log this.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Schemes are case-insensitive (RFC 3986), so `HTTPS://` is https too.
    pub fn is_https(&self) -> bool {
        self.0
            .get(..8)
            .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
    }

    /// The host git will connect to, lower case: an https URL's host, or `host` in
    /// `git@host:path`.
    pub fn host(&self) -> Option<String> {
        if let Some(rest) = self.0.strip_prefix("git@") {
            return rest
                .split_once(':')
                .map(|(host, _)| host.to_ascii_lowercase());
        }
        url::Url::parse(&self.0)
            .ok()?
            .host_str()
            .map(str::to_ascii_lowercase)
    }
}

impl fmt::Display for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hide_userinfo(&self.0))
    }
}

impl fmt::Debug for RemoteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RemoteUrl({self})")
    }
}

impl JobInput {
    /// Parses a JSON job input, naming the field at fault in the error.
    pub fn from_json(text: &str) -> Result<JobInput, JobError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let value: serde_json::Value =
            serde_path_to_error::deserialize(de).map_err(|e| parse_error(e.path(), e.inner()))?;
        JobInput::from_parsed(value)
    }

    /// Same as [`JobInput::from_json`] for an already parsed value (a RunPod job's `input`).
    pub fn from_value(value: serde_json::Value) -> Result<JobInput, JobError> {
        if !value.is_object() {
            return Err(JobError::Parse(
                "the input must be a JSON object with at least `repo` and `test_command`".into(),
            ));
        }
        JobInput::from_parsed(value)
    }

    /// The knobs are read once on their own first: serde forgets the path inside a flattened
    /// struct, and an error must still name its field (``field `runs`: …``).
    fn from_parsed(value: serde_json::Value) -> Result<JobInput, JobError> {
        let _: Knobs = serde_path_to_error::deserialize(&value)
            .map_err(|e| parse_error(e.path(), e.inner()))?;
        serde_path_to_error::deserialize(value).map_err(|e| parse_error(e.path(), e.inner()))
    }

    /// Checks every field and returns the job, or every problem found, one sentence each.
    pub fn validate(self, policy: RepoPolicy) -> Result<Job, JobError> {
        let mut problems = Vec::new();
        let repo = match RepoSource::parse(&self.repo, policy) {
            Ok(repo) => Some(repo),
            Err(problem) => {
                problems.push(problem);
                None
            }
        };
        if let Some(git_ref) = &self.git_ref
            && let Err(problem) = check_ref(git_ref)
        {
            problems.push(problem);
        }
        self.knobs.check(&mut problems);
        if let Some(seeds) = &self.seeds {
            if seeds.is_empty() {
                problems.push(Problem::new(
                    "seeds",
                    "must not be empty; leave it out to draw seeds",
                ));
            } else if seeds.len() > MAX_RUNS as usize {
                problems.push(Problem::new(
                    "seeds",
                    format!("may hold at most {MAX_RUNS} seeds"),
                ));
            }
        }
        for (name, value) in self.env.iter().flatten() {
            if let Err(problem) = check_env(name, value) {
                problems.push(problem);
            }
        }
        if let Some(sha) = &self.commit_sha
            && !is_hex_sha(sha)
        {
            problems.push(Problem::new(
                "commit_sha",
                format!(
                    "must be 7 to 40 hexadecimal characters, got `{}`",
                    printable(sha)
                ),
            ));
        }
        if let Some(branch) = &self.branch
            && (branch.is_empty() || branch.chars().any(char::is_control))
        {
            problems.push(Problem::new(
                "branch",
                "must be a non-empty name without control characters",
            ));
        }
        if self.pr_number == Some(0) {
            problems.push(Problem::new("pr_number", "must be a positive number"));
        }
        match repo {
            Some(repo) if problems.is_empty() => Ok(Job {
                repo,
                git_ref: self.git_ref,
                overrides: Overrides {
                    knobs: self.knobs,
                    framework: self.framework,
                    seeds: self.seeds,
                },
                env: self.env.unwrap_or_default(),
                meta: JobMeta {
                    pr_number: self.pr_number,
                    branch: self.branch,
                    commit_sha: self.commit_sha,
                },
            }),
            _ => Err(JobError::Invalid(problems)),
        }
    }
}

fn parse_error(path: &serde_path_to_error::Path, inner: &serde_json::Error) -> JobError {
    let path = path.to_string();
    // serde_json appends " at line 1 column 7", which says nothing to someone who sent JSON
    // built by a program; the field path says where.
    let message = inner.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    if path == "." || path.is_empty() {
        JobError::Parse(message)
    } else {
        JobError::Parse(format!("field `{path}`: {message}"))
    }
}

impl RepoSource {
    /// Accepts `https://` and `git@host:path` URLs, and a local directory where `policy`
    /// allows it. Everything that git would treat as an option or a transport helper is
    /// refused before git ever sees it.
    pub fn parse(repo: &str, policy: RepoPolicy) -> Result<RepoSource, Problem> {
        if repo.is_empty() {
            return Err(Problem::new("repo", "is empty"));
        }
        if repo.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Problem::new(
                "repo",
                format!(
                    "must not contain whitespace or control characters, got `{}`",
                    printable(&hide_userinfo(repo))
                ),
            ));
        }
        if repo.starts_with('-') {
            return Err(Problem::new(
                "repo",
                format!(
                    "must not start with `-` (git would read it as an option), got `{}`",
                    printable(&hide_userinfo(repo))
                ),
            ));
        }
        let lower = repo.to_ascii_lowercase();
        if lower.starts_with("file:") {
            return Err(Problem::new(
                "repo",
                "must not be a file:// URL; give the directory path itself where local repositories are allowed",
            ));
        }
        if repo.contains("::") {
            return Err(Problem::new(
                "repo",
                format!(
                    "must not use a git transport helper such as `ext::`, got `{}`",
                    printable(&hide_userinfo(repo))
                ),
            ));
        }
        if lower.starts_with("https://") {
            return parse_https(repo);
        }
        let repo = &hide_userinfo(repo);
        if repo.starts_with("git@") {
            return parse_scp(repo);
        }
        if lower.contains("://") {
            return Err(Problem::new(
                "repo",
                format!(
                    "must be an https:// or git@host:path URL, got `{}`",
                    RemoteUrl(repo.to_string())
                ),
            ));
        }
        let path = Path::new(repo);
        if !policy.allow_local {
            return Err(Problem::new(
                "repo",
                format!(
                    "`{repo}` is not an https:// or git@host:path URL, and local repository paths are not allowed here (start with --allow-local-repos to allow them)"
                ),
            ));
        }
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => {
                let path = std::fs::canonicalize(path).map_err(|e| {
                    Problem::new(
                        "repo",
                        format!("directory `{repo}` cannot be resolved: {e}"),
                    )
                })?;
                Ok(RepoSource::Local(path))
            }
            Ok(_) => Err(Problem::new(
                "repo",
                format!("`{repo}` is a file, not a directory"),
            )),
            Err(_) => Err(Problem::new(
                "repo",
                format!(
                    "`{repo}` is not an https:// or git@host:path URL, and no such directory exists"
                ),
            )),
        }
    }
}

fn parse_https(repo: &str) -> Result<RepoSource, Problem> {
    let url = url::Url::parse(repo).map_err(|e| {
        Problem::new(
            "repo",
            format!("`{}` is not a valid URL: {e}", RemoteUrl(repo.to_string())),
        )
    })?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(Problem::new("repo", "URL has no host"));
    }
    if url.path().trim_matches('/').is_empty() {
        return Err(Problem::new(
            "repo",
            format!(
                "URL `{}` names no repository path",
                RemoteUrl(repo.to_string())
            ),
        ));
    }
    Ok(RepoSource::Remote(RemoteUrl(repo.to_string())))
}

fn parse_scp(repo: &str) -> Result<RepoSource, Problem> {
    let rest = &repo["git@".len()..];
    let Some((host, path)) = rest.split_once(':') else {
        return Err(Problem::new(
            "repo",
            format!("`{repo}` must look like git@host:owner/name.git"),
        ));
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && !host.starts_with('-');
    if !host_ok {
        return Err(Problem::new(
            "repo",
            format!("`{repo}` has an invalid host `{host}`"),
        ));
    }
    if path.is_empty() || path.starts_with('-') || path.starts_with('/') && path.len() == 1 {
        return Err(Problem::new(
            "repo",
            format!("`{repo}` names no repository path"),
        ));
    }
    Ok(RepoSource::Remote(RemoteUrl(repo.to_string())))
}

fn check_ref(git_ref: &str) -> Result<(), Problem> {
    if git_ref.is_empty() {
        return Err(Problem::new(
            "ref",
            "is empty; leave it out to test the default branch",
        ));
    }
    if git_ref.starts_with('-') {
        return Err(Problem::new(
            "ref",
            format!("must not start with `-`, got `{git_ref}`"),
        ));
    }
    let valid = is_hex_sha(git_ref)
        || git2::Reference::is_valid_name(git_ref)
        || git2::Reference::is_valid_name(&format!("refs/heads/{git_ref}"));
    if !valid {
        return Err(Problem::new(
            "ref",
            format!(
                "`{}` is not a valid branch, tag or commit name",
                printable(git_ref)
            ),
        ));
    }
    Ok(())
}

/// Shared with the repository's file, so both say the same about the same command.
pub(crate) fn check_command(command: &str) -> Result<(), Problem> {
    match shlex::split(command) {
        None => Err(Problem::new(
            "test_command",
            format!(
                "has an unbalanced quote or a trailing backslash: `{}`",
                printable(command)
            ),
        )),
        Some(words) if words.is_empty() => Err(Problem::new("test_command", "is empty")),
        Some(_) if command.contains('\0') => {
            Err(Problem::new("test_command", "contains a NUL byte"))
        }
        Some(_) => Ok(()),
    }
}

fn check_env(name: &str, value: &str) -> Result<(), Problem> {
    let mut chars = name.chars();
    let valid_name = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid_name {
        return Err(Problem::new(
            "env",
            format!(
                "name `{}` must be letters, digits and `_`, not starting with a digit",
                printable(name)
            ),
        ));
    }
    if value.contains('\0') {
        return Err(Problem::new(
            "env",
            format!("value of `{name}` contains a NUL byte"),
        ));
    }
    Ok(())
}

/// True for an abbreviated or full hexadecimal commit id.
pub fn is_hex_sha(text: &str) -> bool {
    (7..=40).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit())
}

/// User text as it may appear inside a one-line error: control characters escaped, length
/// capped so a pasted file cannot flood a log.
fn printable(text: &str) -> String {
    let escaped: String = text.chars().flat_map(char::escape_debug).collect();
    if escaped.chars().count() > 120 {
        let cut: String = escaped.chars().take(117).collect();
        format!("{cut}...")
    } else {
        escaped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REMOTE_ONLY: RepoPolicy = RepoPolicy { allow_local: false };

    #[test]
    fn redacts_credentials_in_display() {
        let url = RemoteUrl("https://user:s3cret@example.com/a/b.git".into());
        assert_eq!(url.to_string(), "https://example.com/a/b.git");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(url.expose(), "https://user:s3cret@example.com/a/b.git");
    }

    #[test]
    fn credentials_are_hidden_whatever_the_scheme_and_its_case() {
        let url = RemoteUrl("HTTPS://user:pa55@example.com/a/b.git".into());
        assert!(url.is_https());
        assert_eq!(url.to_string(), "HTTPS://example.com/a/b.git");
        for repo in [
            "HTTPS://user:pa55@example.com/a/b.git",
            "http://user:pa55@example.com/a.git",
            "ssh://git:pa55@example.com/a.git",
            "-https://u:pa55@example.com/a",
            "ext::https://u:pa55@example.com/a",
            "https://u:pa55@example.com/a b",
        ] {
            let shown = match RepoSource::parse(repo, REMOTE_ONLY) {
                Ok(source) => source.display(),
                Err(problem) => problem.to_string(),
            };
            assert!(!shown.contains("pa55"), "{repo}: {shown}");
        }
        assert_eq!(
            hide_userinfo("at 'http://a:b@h:1/x?y=@z' and https://h/p"),
            "at 'http://h:1/x?y=@z' and https://h/p"
        );
    }

    #[test]
    fn hosts_are_read_from_both_url_forms() {
        let host = |u: &str| RemoteUrl(u.into()).host();
        assert_eq!(
            host("https://x:y@GitHub.com/a/b"),
            Some("github.com".into())
        );
        assert_eq!(
            host("git@gitlab.example:a/b.git"),
            Some("gitlab.example".into())
        );
    }

    #[test]
    fn accepts_scp_and_https() {
        for repo in ["git@github.com:a/b.git", "https://github.com/a/b"] {
            assert!(RepoSource::parse(repo, REMOTE_ONLY).is_ok(), "{repo}");
        }
    }

    #[test]
    fn each_problem_names_its_field_and_the_sentence_is_unchanged() {
        let input = JobInput::from_json(r#"{"repo": "", "test_command": "x", "runs": 0}"#)
            .expect("the input parses");
        let error = input.validate(REMOTE_ONLY).expect_err("two problems");
        assert_eq!(
            error.to_string(),
            "invalid job input: `repo` is empty; `runs` must be between 1 and 1000, got 0"
        );
        let JobError::Invalid(problems) = error else {
            panic!("not a validation error: {error}");
        };
        let fields: Vec<&str> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["repo", "runs"]);
    }

    #[test]
    fn a_seed_project_input_validates() {
        let input = JobInput::from_json(
            r#"{"repo": "https://github.com/runpod/testflake", "test_command": "pytest tests/test_flaky.py", "runs": 50, "parallelism": 5}"#,
        )
        .expect("seed input parses");
        let job = input.validate(REMOTE_ONLY).expect("seed input is valid");
        assert_eq!(job.overrides.knobs.runs, Some(50));
    }
}
