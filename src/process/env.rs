//! The environment a run sees: the few variables of the worker's own that tests need (an
//! allow-list, [`PASSED`] and [`PASSED_PREFIXES`], plus names the operator lists in
//! `FLAKY_PASS_ENV`), plus what the install, the job and the run add. A worker's environment
//! is full of credentials whose names say nothing (`DATABASE_URL`, `SENTRY_DSN`,
//! `SSH_AUTH_SOCK`, ...), so nothing is passed unless it is known to be needed; the check
//! happens before the child exists, so no test can print or upload what it never got.

/// Variables passed to the runs as they are: the session, the locale, temp dirs, and what
/// language tool chains read to find themselves and their caches.
pub const PASSED: &[&str] = &[
    // Session and terminal.
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "COLORTERM",
    "NO_COLOR",
    "FORCE_COLOR",
    "CI",
    "HOSTNAME",
    // Locale and time.
    "LANG",
    "LANGUAGE",
    "TZ",
    "TZDIR",
    // Temporary files and TLS roots.
    "TMPDIR",
    "TMP",
    "TEMP",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "GIT_SSL_CAINFO",
    "PIP_CERT",
    // Go.
    "GOPATH",
    "GOROOT",
    "GOCACHE",
    "GOMODCACHE",
    "GOFLAGS",
    "GOTOOLCHAIN",
    "GOPROXY",
    "GOSUMDB",
    "GOPRIVATE",
    "GONOSUMDB",
    "GONOPROXY",
    "GOTMPDIR",
    // Rust.
    "CARGO_HOME",
    "RUSTUP_HOME",
    "RUSTUP_TOOLCHAIN",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUST_BACKTRACE",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_JOBS",
    "CARGO_TERM_COLOR",
    // JVM.
    "JAVA_HOME",
    "JAVA_TOOL_OPTIONS",
    "GRADLE_USER_HOME",
    "MAVEN_OPTS",
    // Node.
    "NODE_OPTIONS",
    "NODE_PATH",
    "NVM_DIR",
    "NPM_CONFIG_CACHE",
    "YARN_CACHE_FOLDER",
    "COREPACK_HOME",
    // Python: paths and interpreter switches only (no index URLs, which may carry tokens).
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PYTHONIOENCODING",
    "PYTHONUTF8",
    "VIRTUAL_ENV",
    "PYENV_ROOT",
    "PIP_CACHE_DIR",
    "PIP_FIND_LINKS",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "UV_CACHE_DIR",
    // The operator's forced isolation mechanism (docs/isolation.md): read from the runs'
    // environment, so a job's own `env` may still name another.
    "FLAKY_ISOLATION_MECHANISM",
];

/// Prefixes of passed variables: locale categories and the XDG base directories.
pub const PASSED_PREFIXES: &[&str] = &["LC_", "XDG_"];

/// The operator's knob: a comma-separated list of extra names to pass (a trailing `*`
/// passes every name with that prefix).
pub const PASS_ENV_VAR: &str = "FLAKY_PASS_ENV";

/// The allow-listed part of the worker's environment (with `FLAKY_PASS_ENV`'s extra names),
/// in a stable order.
pub fn inherited() -> Vec<(String, String)> {
    let extra = std::env::var(PASS_ENV_VAR).unwrap_or_default();
    let extra = parse_extra(&extra);
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| is_passed(k, &extra))
        .collect();
    vars.sort();
    vars
}

/// The names in a `FLAKY_PASS_ENV` value.
fn parse_extra(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect()
}

/// True when a run may see the worker's variable `name`: it is on the allow-list or among
/// the operator's `extra` names. RunPod's own variables never pass, whatever is listed.
fn is_passed(name: &str, extra: &[&str]) -> bool {
    if name.to_ascii_uppercase().starts_with("RUNPOD_") {
        return false;
    }
    let listed = |pattern: &str| match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern,
    };
    PASSED.contains(&name)
        || PASSED_PREFIXES.iter().any(|p| name.starts_with(p))
        || extra.iter().any(|p| listed(p))
}

/// An environment under construction: later `set` calls win, as in a shell.
#[derive(Debug, Clone, Default)]
pub struct EnvBuilder {
    vars: Vec<(String, String)>,
}

impl EnvBuilder {
    pub fn new(base: Vec<(String, String)>) -> EnvBuilder {
        EnvBuilder { vars: base }
    }

    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) -> &mut Self {
        let name = name.into();
        let value = value.into();
        match self.vars.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
        self
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Puts `dirs` in front of PATH, first one first.
    pub fn prepend_path<I, S>(&mut self, dirs: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut parts: Vec<String> = dirs.into_iter().map(Into::into).collect();
        if parts.is_empty() {
            return self;
        }
        if let Some(path) = self.get("PATH")
            && !path.is_empty()
        {
            parts.push(path.to_string());
        }
        self.set("PATH", parts.join(":"))
    }

    pub fn build(self) -> Vec<(String, String)> {
        self.vars
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_names_pass() {
        for name in [
            "PATH",
            "HOME",
            "LC_ALL",
            "XDG_CACHE_HOME",
            "GOFLAGS",
            "CARGO_HOME",
        ] {
            assert!(is_passed(name, &[]), "{name}");
        }
        for name in [
            "DATABASE_URL",
            "REDIS_URL",
            "MYSQL_PWD",
            "GH_PAT",
            "SENTRY_DSN",
            "SSH_AUTH_SOCK",
            "NPM_CONFIG__AUTH",
            "CI_JOB_JWT",
            "ENCRYPTION_KEY",
            "DOCKER_AUTH_CONFIG",
            "PIP_INDEX_URL",
            "path",
        ] {
            assert!(!is_passed(name, &[]), "{name}");
        }
        let extra = parse_extra(" MY_FLAG, APP_*,,RUNPOD_POD_ID");
        assert!(is_passed("MY_FLAG", &extra));
        assert!(is_passed("APP_MODE", &extra));
        assert!(!is_passed("MY_FLAGS", &extra));
        assert!(
            !is_passed("RUNPOD_POD_ID", &extra),
            "RunPod's own never pass"
        );
    }

    #[test]
    fn later_values_win_and_path_is_prepended() {
        let mut env = EnvBuilder::new(vec![("PATH".into(), "/usr/bin".into())]);
        env.set("A", "1").set("A", "2").prepend_path(["/venv/bin"]);
        assert_eq!(env.get("A"), Some("2"));
        assert_eq!(env.get("PATH"), Some("/venv/bin:/usr/bin"));
    }
}
