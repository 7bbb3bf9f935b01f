//! Python's install recipe: a virtualenv per dependency-file hash.

use std::path::Path;
use std::time::Duration;

use crate::framework::Framework;
use crate::framework::install::InstallChoices;
use crate::framework::install::steps::{Plan, Step, cache_key, cached_install};
use crate::framework::install::{
    InstallContext, InstallStatus, Prepared, find_on_path, present, skipped,
};
use crate::process::{ProcessSpec, run_process};

const PYTHON_REQUIREMENTS: [&str; 5] = [
    "requirements.txt",
    "requirements-dev.txt",
    "requirements-test.txt",
    "dev-requirements.txt",
    "test-requirements.txt",
];
const PYTHON_PROJECT: [&str; 3] = ["pyproject.toml", "setup.py", "setup.cfg"];

/// Whether the install would write into `checkout`: only with dependency files or extra
/// packages to install (the other cases are decided by [`crate::framework::install::may_write`]).
pub(in crate::framework) fn may_write(checkout: &Path, choices: &InstallChoices) -> bool {
    !present(checkout, &PYTHON_REQUIREMENTS).is_empty()
        || !present(checkout, &PYTHON_PROJECT).is_empty()
        || !choices.extra_packages.is_empty()
}

/// A virtualenv per dependency-file hash, with access to the worker's site-packages (where
/// the image ships pytest). For a packaged project, `.` and `src` lead `PYTHONPATH`, so the
/// checkout's code shadows the copy installed with the cached dependencies. The file's
/// `python` picks the interpreter, `extra_packages` join the pip line, and `install_command`
/// replaces it (run with the virtualenv first on PATH).
pub(in crate::framework) async fn install(ctx: &InstallContext<'_>) -> Prepared {
    let choices = ctx.choices;
    let requirements = present(ctx.checkout, &PYTHON_REQUIREMENTS);
    let project = present(ctx.checkout, &PYTHON_PROJECT);
    let chosen = choices.install_command.is_some() || !choices.extra_packages.is_empty();
    let (files, installs_project) = match (requirements.is_empty(), project.is_empty()) {
        (false, _) => (requirements, false),
        (true, false) => (project, true),
        (true, true) if chosen => (Vec::new(), false),
        (true, true) => {
            return skipped(
                Framework::Python,
                InstallStatus::Skipped,
                Some("no requirements.txt, pyproject.toml or setup.py".into()),
            );
        }
    };
    let uv = find_on_path(ctx.env, "uv");
    let key = cache_key(ctx.checkout, "python-v1", &files, uv.is_some(), choices);
    let venv = ctx.cache_dir.join("python").join(&key);
    let bin = venv.join("bin");
    let python = bin.join("python");
    let interpreter = choices.python.clone().unwrap_or_else(|| "python3".into());
    let host = find_on_path(ctx.env, &interpreter).unwrap_or_else(|| interpreter.clone());
    let mut steps: Vec<Step> = Vec::new();
    let venv_arg = venv.display().to_string();
    let mut pip: Vec<String> = match &uv {
        Some(uv) => {
            let mut make = vec![uv.clone(), "venv".into(), "--system-site-packages".into()];
            if choices.python.is_some() {
                make.extend(["--python".into(), host.clone()]);
            }
            make.push(venv_arg);
            steps.push(Step::fetch(make, &format!("uv venv (with {interpreter})")));
            vec![
                uv.clone(),
                "pip".into(),
                "install".into(),
                "--python".into(),
                python.display().to_string(),
            ]
        }
        None => {
            // Giving the virtualenv its own pip (ensurepip) is most of the cost of making it;
            // a host pip that installs into another interpreter makes that copy unneeded.
            // Probing pip costs a Python start: skip it when the cache already holds the venv.
            // An `install_command` calls `pip` from the virtualenv, which then needs its own.
            let cached = venv.join(".complete").exists();
            let lean = !cached
                && choices.install_command.is_none()
                && host_pip_targets_others(&host, ctx).await;
            let mut make = vec![
                host.clone(),
                "-m".into(),
                "venv".into(),
                "--system-site-packages".into(),
            ];
            if lean {
                make.push("--without-pip".into());
            }
            make.push(venv_arg);
            steps.push(Step::fetch(
                make,
                &format!("{interpreter} -m venv (making the virtualenv)"),
            ));
            let mut pip: Vec<String> = if lean {
                vec![
                    host.clone(),
                    "-m".into(),
                    "pip".into(),
                    "--python".into(),
                    python.display().to_string(),
                ]
            } else {
                vec![python.display().to_string(), "-m".into(), "pip".into()]
            };
            // Not `--quiet`: pip names the package it is collecting only in its progress
            // lines, which is how a failed build is traced to its requirement.
            pip.extend(
                [
                    "install",
                    "--disable-pip-version-check",
                    "--no-input",
                    "--progress-bar",
                    "off",
                ]
                .map(String::from),
            );
            pip
        }
    };
    let mut label = vec!["pip install".to_string()];
    if installs_project {
        pip.push(".".into());
        label.push(".".into());
    } else {
        for file in &files {
            pip.extend(["-r".into(), file.clone()]);
            label.extend(["-r".into(), file.clone()]);
        }
    }
    pip.extend(choices.extra_packages.iter().cloned());
    label.extend(choices.extra_packages.iter().cloned());
    match &choices.install_command {
        Some(line) => steps.push(Step::custom(line)),
        None => steps.push(Step::fetch(pip, &label.join(" "))),
    }
    let mut env = vec![("VIRTUAL_ENV".to_string(), venv.display().to_string())];
    if installs_project {
        let mut pythonpath = vec![".".to_string()];
        if ctx.checkout.join("src").is_dir() {
            pythonpath.push("src".into());
        }
        env.push(("PYTHONPATH".into(), pythonpath.join(":")));
    }
    let toolchain = vec![host, "--version".into()];
    let plan = Plan {
        key: &key,
        store: &venv,
        steps: &steps,
        link_back: None,
        path_prefix: vec![bin],
        env,
        toolchain: vec![toolchain],
        way_out: python_way_out(&files, choices),
    };
    cached_install(ctx, plan).await
}

/// The keys that change a Python install, worded for the files that were installed.
fn python_way_out(files: &[String], choices: &InstallChoices) -> String {
    if choices.install_command.is_some() {
        return format!(
            "fix `install_command` in {FILE}, or remove it to install from the dependency files",
            FILE = crate::config::FILE_NAME
        );
    }
    let files = if files.is_empty() {
        "`extra_packages`".to_string()
    } else {
        files
            .iter()
            .map(|f| format!("`{f}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "pin versions that exist for this Python in {files}, or set `python` (another \
         interpreter), `extra_packages` (more packages) or `install_command` (your own install \
         line) in {FILE}; `auto_install_dependencies: false` runs the tests without installing",
        FILE = crate::config::FILE_NAME
    )
}

/// True when `host -m pip` can install into another interpreter (`pip --python`, pip 22.3 and
/// later). A host without pip, or with an older one, answers false and the virtualenv gets
/// its own pip.
async fn host_pip_targets_others(host: &str, ctx: &InstallContext<'_>) -> bool {
    let spec = ProcessSpec {
        program: host.to_string(),
        arg0: None,
        args: ["-m", "pip", "--version"].map(String::from).to_vec(),
        cwd: ctx.checkout.to_path_buf(),
        env: ctx.env.to_vec(),
        timeout: Duration::from_secs(30),
        kill_grace: Duration::from_secs(1),
        output_limit: 4096,
        overlay: None,
    };
    match run_process(&spec, ctx.cancel).await {
        Ok(output) if output.outcome.passed() => pip_supports_python_option(&output.stdout.text),
        _ => false,
    }
}

/// Reads `pip X.Y[.Z] from …` (the output of `pip --version`) and says whether X.Y is 22.3 or
/// later, the first pip with `--python`.
fn pip_supports_python_option(version_line: &str) -> bool {
    let Some(version) = version_line
        .split_whitespace()
        .skip_while(|word| *word != "pip")
        .nth(1)
    else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(major), Some(minor)) => (major, minor) >= (22, 3),
        (Some(major), None) => major > 22,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pip_with_the_python_option_is_recognised() {
        assert!(pip_supports_python_option(
            "pip 23.2.1 from /usr/lib/python3/dist-packages/pip (python 3.11)"
        ));
        assert!(pip_supports_python_option("pip 22.3 from /x (python 3.10)"));
        assert!(pip_supports_python_option("pip 24 from /x (python 3.12)"));
        assert!(!pip_supports_python_option(
            "pip 22.2.2 from /x (python 3.10)"
        ));
        assert!(!pip_supports_python_option(
            "pip 9.0.1 from /x (python 3.6)"
        ));
        assert!(!pip_supports_python_option("No module named pip"));
        assert!(!pip_supports_python_option(""));
    }
}
