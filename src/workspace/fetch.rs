//! A repository fetched with git2 at one ref: shallow for a branch, a tag or the default
//! branch, and exactly the commit for a SHA. Blocking; call it from `spawn_blocking`.

use std::path::Path;
use std::time::Instant;

use git2::{
    AutotagOption, Cred, CredentialType, FetchOptions, Oid, RemoteCallbacks, Repository,
    build::CheckoutBuilder,
};
use secrecy::ExposeSecret;

use super::WorkspaceError;
use super::credential::GitToken;
use crate::job::is_hex_sha;
use crate::secrets::hide_userinfo;

/// Where the fetched commit is kept locally.
const TARGET_REF: &str = "refs/flaky-detector/target";

/// What to fetch and how.
pub struct FetchRequest<'a> {
    /// The URL or local path given to git; may carry credentials.
    pub url: &'a str,
    /// Shown in errors instead of `url`.
    pub shown: &'a str,
    pub git_ref: Option<&'a str>,
    /// Sent only when libgit2 authenticates to one of the token's hosts.
    pub token: Option<&'a GitToken>,
    /// Shallow fetches need a smart transport; a local path is fetched whole, which is cheap.
    pub shallow: bool,
    pub deadline: Instant,
}

/// Fetches `request` into a new repository at `dest` and checks the commit out (detached).
/// Returns the commit's full SHA.
pub fn fetch_into(request: &FetchRequest<'_>, dest: &Path) -> Result<String, WorkspaceError> {
    let repo = Repository::init(dest).map_err(|source| WorkspaceError::Init {
        path: dest.to_path_buf(),
        source,
    })?;
    let mut remote = repo
        .remote_anonymous(request.url)
        .map_err(|source| clone_error(request, source))?;

    let (heads, default) = advertised(&mut remote, request)?;
    let (target, advertised) = resolve(request.git_ref, &heads, default)?;

    let mut options = FetchOptions::new();
    options
        .remote_callbacks(callbacks(request))
        .download_tags(AutotagOption::None);
    if request.shallow && !matches!(target, Target::ShortSha(_)) {
        options.depth(1);
    }
    let refspec = match &target {
        Target::Ref(name) => format!("+{name}:{TARGET_REF}"),
        Target::Sha(sha) => format!("+{sha}:{TARGET_REF}"),
        Target::ShortSha(_) => "+refs/heads/*:refs/remotes/origin/*".to_string(),
    };
    remote
        .fetch(&[refspec.as_str()], Some(&mut options), None)
        .map_err(|source| match (&target, advertised) {
            (Target::Sha(sha), false) => WorkspaceError::RefNotFound {
                git_ref: sha.clone(),
                detail: one_line(&source),
            },
            _ => clone_error(request, source),
        })?;

    let object = match &target {
        Target::ShortSha(short) => {
            repo.revparse_single(short)
                .map_err(|_| WorkspaceError::RefNotFound {
                    git_ref: short.clone(),
                    detail: "no commit on any branch starts with it".into(),
                })?
        }
        _ => repo
            .revparse_single(TARGET_REF)
            .map_err(|source| clone_error(request, source))?,
    };
    let commit = object
        .peel_to_commit()
        .map_err(|source| clone_error(request, source))?;
    repo.checkout_tree(commit.as_object(), Some(CheckoutBuilder::new().force()))
        .map_err(|source| WorkspaceError::Checkout { source })?;
    repo.set_head_detached(commit.id())
        .map_err(|source| WorkspaceError::Checkout { source })?;
    Ok(commit.id().to_string())
}

/// A pull request's base found from its head: the last commit the head shares with the
/// repository's default branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeBase {
    pub commit: String,
    /// The head's ref as resolved, and the branch it was compared with.
    pub head: String,
    pub default: String,
}

/// Fetches `request`'s ref and the remote's default branch (whole, for their history) into
/// a bare repository at `dest`, and finds their merge base. The default branch is what the
/// remote's HEAD names, unless that is the head itself: then `main`, else `master`.
pub fn merge_base_into(
    request: &FetchRequest<'_>,
    dest: &Path,
) -> Result<MergeBase, WorkspaceError> {
    let repo = Repository::init_bare(dest).map_err(|source| WorkspaceError::Init {
        path: dest.to_path_buf(),
        source,
    })?;
    let mut remote = repo
        .remote_anonymous(request.url)
        .map_err(|source| clone_error(request, source))?;
    let (target, base) = {
        let (heads, default) = advertised(&mut remote, request)?;
        let (target, _) = resolve(request.git_ref, &heads, default.clone())?;
        let head_name = match &target {
            Target::Ref(name) => Some(name.clone()),
            _ => None,
        };
        let base = default
            .into_iter()
            .chain([
                "refs/heads/main".to_string(),
                "refs/heads/master".to_string(),
            ])
            .find(|name| Some(name) != head_name.as_ref() && heads.iter().any(|(n, _)| n == name))
            .ok_or_else(|| WorkspaceError::RefNotFound {
                git_ref: "the merge base".into(),
                detail:
                    "the repository has no default branch other than the head; give the base ref"
                        .into(),
            })?;
        (target, base)
    };
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(callbacks(request))
        .download_tags(AutotagOption::None);
    let head_spec = match &target {
        Target::Ref(name) => format!("+{name}:{TARGET_REF}"),
        Target::Sha(sha) => format!("+{sha}:{TARGET_REF}"),
        Target::ShortSha(_) => "+refs/heads/*:refs/remotes/origin/*".to_string(),
    };
    let base_spec = format!("+{base}:{BASE_REF}");
    remote
        .fetch(
            &[head_spec.as_str(), base_spec.as_str()],
            Some(&mut options),
            None,
        )
        .map_err(|source| clone_error(request, source))?;
    let head = match &target {
        Target::ShortSha(short) => repo.revparse_single(short),
        _ => repo.revparse_single(TARGET_REF),
    }
    .and_then(|object| object.peel_to_commit())
    .map_err(|source| clone_error(request, source))?;
    let base_commit = repo
        .revparse_single(BASE_REF)
        .and_then(|object| object.peel_to_commit())
        .map_err(|source| clone_error(request, source))?;
    let commit = repo
        .merge_base(head.id(), base_commit.id())
        .map_err(|source| WorkspaceError::RefNotFound {
            git_ref: "the merge base".into(),
            detail: format!(
                "the head and {} share no commit ({})",
                short_name(&base),
                one_line(&source)
            ),
        })?;
    Ok(MergeBase {
        commit: commit.to_string(),
        head: request.git_ref.unwrap_or("the default branch").to_string(),
        default: short_name(&base).to_string(),
    })
}

/// Where the default branch is kept locally while its merge base is found.
const BASE_REF: &str = "refs/flaky-detector/base";

/// `main` for `refs/heads/main`.
fn short_name(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}

/// The refs a remote advertises, each with its commit.
type Heads = Vec<(String, Oid)>;

/// What the remote advertises: every ref with its commit, and the branch its HEAD names.
/// The connection ends here; the fetch that follows makes its own.
fn advertised(
    remote: &mut git2::Remote<'_>,
    request: &FetchRequest<'_>,
) -> Result<(Heads, Option<String>), WorkspaceError> {
    let connection = remote
        .connect_auth(git2::Direction::Fetch, Some(callbacks(request)), None)
        .map_err(|source| clone_error(request, source))?;
    let heads = connection
        .list()
        .map_err(|source| clone_error(request, source))?
        .iter()
        .map(|head| (head.name().to_string(), head.oid()))
        .collect();
    let default = connection
        .default_branch()
        .ok()
        .and_then(|name| name.as_str().map(str::to_owned));
    Ok((heads, default))
}

enum Target {
    Ref(String),
    Sha(String),
    ShortSha(String),
}

/// Maps the user's ref to what to fetch, using the refs the remote advertised. The `bool`
/// says whether a SHA was among the advertised tips (if not, the server may still serve it).
fn resolve(
    git_ref: Option<&str>,
    heads: &[(String, Oid)],
    default: Option<String>,
) -> Result<(Target, bool), WorkspaceError> {
    let Some(wanted) = git_ref else {
        let name = default
            .or_else(|| {
                heads
                    .iter()
                    .any(|(n, _)| n == "HEAD")
                    .then(|| "HEAD".into())
            })
            .ok_or_else(|| WorkspaceError::RefNotFound {
                git_ref: "HEAD".into(),
                detail: "the repository is empty".into(),
            })?;
        return Ok((Target::Ref(name), true));
    };
    // `HEAD`: what the remote's HEAD names (its default branch; a local repository's
    // checked-out commit), as `git clone` takes it.
    if wanted == "HEAD" && heads.iter().any(|(n, _)| n == "HEAD") {
        return Ok((Target::Ref(wanted.to_string()), true));
    }
    for candidate in [
        wanted.to_string(),
        format!("refs/heads/{wanted}"),
        format!("refs/tags/{wanted}"),
    ] {
        if candidate.starts_with("refs/") && heads.iter().any(|(n, _)| *n == candidate) {
            return Ok((Target::Ref(candidate), true));
        }
    }
    if is_hex_sha(wanted) {
        let lower = wanted.to_ascii_lowercase();
        if lower.len() == 40 {
            let advertised = heads.iter().any(|(_, oid)| oid.to_string() == lower);
            return Ok((Target::Sha(lower), advertised));
        }
        return Ok((Target::ShortSha(lower), false));
    }
    Err(WorkspaceError::RefNotFound {
        git_ref: wanted.to_string(),
        detail: "no branch or tag has that name".into(),
    })
}

/// Credentials, and the deadline checked on every progress tick. libgit2 asks for
/// credentials again after each rejection, so the attempts are counted and capped.
fn callbacks<'a>(request: &'a FetchRequest<'a>) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    let mut attempts = 0;
    let token = request.token;
    callbacks.credentials(move |url, username, allowed| {
        attempts += 1;
        if attempts > 3 {
            return Err(git2::Error::from_str("authentication failed"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && let Some(token) = token
        {
            return match token.for_url(url) {
                Some(secret) => Cred::userpass_plaintext("x-access-token", secret.expose_secret()),
                None => Err(git2::Error::from_str(
                    "authentication required by a host the git token is not for (list extra hosts in FLAKY_GIT_CREDENTIAL_HOSTS)",
                )),
            };
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            return Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        Err(git2::Error::from_str(
            "authentication required (set GIT_TOKEN or GITHUB_TOKEN for https)",
        ))
    });
    let deadline = request.deadline;
    callbacks.transfer_progress(move |_| Instant::now() < deadline);
    callbacks.sideband_progress(move |_| Instant::now() < deadline);
    callbacks
}

fn clone_error(request: &FetchRequest<'_>, source: git2::Error) -> WorkspaceError {
    if Instant::now() >= request.deadline {
        return WorkspaceError::Timeout {
            url: request.shown.to_string(),
        };
    }
    WorkspaceError::Clone {
        url: request.shown.to_string(),
        git_ref: request.git_ref.unwrap_or("default branch").to_string(),
        detail: one_line(&source),
    }
}

/// libgit2's message without its class and code suffixes, with any credential in a URL it
/// quotes removed.
fn one_line(error: &git2::Error) -> String {
    let message = error.message().replace('\n', " ");
    hide_userinfo(&message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_credentials_from_messages() {
        assert_eq!(
            hide_userinfo("failed to reach 'https://x:tok@github.com/a/b' now"),
            "failed to reach 'https://github.com/a/b' now"
        );
        assert_eq!(hide_userinfo("no url here"), "no url here");
    }

    #[test]
    fn head_is_the_remotes_head_and_an_unknown_name_is_refused() {
        let oid = Oid::from_str("0123456789abcdef0123456789abcdef01234567").expect("oid");
        let heads = vec![
            ("HEAD".to_string(), oid),
            ("refs/heads/main".to_string(), oid),
        ];
        assert!(matches!(
            resolve(Some("HEAD"), &heads, None),
            Ok((Target::Ref(name), true)) if name == "HEAD"
        ));
        assert!(matches!(
            resolve(Some("main"), &heads, None),
            Ok((Target::Ref(name), true)) if name == "refs/heads/main"
        ));
        assert!(matches!(
            resolve(Some("nope"), &heads, None),
            Err(WorkspaceError::RefNotFound { .. })
        ));
        assert!(matches!(
            resolve(Some("HEAD"), &heads[1..], None),
            Err(WorkspaceError::RefNotFound { .. })
        ));
    }
}
