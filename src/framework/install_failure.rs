//! Why an install step failed, read from the tool's own output ([`diagnose`]): the package
//! whose resolution, download or build failed, and the tool's one-line reason. pip (and uv),
//! npm, go and cargo each say it in their own words; a line we do not recognise still gives
//! the reason (the tool's last `error` line), never a header or a progress line.

/// What an install's output says went wrong.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnosis {
    /// The requirement, package or module that could not be installed (`six==0.0.999`,
    /// `@scope/name@^1.0.0`, `example.com/mod@v1.0.0`, `serde = "=0.0.999"`).
    pub package: Option<String>,
    /// The tool's own reason, one line.
    pub reason: Option<String>,
}

/// The longest reason kept, in characters.
const REASON_LIMIT: usize = 240;

/// Reads `output` (stdout then stderr of the failed step) with every tool's rules in turn;
/// the first that names a package wins, else the first reason found.
pub fn diagnose(output: &str) -> Diagnosis {
    let lines: Vec<&str> = output.lines().map(str::trim_end).collect();
    let found = [pip(&lines), npm(&lines), go(&lines), cargo(&lines)];
    let named = found.iter().find(|d| d.package.is_some()).cloned();
    let mut diagnosis = named
        .or_else(|| found.iter().find(|d| d.reason.is_some()).cloned())
        .unwrap_or_else(|| Diagnosis {
            package: None,
            reason: last_error_line(&lines),
        });
    diagnosis.reason = diagnosis.reason.map(|r| cut(&r));
    diagnosis
}

/// pip's resolution and build failures (and uv's `Because X was not found`).
fn pip(lines: &[&str]) -> Diagnosis {
    let after = |marker: &str| {
        lines.iter().find_map(|l| {
            l.trim()
                .strip_prefix(marker)
                .map(|rest| rest.trim().to_string())
        })
    };
    if let Some(package) = after("ERROR: No matching distribution found for ") {
        let reason = lines
            .iter()
            .find_map(|l| l.trim().strip_prefix("ERROR: Could not find a version"))
            .map(|rest| shorten_versions(&format!("could not find a version{rest}")))
            .unwrap_or_else(|| format!("no matching distribution found for {package}"));
        return Diagnosis {
            package: Some(package),
            reason: Some(reason),
        };
    }
    if let Some(rest) = after("ERROR: Could not find a version that satisfies the requirement ") {
        let package = rest.split(" (").next().unwrap_or(&rest).to_string();
        return Diagnosis {
            package: Some(package),
            reason: Some(shorten_versions(&format!(
                "could not find a version that satisfies the requirement {rest}"
            ))),
        };
    }
    let building = lines.iter().find_map(|l| {
        let l = l.trim().trim_start_matches('×').trim();
        l.strip_prefix("Building wheel for ")
            .or_else(|| l.strip_prefix("Failed building wheel for "))
            .or_else(|| l.strip_prefix("ERROR: Failed building wheel for "))
            .or_else(|| l.strip_prefix("ERROR: Could not build wheels for "))
            .map(|rest| rest.split([' ', ',']).next().unwrap_or(rest).to_string())
    });
    let subprocess = lines
        .iter()
        .any(|l| l.contains("error: subprocess-exited-with-error"));
    if building.is_some() || subprocess {
        // The package whose build (or metadata step) failed: named in the `×` line, else the
        // last `Collecting X` before the error (pip without `--quiet`).
        let package = building.or_else(|| {
            let error_at = lines
                .iter()
                .position(|l| l.contains("subprocess-exited-with-error"))?;
            lines[..error_at].iter().rev().find_map(|l| {
                l.trim()
                    .strip_prefix("Collecting ")
                    .map(|r| r.split(" (").next().unwrap_or(r).trim().to_string())
            })
        });
        let step = lines.iter().find_map(|l| {
            let l = l.trim().trim_start_matches('×').trim();
            l.ends_with("did not run successfully.")
                .then(|| l.trim_end_matches('.').to_string())
        });
        let detail = subprocess_error(lines);
        let reason = match (step, detail) {
            (Some(step), Some(detail)) => format!("{step}: {detail}"),
            (Some(step), None) => step,
            (None, Some(detail)) => detail,
            (None, None) => "building it failed".to_string(),
        };
        return Diagnosis {
            package,
            reason: Some(reason),
        };
    }
    // uv: `╰─▶ Because six==0.0.999 was not found in the package registry and …`.
    if let Some(line) = lines.iter().find(|l| l.contains("Because ")) {
        let rest = line.split("Because ").nth(1).unwrap_or_default();
        let package = rest
            .split_whitespace()
            .next()
            .map(|p| p.trim_end_matches(',').to_string());
        return Diagnosis {
            package,
            reason: Some(format!("because {rest}")),
        };
    }
    if let Some(error) = lines.iter().find_map(|l| l.trim().strip_prefix("ERROR: ")) {
        return Diagnosis {
            package: None,
            reason: Some(error.to_string()),
        };
    }
    Diagnosis::default()
}

/// The last line inside pip's `[N lines of output]` block that says error, which is what
/// the build itself complained about.
fn subprocess_error(lines: &[&str]) -> Option<String> {
    let start = lines.iter().position(|l| l.contains("lines of output]"))?;
    let end = lines[start..]
        .iter()
        .position(|l| l.contains("[end of output]"))
        .map_or(lines.len(), |e| start + e);
    lines[start + 1..end]
        .iter()
        .rev()
        .map(|l| l.trim())
        .find(|l| {
            let lower = l.to_ascii_lowercase();
            lower.contains("error") && !lower.contains("subprocess-exited-with-error")
        })
        .map(str::to_string)
}

/// npm's 404 (a package not in the registry), ETARGET (no such version) and the other
/// `npm error` codes (both the `npm ERR!` and the newer `npm error` prefix).
fn npm(lines: &[&str]) -> Diagnosis {
    fn body(l: &str) -> Option<&str> {
        l.strip_prefix("npm ERR! ")
            .or_else(|| l.strip_prefix("npm error "))
            .map(str::trim)
    }
    let npm_lines: Vec<&str> = lines.iter().filter_map(|l| body(l)).collect();
    if npm_lines.is_empty() {
        return Diagnosis::default();
    }
    let quoted = |l: &str| l.split('\'').nth(1).map(str::to_string);
    for line in &npm_lines {
        if let Some(rest) = line.strip_prefix("notarget No matching version found for ") {
            return Diagnosis {
                package: Some(rest.trim_end_matches('.').to_string()),
                reason: Some("no matching version found in the registry".into()),
            };
        }
        let missing = line.contains("is not in this registry")
            || line.contains("is not in the npm registry")
            || line.contains("could not be found or you do not have permission");
        if missing && let Some(package) = quoted(line) {
            return Diagnosis {
                package: Some(package),
                reason: Some("not found in the registry (404)".into()),
            };
        }
    }
    if let Some(url) = npm_lines
        .iter()
        .find_map(|l| l.strip_prefix("404 Not Found - GET "))
    {
        let url = url.split_whitespace().next().unwrap_or(url);
        let name = url.rsplit('/').next().unwrap_or(url);
        return Diagnosis {
            package: Some(name.replace("%2f", "/").replace("%2F", "/")),
            reason: Some("not found in the registry (404)".into()),
        };
    }
    let code = npm_lines
        .iter()
        .find_map(|l| l.strip_prefix("code "))
        .map(str::to_string);
    let first = npm_lines
        .iter()
        .find(|l| !l.starts_with("code ") && !l.starts_with("A complete log") && l.len() > 4)
        .map(|l| l.to_string());
    let reason = match (code, first) {
        (Some(code), Some(first)) => Some(format!("{code}: {first}")),
        (code, first) => first.or(code),
    };
    Diagnosis {
        package: None,
        reason,
    }
}

/// `go: example.com/x@v1.0.0: <reason>`, `go: module x: <reason>`, and a package no module
/// provides.
fn go(lines: &[&str]) -> Diagnosis {
    for line in lines {
        let line = line.trim();
        for marker in [
            "cannot find module providing package ",
            "no required module provides package ",
            "missing go.sum entry for module providing package ",
        ] {
            if let Some(rest) = line.split(marker).nth(1) {
                let (package, reason) = rest.split_once([':', ';']).unwrap_or((rest, ""));
                let reason = reason.trim();
                let reason = if reason.is_empty() {
                    marker.trim().to_string()
                } else {
                    format!("{}: {reason}", marker.trim())
                };
                return Diagnosis {
                    package: Some(package.trim().to_string()),
                    reason: Some(reason),
                };
            }
        }
        let Some(rest) = line.strip_prefix("go: ") else {
            continue;
        };
        let rest = rest.strip_prefix("module ").unwrap_or(rest);
        if let Some((module, reason)) = rest.split_once(": ")
            && !module.contains(' ')
            && (module.contains('/') || module.contains('@'))
        {
            return Diagnosis {
                package: Some(module.to_string()),
                reason: Some(reason.trim().to_string()),
            };
        }
    }
    let reason = lines
        .iter()
        .map(|l| l.trim())
        .find(|l| l.starts_with("go: ") && !l.starts_with("go: downloading"))
        .map(|l| l.trim_start_matches("go: ").to_string());
    Diagnosis {
        package: None,
        reason,
    }
}

/// cargo's `no matching package named`, `failed to select a version for the requirement`
/// and the other `error:` lines that name a crate in backticks.
fn cargo(lines: &[&str]) -> Diagnosis {
    let ticked = |l: &str| l.split('`').nth(1).map(str::to_string);
    for line in lines {
        let Some(rest) = line.trim().strip_prefix("error: ") else {
            continue;
        };
        let known = [
            "no matching package named",
            "failed to select a version for the requirement",
            "failed to get `",
            "failed to download",
            "cannot be built because it requires rustc",
        ];
        if known.iter().any(|k| rest.contains(k)) {
            return Diagnosis {
                package: ticked(rest),
                reason: Some(rest.to_string()),
            };
        }
    }
    Diagnosis::default()
}

/// The last line that says `error` (any case), else the last line: a tool we do not know.
fn last_error_line(lines: &[&str]) -> Option<String> {
    let lines = lines.iter().map(|l| l.trim()).filter(|l| !l.is_empty());
    lines
        .clone()
        .rev()
        .find(|l| l.to_ascii_lowercase().contains("error"))
        .or_else(|| lines.clone().next_back())
        .map(str::to_string)
}

/// pip's `(from versions: a, b, c, …)` with more than six versions: the first two and the
/// last three.
fn shorten_versions(line: &str) -> String {
    let Some((head, list)) = line.split_once("(from versions: ") else {
        return line.to_string();
    };
    let list = list.trim_end_matches(')');
    let versions: Vec<&str> = list.split(", ").collect();
    if versions.len() <= 6 {
        return line.to_string();
    }
    let n = versions.len();
    format!(
        "{head}(from versions: {}, {}, …, {}, {}, {})",
        versions[0],
        versions[1],
        versions[n - 3],
        versions[n - 2],
        versions[n - 1]
    )
}

fn cut(text: &str) -> String {
    if text.chars().count() <= REASON_LIMIT {
        return text.to_string();
    }
    let mut out: String = text.chars().take(REASON_LIMIT - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(package: &str, reason: &str) -> Diagnosis {
        Diagnosis {
            package: Some(package.into()),
            reason: Some(reason.into()),
        }
    }

    #[test]
    fn pip_names_the_requirement_that_has_no_version() {
        let out = "ERROR: Could not find a version that satisfies the requirement six==0.0.999 \
                   (from versions: 0.9.0, 0.9.1, 0.9.2, 1.0b1, 1.0.0, 1.16.0, 1.17.0)\n\
                   ERROR: No matching distribution found for six==0.0.999\n";
        assert_eq!(
            diagnose(out),
            d(
                "six==0.0.999",
                "could not find a version that satisfies the requirement six==0.0.999 \
                 (from versions: 0.9.0, 0.9.1, …, 1.0.0, 1.16.0, 1.17.0)"
            )
        );
    }

    #[test]
    fn pip_names_the_package_whose_wheel_did_not_build() {
        let out = "Collecting numpy==1.19.0\n  Downloading numpy-1.19.0.zip (7.3 MB)\n\
  error: subprocess-exited-with-error\n\n  × Building wheel for numpy (pyproject.toml) did not run successfully.\n\
  │ exit code: 1\n  ╰─> [3 lines of output]\n      Running setup.py\n\
      RuntimeError: Broken toolchain: cannot link a simple C program\n      [end of output]\n\n\
  note: This error originates from a subprocess, and is likely not a problem with pip.\n\
  ERROR: Failed building wheel for numpy\n\
ERROR: Could not build wheels for numpy, which is required to install pyproject.toml-based projects\n";
        assert_eq!(
            diagnose(out),
            d(
                "numpy",
                "Building wheel for numpy (pyproject.toml) did not run successfully: \
                 RuntimeError: Broken toolchain: cannot link a simple C program"
            )
        );
        let metadata = "Collecting pandas==1.0.5\n  Installing build dependencies: started\n\
  error: subprocess-exited-with-error\n\n  × Getting requirements to build wheel did not run successfully.\n\
  │ exit code: 1\n  ╰─> [2 lines of output]\n      ModuleNotFoundError: No module named 'distutils'\n\
      [end of output]\n";
        assert_eq!(
            diagnose(metadata),
            d(
                "pandas==1.0.5",
                "Getting requirements to build wheel did not run successfully: \
                 ModuleNotFoundError: No module named 'distutils'"
            )
        );
    }

    #[test]
    fn npm_names_the_missing_package_or_version() {
        let out = "npm error code E404\n\
npm error 404 Not Found - GET https://registry.npmjs.org/@flaky-absent%2fno-such-package\n\
npm error 404\n\
npm error 404  The requested resource '@flaky-absent/no-such-package@^1.0.0' could not be found or you do not have permission to access it.\n";
        assert_eq!(
            diagnose(out),
            d(
                "@flaky-absent/no-such-package@^1.0.0",
                "not found in the registry (404)"
            )
        );
        let old = "npm ERR! code E404\nnpm ERR! 404 Not Found - GET https://registry.npmjs.org/nosuchpkg-zz - Not found\n";
        assert_eq!(diagnose(old).package.as_deref(), Some("nosuchpkg-zz"));
        let registry = "npm ERR! 404  'nosuchpkg-zz@1.0.0' is not in this registry.\n";
        assert_eq!(
            diagnose(registry).package.as_deref(),
            Some("nosuchpkg-zz@1.0.0")
        );
        let target = "npm error code ETARGET\n\
npm error notarget No matching version found for left-pad@99.0.0.\n";
        assert_eq!(
            diagnose(target),
            d(
                "left-pad@99.0.0",
                "no matching version found in the registry"
            )
        );
    }

    #[test]
    fn go_names_the_module_that_cannot_be_fetched() {
        assert_eq!(
            diagnose("go: example.invalid/nosuch@v1.0.0: module lookup disabled by GOPROXY=off\n"),
            d(
                "example.invalid/nosuch@v1.0.0",
                "module lookup disabled by GOPROXY=off"
            )
        );
        assert_eq!(
            diagnose(
                "go: finding module for package example.invalid/x/pkg\n\
m.go:2:8: cannot find module providing package example.invalid/x/pkg: module lookup disabled by GOPROXY=off\n"
            ),
            d(
                "example.invalid/x/pkg",
                "cannot find module providing package: module lookup disabled by GOPROXY=off"
            )
        );
        let toolchain =
            diagnose("go: go.mod requires go >= 1.22 (running go 1.19.8; GOTOOLCHAIN=local)\n");
        assert_eq!(toolchain.package, None);
        assert_eq!(
            toolchain.reason.as_deref(),
            Some("go.mod requires go >= 1.22 (running go 1.19.8; GOTOOLCHAIN=local)")
        );
    }

    #[test]
    fn cargo_names_the_crate() {
        let out = "    Updating crates.io index\n\
error: no matching package named `flaky-absent-crate` found\nlocation searched: crates.io index\n";
        assert_eq!(
            diagnose(out),
            d(
                "flaky-absent-crate",
                "no matching package named `flaky-absent-crate` found"
            )
        );
        let version =
            "error: failed to select a version for the requirement `serde = \"=0.0.999\"`\n";
        assert_eq!(
            diagnose(version).package.as_deref(),
            Some("serde = \"=0.0.999\"")
        );
    }

    #[test]
    fn an_unknown_tool_gives_its_last_error_line() {
        assert_eq!(
            diagnose("step 1\nfatal error: boom\nsummary: 1 failed\n"),
            Diagnosis {
                package: None,
                reason: Some("fatal error: boom".into())
            }
        );
        assert_eq!(diagnose(""), Diagnosis::default());
    }
}
