//! The pull request comment on GitHub ([`upsert_comment`]): one comment per pull request
//! that edits itself. The comments are paged through for the hidden marker; the one found
//! is edited (`PATCH …/issues/comments/{id}`), else a comment is created. Works with
//! GitHub Enterprise through `GITHUB_API_URL`. Also how the pull request is found
//! ([`pr_from_event`], [`pr_for_commit`]).

use std::path::Path;

use reqwest::header::{ACCEPT, AUTHORIZATION, LINK};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use crate::http::describe;

use super::markdown::MARKER;
use super::send::{ReportError, Sender};

const CHANNEL: &str = "GitHub API";
/// Pages of 100 comments read at most while looking for ours.
const MAX_PAGES: usize = 50;

/// Where the comment goes.
pub struct Github {
    /// `https://api.github.com`, or a GitHub Enterprise `…/api/v3`.
    pub api: String,
    pub token: SecretString,
    pub owner: String,
    pub name: String,
}

/// What happened to the comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Comment {
    Created(u64),
    Updated(u64),
}

impl std::fmt::Display for Comment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Comment::Created(id) => write!(f, "created comment {id}"),
            Comment::Updated(id) => write!(f, "updated comment {id}"),
        }
    }
}

impl Github {
    /// `repository` is `OWNER/NAME` (as in `GITHUB_REPOSITORY`).
    pub fn new(api: &str, token: SecretString, repository: &str) -> Result<Github, ReportError> {
        let (owner, name) = repository
            .split_once('/')
            .filter(|(o, n)| !o.is_empty() && !n.is_empty() && !n.contains('/'))
            .ok_or_else(|| ReportError::BadRepository(repository.to_string()))?;
        Ok(Github {
            api: api.trim_end_matches('/').to_string(),
            token,
            owner: owner.to_string(),
            name: name.to_string(),
        })
    }

    fn request(
        &self,
        sender: &Sender,
        method: reqwest::Method,
        url: &str,
    ) -> reqwest::RequestBuilder {
        sender
            .http
            .request(method, url)
            .header(
                AUTHORIZATION,
                format!("Bearer {}", self.token.expose_secret()),
            )
            .header(ACCEPT, "application/vnd.github+json")
            .header("X-GitHub-Api-Version", "2022-11-28")
    }

    fn repo_url(&self) -> String {
        format!("{}/repos/{}/{}", self.api, self.owner, self.name)
    }

    /// Creates the comment on pull request `pr`, or edits the one that carries the marker.
    pub async fn upsert_comment(
        &self,
        sender: &Sender,
        pr: u64,
        body: &str,
    ) -> Result<Comment, ReportError> {
        let payload = json!({ "body": body });
        match self.find_comment(sender, pr).await? {
            Some(id) => {
                let url = format!("{}/issues/comments/{id}", self.repo_url());
                sender
                    .send(CHANNEL, || {
                        self.request(sender, reqwest::Method::PATCH, &url)
                            .json(&payload)
                    })
                    .await?;
                Ok(Comment::Updated(id))
            }
            None => {
                let url = format!("{}/issues/{pr}/comments", self.repo_url());
                let response = sender
                    .send(CHANNEL, || {
                        self.request(sender, reqwest::Method::POST, &url)
                            .json(&payload)
                    })
                    .await?;
                let created: Value = response.json().await.map_err(|e| bad(describe(e)))?;
                let id = created
                    .get("id")
                    .and_then(Value::as_u64)
                    .ok_or_else(|| bad("the new comment has no id".into()))?;
                Ok(Comment::Created(id))
            }
        }
    }

    /// Pages through the pull request's comments for one carrying the marker and written by
    /// the token's own user: anyone may paste the marker into a comment of theirs, and
    /// editing that one would hand them the report. Only `next` links on the API's own
    /// origin are followed, so the token goes nowhere else.
    async fn find_comment(&self, sender: &Sender, pr: u64) -> Result<Option<u64>, ReportError> {
        let mut url = format!("{}/issues/{pr}/comments?per_page=100", self.repo_url());
        let mut author: Option<Author> = None;
        for _ in 0..MAX_PAGES {
            let response = sender
                .send(CHANNEL, || self.request(sender, reqwest::Method::GET, &url))
                .await?;
            let next = response
                .headers()
                .get(LINK)
                .and_then(|v| v.to_str().ok())
                .and_then(next_link);
            let comments: Vec<Value> = response.json().await.map_err(|e| bad(describe(e)))?;
            for comment in comments.iter().filter(|c| {
                c.get("body")
                    .and_then(Value::as_str)
                    .is_some_and(|body| body.contains(MARKER))
            }) {
                if author.is_none() {
                    author = Some(self.token_user(sender).await);
                }
                if author.as_ref().is_some_and(|a| a.wrote(comment)) {
                    return comment
                        .get("id")
                        .and_then(Value::as_u64)
                        .map(Some)
                        .ok_or_else(|| bad("a comment has no id".into()));
                }
            }
            match next {
                Some(next) if same_origin(&next, &self.api) => url = next,
                Some(_) => return Err(bad("a `next` page link points to another host".into())),
                None => return Ok(None),
            }
        }
        Ok(None)
    }

    /// Who the token writes as, asked only once a marked comment is seen. `GET /user`
    /// names the user of a personal or OAuth token; an Actions or App installation token is
    /// refused there (403), and its comments are written by a bot account.
    async fn token_user(&self, sender: &Sender) -> Author {
        let url = format!("{}/user", self.api);
        let login = match sender
            .send(CHANNEL, || self.request(sender, reqwest::Method::GET, &url))
            .await
        {
            Ok(response) => response
                .json::<Value>()
                .await
                .ok()
                .and_then(|user| user.get("login").and_then(Value::as_str).map(String::from)),
            Err(_) => None,
        };
        match login {
            Some(login) => Author::Login(login),
            None => Author::AnyBot,
        }
    }

    /// The open pull request whose head is `sha`: a `workflow_run` event from a fork names
    /// no pull request, but the commit still leads to it.
    pub async fn pr_for_commit(
        &self,
        sender: &Sender,
        sha: &str,
    ) -> Result<Option<u64>, ReportError> {
        let url = format!("{}/commits/{sha}/pulls", self.repo_url());
        let response = sender
            .send(CHANNEL, || self.request(sender, reqwest::Method::GET, &url))
            .await?;
        let pulls: Vec<Value> = response.json().await.map_err(|e| bad(describe(e)))?;
        let open = |p: &&Value| p.get("state").and_then(Value::as_str) == Some("open");
        Ok(pulls
            .iter()
            .find(open)
            .or(pulls.first())
            .and_then(|p| p.get("number"))
            .and_then(Value::as_u64))
    }
}

/// Whose marked comment may be edited.
enum Author {
    /// The token's own user, by login.
    Login(String),
    /// An installation token, which has no user of its own: a bot account wrote its
    /// comments (people cannot comment as a bot).
    AnyBot,
}

impl Author {
    fn wrote(&self, comment: &Value) -> bool {
        let user = comment.get("user");
        let field = |name: &str| user.and_then(|u| u.get(name)).and_then(Value::as_str);
        match self {
            Author::Login(login) => field("login").is_some_and(|l| l.eq_ignore_ascii_case(login)),
            Author::AnyBot => field("type") == Some("Bot"),
        }
    }
}

fn bad(detail: String) -> ReportError {
    ReportError::BadAnswer {
        channel: CHANNEL,
        detail,
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == r#"rel="next""#)
            .then(|| {
                url.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
    })
}

fn same_origin(url: &str, api: &str) -> bool {
    match (url::Url::parse(url), url::Url::parse(api)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

/// The pull request an Actions event is about: `pull_request.number` (pull_request
/// events), the first of `workflow_run.pull_requests` (a CI run that failed), or an issue
/// comment's pull request.
pub fn pr_from_event(path: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let event: Value = serde_json::from_str(&text).ok()?;
    let number = |v: &Value| v.get("number").and_then(Value::as_u64);
    event
        .get("pull_request")
        .and_then(number)
        .or_else(|| {
            event
                .pointer("/workflow_run/pull_requests/0")
                .and_then(number)
        })
        .or_else(|| {
            event
                .get("issue")
                .filter(|issue| issue.get("pull_request").is_some())
                .and_then(number)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_only_the_next_link() {
        let header = r#"<https://api.github.com/repositories/1/issues/2/comments?page=3>; rel="next", <https://api.github.com/repositories/1/issues/2/comments?page=9>; rel="last""#;
        assert_eq!(
            next_link(header).as_deref(),
            Some("https://api.github.com/repositories/1/issues/2/comments?page=3")
        );
        assert_eq!(next_link(r#"<https://x/y?page=1>; rel="prev""#), None);
        assert!(same_origin(
            "https://api.github.com/a?b",
            "https://api.github.com"
        ));
        assert!(!same_origin(
            "https://evil.example/a",
            "https://api.github.com"
        ));
    }

    #[test]
    fn reads_the_pull_request_of_each_event() {
        let dir = tempfile::tempdir().expect("temp dir");
        let event = |body: Value| {
            let path = dir.path().join("event.json");
            std::fs::write(&path, body.to_string()).expect("write event");
            pr_from_event(&path)
        };
        assert_eq!(event(json!({"pull_request": {"number": 7}})), Some(7));
        assert_eq!(
            event(json!({"workflow_run": {"pull_requests": [{"number": 12}]}})),
            Some(12)
        );
        assert_eq!(event(json!({"workflow_run": {"pull_requests": []}})), None);
        assert_eq!(
            event(json!({"issue": {"number": 3, "pull_request": {}}})),
            Some(3)
        );
        assert_eq!(event(json!({"issue": {"number": 3}})), None);
        assert_eq!(pr_from_event(&dir.path().join("missing.json")), None);
    }

    #[test]
    fn a_repository_is_owner_and_name() {
        let token = || SecretString::from("t");
        assert!(Github::new("https://api.github.com/", token(), "o/r").is_ok());
        for bad in ["o", "/r", "o/", "o/r/x"] {
            assert!(
                Github::new("https://api.github.com", token(), bad).is_err(),
                "{bad}"
            );
        }
    }
}
