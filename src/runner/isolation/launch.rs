//! How a run is launched from its place: paths into the prepared checkout in its environment
//! pointed at the run's copy ([`repoint`]), and its program found on its `PATH`
//! ([`find_program`]).

use std::path::Path;

/// See [`super::RunPlace::program`].
pub fn find_program(program: &str, env: &[(String, String)], cwd: &Path) -> String {
    if program.contains('/') {
        return program.to_string();
    }
    let Some((_, path)) = env.iter().find(|(k, _)| k == "PATH") else {
        return program.to_string();
    };
    std::env::split_paths(path)
        .map(|dir| cwd.join(dir).join(program))
        .find(|candidate| is_executable_file(candidate))
        .map(|found| found.display().to_string())
        .unwrap_or_else(|| program.to_string())
}

fn is_executable_file(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `value` with every colon-separated part that is `from` or lies under it moved to `to`.
pub fn repoint(value: &str, from: &str, to: &str) -> String {
    if !value.contains(from) {
        return value.to_string();
    }
    value
        .split(':')
        .map(|part| match part.strip_prefix(from) {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => format!("{to}{rest}"),
            _ => part.to_string(),
        })
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_is_found_on_the_runs_path_from_its_directory() {
        use std::os::unix::fs::PermissionsExt;
        let cwd = tempfile::tempdir().expect("tempdir");
        let bin = cwd.path().join("node_modules/.bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        for (name, mode) in [("jest", 0o755), ("notes", 0o644)] {
            std::fs::write(bin.join(name), "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(mode))
                .expect("chmod");
        }
        let env = [(
            "PATH".to_string(),
            "node_modules/.bin:/usr/bin:/bin".to_string(),
        )];
        assert_eq!(
            find_program("jest", &env, cwd.path()),
            bin.join("jest").display().to_string()
        );
        assert_eq!(
            find_program("notes", &env, cwd.path()),
            "notes",
            "not executable: left to the spawn to report"
        );
        assert!(find_program("sh", &env, cwd.path()).ends_with("/sh"));
        assert_eq!(find_program("./run.sh", &env, cwd.path()), "./run.sh");
        assert_eq!(find_program("sh", &[], cwd.path()), "sh");
    }

    #[test]
    fn paths_into_the_checkout_follow_the_run() {
        let from = "/w/job/checkout";
        let to = "/w/job/runs/run-3/checkout";
        assert_eq!(
            repoint("/w/job/checkout/node_modules/.bin:/usr/bin", from, to),
            "/w/job/runs/run-3/checkout/node_modules/.bin:/usr/bin"
        );
        assert_eq!(repoint(from, from, to), to);
        assert_eq!(
            repoint("/w/job/checkout2:/x", from, to),
            "/w/job/checkout2:/x",
            "only whole path components move"
        );
    }
}
