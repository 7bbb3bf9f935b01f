//! What the machine's `go` can do for a quarantine ([`skip_supported`]) and, where it cannot
//! skip, the test names `-run` must list instead ([`top_level_tests`]). `go test -skip` came
//! with Go 1.20; Debian 12's Go is 1.19, where the only way to leave a test out is to run
//! all the others by name. Blocking: both start `go`.

use std::path::Path;
use std::process::{Command, Stdio};

/// True when `go version` in `dir` says 1.20 or later.
pub fn skip_supported(dir: &Path) -> bool {
    let output = Command::new("go")
        .args(["env", "GOVERSION"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output();
    output
        .ok()
        .and_then(|o| parse_version(&String::from_utf8_lossy(&o.stdout)))
        .is_some_and(|(major, minor)| (major, minor) >= (1, 20))
}

/// `go1.19.8` as (1, 19).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.trim().strip_prefix("go")?;
    let mut parts = rest.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Every top-level test, example, benchmark and fuzz test of the module in `dir`, as
/// `go test -list . ./...` names them (it builds the tests, not runs them).
pub fn top_level_tests(dir: &Path) -> std::io::Result<Vec<String>> {
    let output = Command::new("go")
        .args(["test", "-list", ".", "./..."])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let first = stderr.lines().next().unwrap_or("no output");
        return Err(std::io::Error::other(format!(
            "`go test -list . ./...` failed: {first}"
        )));
    }
    Ok(parse_list(&String::from_utf8_lossy(&output.stdout)))
}

fn parse_list(text: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for line in text.lines().map(str::trim) {
        let is_name = ["Test", "Example", "Benchmark", "Fuzz"]
            .iter()
            .any(|p| line.starts_with(p))
            && line.chars().all(|c| c.is_alphanumeric() || c == '_');
        if is_name && !names.iter().any(|n| n == line) {
            names.push(line.to_string());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_lists_are_read() {
        assert_eq!(parse_version("go1.19.8\n"), Some((1, 19)));
        assert_eq!(parse_version("go1.22rc1"), Some((1, 22)));
        assert_eq!(parse_version("devel"), None);
        let list = "TestA\nExampleB\nok  \texample.com/m\t0.002s\nTestA\n?   \texample.com/m/x\t[no test files]\n";
        assert_eq!(parse_list(list), ["TestA", "ExampleB"]);
    }
}
