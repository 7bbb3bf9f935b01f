//! `cargo test` built once: `cargo test --no-run --message-format=json` with the command's
//! options lists the test binaries it built; each run then starts them one after the other
//! in their package's directory (as Cargo does), with the command's test name filter and the
//! words after `--`, stopping at the first failing binary unless `--no-fail-fast`.
//!
//! Doc tests are compiled per run by rustdoc, so they cannot be built once: when the command
//! would run them, the summary's mode says they were not run.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::framework::build_once::script::{Step, sequence};
use crate::framework::build_once::{BuildContext, Invocation, inside, step};

/// Options taking a value: they go to the build.
const VALUE: [&str; 17] = [
    "-p",
    "--package",
    "--exclude",
    "-F",
    "--features",
    "--target",
    "--profile",
    "--test",
    "--bin",
    "--example",
    "--bench",
    "--manifest-path",
    "-j",
    "--jobs",
    "--color",
    "-Z",
    "--config",
];
/// Options without a value that go to the build.
const FLAG: [&str; 21] = [
    "--release",
    "-r",
    "--all-features",
    "--no-default-features",
    "--workspace",
    "--all",
    "--lib",
    "--bins",
    "--tests",
    "--benches",
    "--examples",
    "--all-targets",
    "-q",
    "--quiet",
    "-v",
    "-vv",
    "--verbose",
    "--locked",
    "--offline",
    "--frozen",
    "--ignore-rust-version",
];
/// Options that pick targets: with any of them Cargo runs no doc tests unless `--doc`.
const PICKS_TARGETS: [&str; 11] = [
    "--lib",
    "--bins",
    "--tests",
    "--benches",
    "--examples",
    "--all-targets",
    "--test",
    "--bin",
    "--example",
    "--bench",
    "--no-run",
];

/// A `cargo test` command taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CargoCommand {
    pub build_args: Vec<String>,
    /// The test name filter and the words after `--`, for every binary.
    pub binary_args: Vec<String>,
    pub no_fail_fast: bool,
    /// Cargo would also run doc tests, which are not built once.
    pub doc_tests: bool,
}

/// True when the command is `cargo test …`.
pub fn is_cargo_test(argv: &[String]) -> bool {
    argv.len() >= 2 && argv[0].rsplit('/').next() == Some("cargo") && argv[1] == "test"
}

/// Takes a `cargo test` command apart, or says which word is not understood.
pub fn parse(argv: &[String]) -> Result<CargoCommand, String> {
    if !is_cargo_test(argv) {
        return Err("the command is not `cargo test`".into());
    }
    let mut command = CargoCommand {
        doc_tests: true,
        ..Default::default()
    };
    let mut filter = Vec::new();
    let mut words = argv[2..].iter();
    while let Some(word) = words.next() {
        if word == "--" {
            filter.extend(words.by_ref().cloned());
            break;
        }
        if !word.starts_with('-') {
            filter.push(word.clone());
            continue;
        }
        let name = word.split_once('=').map_or(word.as_str(), |(n, _)| n);
        if PICKS_TARGETS.contains(&name) {
            command.doc_tests = false;
        }
        if name == "--no-fail-fast" {
            command.no_fail_fast = true;
            command.build_args.push(word.clone());
        } else if VALUE.contains(&name) {
            command.build_args.push(word.clone());
            if !word.contains('=') {
                let value = words
                    .next()
                    .ok_or_else(|| format!("cargo test option `{word}` has no value"))?;
                command.build_args.push(value.clone());
            }
        } else if FLAG.contains(&name) {
            command.build_args.push(word.clone());
        } else {
            return Err(format!("cargo test option `{word}` is not understood"));
        }
    }
    command.binary_args = filter;
    Ok(command)
}

/// One test binary Cargo built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CargoBinary {
    pub executable: PathBuf,
    /// The package's directory relative to the checkout root (where Cargo runs it).
    pub dir: PathBuf,
}

/// The test binaries of a job.
#[derive(Debug, Clone)]
pub struct CargoBuilt {
    pub binaries: Vec<CargoBinary>,
    pub command: CargoCommand,
}

#[derive(Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    executable: Option<PathBuf>,
    #[serde(default)]
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    test: bool,
}

/// Builds the command's test binaries with `cargo test --no-run` and lists them.
pub async fn build(ctx: &BuildContext<'_>) -> Result<CargoBuilt, String> {
    let command = parse(ctx.argv)?;
    let mut args = vec![
        "test".to_string(),
        "--no-run".into(),
        "--message-format=json".into(),
    ];
    args.extend(command.build_args.iter().cloned());
    let listed = step(ctx, &ctx.argv[0], args, "cargo test --no-run")
        .await?
        .stdout;
    let binaries = test_binaries(&listed, ctx.checkout)?;
    if binaries.is_empty() {
        return Err("cargo test --no-run built no test binary".into());
    }
    Ok(CargoBuilt { binaries, command })
}

/// The test executables in Cargo's JSON messages, in the order Cargo would run them.
fn test_binaries(messages: &str, checkout: &Path) -> Result<Vec<CargoBinary>, String> {
    let mut binaries = Vec::new();
    for line in messages.lines().filter(|l| l.starts_with('{')) {
        let Ok(message) = serde_json::from_str::<Message>(line) else {
            continue;
        };
        let is_test = message.profile.as_ref().is_some_and(|p| p.test);
        let (Some(executable), Some(manifest)) = (message.executable, message.manifest_path) else {
            continue;
        };
        if message.reason != "compiler-artifact" || !is_test {
            continue;
        }
        let package_dir = manifest.parent().unwrap_or(Path::new("/"));
        let Some(dir) = inside(checkout, package_dir) else {
            return Err(format!(
                "package {} lies outside the checkout",
                manifest.display()
            ));
        };
        binaries.push(CargoBinary { executable, dir });
    }
    binaries.sort_by(|a, b| (&a.dir, &a.executable).cmp(&(&b.dir, &b.executable)));
    binaries.dedup();
    Ok(binaries)
}

impl CargoBuilt {
    pub fn describe(&self) -> String {
        let n = self.binaries.len();
        let what = if n == 1 {
            "cargo test binary".to_string()
        } else {
            format!("cargo test binaries ({n})")
        };
        if self.command.doc_tests {
            format!("{what}, doc tests not run")
        } else {
            what
        }
    }

    /// Every binary in its package's directory under `root`, with `CARGO_MANIFEST_DIR`
    /// pointing there as Cargo sets it.
    pub fn invocation(&self, argv: &[String], root: &Path) -> Option<Invocation> {
        let command = parse(argv).ok()?;
        let steps: Vec<Step> = self
            .binaries
            .iter()
            .map(|binary| {
                let cwd = root.join(&binary.dir);
                Step {
                    env: vec![("CARGO_MANIFEST_DIR".into(), cwd.display().to_string())],
                    cwd,
                    program: binary.executable.display().to_string(),
                    args: command.binary_args.clone(),
                }
            })
            .collect();
        Some(sequence(&steps, !command.no_fail_fast, 101, root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &str) -> Vec<String> {
        shlex::split(command).expect("test command splits")
    }

    #[test]
    fn options_go_to_the_build_and_filters_to_the_binaries() {
        let command = parse(&words(
            "cargo test --release -p ledger --features x ledger_ -- --test-threads=1",
        ))
        .expect("parsed");
        assert_eq!(
            command.build_args,
            words("--release -p ledger --features x")
        );
        assert_eq!(command.binary_args, words("ledger_ --test-threads=1"));
        assert!(command.doc_tests);
        assert!(
            !parse(&words("cargo test --tests"))
                .expect("parsed")
                .doc_tests
        );
    }

    #[test]
    fn unknown_options_are_refused_with_the_word() {
        let reason = parse(&words("cargo test --doc")).expect_err("refused");
        assert!(reason.contains("--doc"), "{reason}");
        assert!(parse(&words("cargo nextest run")).is_err());
    }

    #[test]
    fn test_executables_are_read_from_cargo_messages() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("sub")).expect("mkdir");
        let messages = format!(
            "{{\"reason\":\"compiler-artifact\",\"manifest_path\":\"{r}/sub/Cargo.toml\",\"profile\":{{\"test\":true}},\"executable\":\"/t/deps/sub-1\"}}\n\
             {{\"reason\":\"compiler-artifact\",\"manifest_path\":\"{r}/Cargo.toml\",\"profile\":{{\"test\":false}},\"executable\":null}}\n\
             {{\"reason\":\"build-finished\",\"success\":true}}\n",
            r = root.display()
        );
        let binaries = test_binaries(&messages, root).expect("listed");
        assert_eq!(
            binaries,
            [CargoBinary {
                executable: "/t/deps/sub-1".into(),
                dir: "sub".into()
            }]
        );
    }
}
