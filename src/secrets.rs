//! Credentials in what the crate writes out, in one place: which variable names mark a
//! secret ([`is_secret_name`], [`looks_secret`]) and the scrubbers for text that may quote
//! one ([`hide_userinfo`] for messages, [`mask_url_password`] for a database URL). Kept at
//! the bottom of the layers so the job input, the workspace, the process environment, the
//! summary and history all use the same lists and never each write their own. A URL that
//! is a credential as a whole is held as a [`SecretUrl`].

use secrecy::{ExposeSecret, SecretString};

/// Words that mark a variable as a credential wherever they appear in its name (matched
/// case-insensitively).
const SECRET_WORDS: [&str; 10] = [
    "TOKEN",
    "SECRET",
    "PASSWORD",
    "PASSWD",
    "CREDENTIAL",
    "APIKEY",
    "API_KEY",
    "WEBHOOK",
    "PRIVATE_KEY",
    "ACCESS_KEY",
];

/// Name parts (split on `_`) that mark a variable as a credential: too short or too common
/// to be matched inside a longer word (`PAT` in `PATH`, `KEY` in `KEYBOARD`).
const SECRET_PARTS: [&str; 14] = [
    "PWD",
    "PASS",
    "KEY",
    "AUTH",
    "JWT",
    "DSN",
    "PAT",
    "COOKIE",
    "SESSION",
    "PRIVATE",
    "CERT",
    "SALT",
    "SIGNATURE",
    "CREDENTIALS",
];

/// The prefix of RunPod's own variables (its API key, the pod's id and URLs): none is a
/// job's business.
const PLATFORM_PREFIX: &str = "RUNPOD_";

/// Whether a variable's name marks it as a secret: one of RunPod's own, or a name with a
/// credential word (`GITHUB_TOKEN`, `SLACK_WEBHOOK_URL`) or part (`GH_PAT`, `SENTRY_DSN`,
/// `MYSQL_PWD`, `NPM_CONFIG__AUTH`).
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with(PLATFORM_PREFIX)
        || SECRET_WORDS.iter().any(|w| upper.contains(w))
        || upper.split('_').any(|part| SECRET_PARTS.contains(&part))
}

/// Whether a job `env` variable must not be written out: a secret name
/// ([`is_secret_name`]), or a value that carries URL credentials (`postgres://u:p@h/db`)
/// or looks like a generated token (20+ characters without spaces, mixing letters and
/// digits, not a path). Masking too much only costs typing.
pub fn looks_secret(name: &str, value: &str) -> bool {
    let by_name = is_secret_name(name);
    let url_credentials = value.split_once("://").is_some_and(|(_, rest)| {
        rest.split(['/', '?', '#'])
            .next()
            .is_some_and(|a| a.contains('@'))
    });
    let token_like = value.len() >= 20
        && !value.starts_with(['/', '.', '~'])
        && !value.contains(char::is_whitespace)
        && value.chars().any(|c| c.is_ascii_digit())
        && value.chars().any(|c| c.is_ascii_alphabetic());
    by_name || url_credentials || token_like
}

/// `text` with the `user:password@` part of every `scheme://` URL in it removed, whatever
/// the scheme and its case. Used on every repository string an error or a log may show.
pub fn hide_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| {
                c.is_whitespace() || c.is_control() || c == '\'' || c == '"' || c == '`'
            })
            .unwrap_or(after.len());
        let authority_end = after[..end].find(['/', '?', '#']).unwrap_or(end);
        match after[..authority_end].rfind('@') {
            Some(at) => out.push_str(&after[at + 1..end]),
            None => out.push_str(&after[..end]),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// One URL as it may be shown: the password replaced by `***`, in the userinfo and in a
/// `password` query parameter (libpq reads both); a URL that does not parse is not shown at
/// all (`unreadable` stands for it), since where its password is cannot be told. The user
/// and host stay, so the message still says which database.
pub fn mask_url_password(url: &str, unreadable: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let v = if k.eq_ignore_ascii_case("password") {
                        "***".to_string()
                    } else {
                        v.into_owned()
                    };
                    (k.into_owned(), v)
                })
                .collect();
            if !pairs.is_empty() {
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) => unreadable.to_string(),
    }
}

/// A URL that is itself a credential (a Slack or Discord webhook lets anyone post): its
/// `Debug` is redacted and it is exposed only to build the request, so it is never
/// formatted to be scrubbed afterwards.
#[derive(Clone)]
pub struct SecretUrl(SecretString);

impl SecretUrl {
    /// `text` if it is an http(s) URL with a host; `None` otherwise, so that no error
    /// quotes what was given.
    pub fn parse(text: &str) -> Option<SecretUrl> {
        match url::Url::parse(text.trim()) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Some(SecretUrl(SecretString::from(text.trim().to_string())))
            }
            _ => None,
        }
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretUrl(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised_by_name() {
        for name in [
            "RUNPOD_AI_API_KEY",
            "RUNPOD_POD_ID",
            "GITHUB_TOKEN",
            "git_token",
            "SLACK_WEBHOOK_URL",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWORD",
            "FLAKY_API_KEY",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in ["PATH", "HOME", "LANG", "TEST_SEED", "CI"] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    /// The two lists (the worker's markers and the reproduce line's words and parts) became
    /// one: each use now sees what the other saw too, which only hides more.
    #[test]
    fn one_list_masks_what_either_list_masked() {
        for name in ["MYSQL_PASSWD", "GH_PAT", "SENTRY_DSN", "NPM_CONFIG__AUTH"] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "RUNPOD_ENDPOINT_ID",
            "SLACKWEBHOOK",
            "MYAPI_KEYS",
            "GPGPRIVATE_KEYS",
            "XACCESS_KEYS",
        ] {
            assert!(looks_secret(name, "on"), "{name}");
        }
        for name in ["PATH", "PYTHONPATH", "KEYBOARD", "FEATURE_FLAG", "PID_FILE"] {
            assert!(!looks_secret(name, "on"), "{name}");
        }
    }
}
