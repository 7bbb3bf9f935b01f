//! [`GitToken`]: the operator's git token and the hosts it belongs to. A job names any URL
//! it likes, so the token is offered only to those hosts, checked against the URL libgit2
//! is about to authenticate to (which also covers redirects).

use secrecy::SecretString;

/// The host a token is for when nothing else is said.
const DEFAULT_HOST: &str = "github.com";

/// A token for https clones, and the hosts that may receive it.
#[derive(Clone)]
pub struct GitToken {
    secret: SecretString,
    /// Lower-case host names.
    hosts: Vec<String>,
}

impl GitToken {
    pub fn new(secret: SecretString, hosts: Vec<String>) -> GitToken {
        let hosts = hosts
            .into_iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        GitToken { secret, hosts }
    }

    /// `GIT_TOKEN` or `GITHUB_TOKEN`, for github.com, the host of `GITHUB_SERVER_URL`
    /// (GitHub Enterprise), and the comma-separated `FLAKY_GIT_CREDENTIAL_HOSTS`.
    pub fn from_env() -> Option<GitToken> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let secret = var("GIT_TOKEN").or_else(|| var("GITHUB_TOKEN"))?;
        let hosts = hosts_for(
            var("GITHUB_SERVER_URL").as_deref(),
            var("FLAKY_GIT_CREDENTIAL_HOSTS").as_deref(),
        );
        Some(GitToken::new(SecretString::from(secret), hosts))
    }

    /// The token, when `url` (as libgit2 hands it to the credential callback) is on one of
    /// the token's hosts.
    pub fn for_url(&self, url: &str) -> Option<&SecretString> {
        let host = url::Url::parse(url).ok()?.host_str()?.to_ascii_lowercase();
        // An IPv6 literal comes back in brackets; the list holds it either way.
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        self.hosts
            .iter()
            .any(|h| *h == host || h == bare)
            .then_some(&self.secret)
    }

    pub fn hosts(&self) -> &[String] {
        &self.hosts
    }
}

/// github.com, plus the host of `server_url`, plus each name in the comma-separated `extra`.
pub fn hosts_for(server_url: Option<&str>, extra: Option<&str>) -> Vec<String> {
    let mut hosts = vec![DEFAULT_HOST.to_string()];
    if let Some(host) = server_url
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    {
        hosts.push(host);
    }
    hosts.extend(
        extra
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty()),
    );
    hosts.dedup();
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_goes_only_to_its_hosts() {
        let hosts = hosts_for(Some("https://GHE.example.com/"), Some(" git.corp , ::1"));
        assert_eq!(hosts, ["github.com", "ghe.example.com", "git.corp", "::1"]);
        let token = GitToken::new(SecretString::from("t"), hosts);
        for url in [
            "https://github.com/a/b",
            "https://x@GitHub.com/a/b",
            "https://ghe.example.com:8443/a/b",
            "https://git.corp/a",
            "https://[::1]:9/a",
        ] {
            assert!(token.for_url(url).is_some(), "{url}");
        }
        for url in [
            "https://attacker.example/x.git",
            "https://github.com.attacker.example/x.git",
            "https://attacker.example/github.com/x.git",
            "not a url",
        ] {
            assert!(token.for_url(url).is_none(), "{url}");
        }
    }
}
