//! The environment a run sees: the worker's own, minus anything that looks like a credential,
//! plus what the install, the job and the run add. Secrets are dropped by name, before the
//! child exists, so no test can print or upload them.

/// Name fragments that mark a variable as a secret of the worker (matched case-insensitively).
const SECRET_MARKERS: [&str; 9] = [
    "TOKEN",
    "API_KEY",
    "APIKEY",
    "SECRET",
    "PASSWORD",
    "WEBHOOK",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "CREDENTIAL",
];

/// True for variables the runs must never see: all of RunPod's own, and any name that
/// carries a credential marker.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    upper.starts_with("RUNPOD_") || SECRET_MARKERS.iter().any(|m| upper.contains(m))
}

/// The worker's environment without its secrets, in a stable order.
pub fn inherited() -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .filter(|(k, _)| !is_secret_name(k))
        .collect();
    vars.sort();
    vars
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

    #[test]
    fn later_values_win_and_path_is_prepended() {
        let mut env = EnvBuilder::new(vec![("PATH".into(), "/usr/bin".into())]);
        env.set("A", "1").set("A", "2").prepend_path(["/venv/bin"]);
        assert_eq!(env.get("A"), Some("2"));
        assert_eq!(env.get("PATH"), Some("/venv/bin:/usr/bin"));
    }
}
