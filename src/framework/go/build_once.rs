//! `go test` built once: each package's test binary from `go test -c` (with the command's
//! build flags), then per run the binary with the equivalent `-test.*` flags in the
//! package's directory, through `test2json` when the run asks for `-json`, so per-test
//! attribution reads the same events as a plain `go test -json`.
//!
//! What differs from a plain run, on purpose: `go vet`'s pre-test checks are not repeated per
//! run (they do not depend on the seed), and test flags in `GOFLAGS` are not read (build
//! flags there still apply to the build).

use std::path::{Path, PathBuf};

use crate::framework::build_once::script::{Step, sequence};
use crate::framework::build_once::{BuildContext, Invocation, inside, step};

/// Build flags taking a value: they go to `go list` and `go test -c`.
const BUILD_VALUE: [&str; 14] = [
    "tags",
    "ldflags",
    "gcflags",
    "asmflags",
    "mod",
    "modfile",
    "compiler",
    "gccgoflags",
    "installsuffix",
    "overlay",
    "covermode",
    "coverpkg",
    "p",
    "pgo",
];
/// Build flags without a value (a `=true`/`=false` form is kept as written).
const BUILD_BOOL: [&str; 9] = [
    "race",
    "msan",
    "asan",
    "trimpath",
    "cover",
    "a",
    "linkshared",
    "buildvcs",
    "work",
];
/// Test flags taking a value: passed to the binary as `-test.<name>=<value>`.
const TEST_VALUE: [&str; 9] = [
    "run",
    "skip",
    "count",
    "timeout",
    "parallel",
    "cpu",
    "shuffle",
    "bench",
    "benchtime",
];
/// Test flags without a value.
const TEST_BOOL: [&str; 4] = ["v", "short", "failfast", "benchmem"];

/// A `go test` command taken apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoCommand {
    pub build_flags: Vec<String>,
    pub packages: Vec<String>,
    /// Flags for the test binary, already in `-test.*` form.
    pub test_flags: Vec<String>,
    pub json: bool,
    /// Words after `-args`, handed to the binary as they are.
    pub binary_args: Vec<String>,
}

/// True when the command is `go test …` (the program named `go`, a path allowed).
pub fn is_go_test(argv: &[String]) -> bool {
    argv.len() >= 2 && argv[0].rsplit('/').next() == Some("go") && argv[1] == "test"
}

/// Takes a `go test` command apart, or says which word is not understood.
pub fn parse(argv: &[String]) -> Result<GoCommand, String> {
    if !is_go_test(argv) {
        return Err("the command is not `go test`".into());
    }
    let mut command = GoCommand::default();
    let mut words = argv[2..].iter();
    while let Some(word) = words.next() {
        if !word.starts_with('-') || word == "-" {
            if word.ends_with(".go") {
                return Err(format!(
                    "go test of single files (`{word}`) is not built once"
                ));
            }
            command.packages.push(word.clone());
            continue;
        }
        let bare = word.trim_start_matches('-');
        if bare == "args" {
            command.binary_args.extend(words.by_ref().cloned());
            break;
        }
        let (name, inline) = match bare.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (bare, None),
        };
        let mut value = || -> Result<String, String> {
            match &inline {
                Some(value) => Ok(value.clone()),
                None => words
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("go test flag `-{name}` has no value")),
            }
        };
        if BUILD_VALUE.contains(&name) {
            let value = value()?;
            command.build_flags.push(format!("-{name}={value}"));
        } else if BUILD_BOOL.contains(&name) {
            command.build_flags.push(word.clone());
        } else if TEST_VALUE.contains(&name) {
            let value = value()?;
            command.test_flags.push(format!("-test.{name}={value}"));
        } else if TEST_BOOL.contains(&name) {
            match &inline {
                Some(v) => command.test_flags.push(format!("-test.{name}={v}")),
                None => command.test_flags.push(format!("-test.{name}")),
            }
        } else if name == "json" {
            command.json = inline.as_deref() != Some("false");
        } else {
            return Err(format!("go test flag `{word}` is not understood"));
        }
    }
    if command.packages.is_empty() {
        command.packages.push(".".into());
    }
    Ok(command)
}

/// One package's test binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoPackage {
    pub import_path: String,
    /// The package's directory relative to the checkout root.
    pub dir: PathBuf,
    pub binary: PathBuf,
}

/// The binaries of a job and the `test2json` converter next to them.
#[derive(Debug, Clone)]
pub struct GoBuilt {
    pub packages: Vec<GoPackage>,
    pub test2json: String,
    /// Packages named by the command that have no test files (plain `go test` skips them too).
    pub without_tests: usize,
}

/// Lists the command's packages and builds the test binary of each one that has tests.
pub async fn build(ctx: &BuildContext<'_>) -> Result<GoBuilt, String> {
    let command = parse(ctx.argv)?;
    let go = ctx.argv[0].clone();
    let tool_dir = step(
        ctx,
        &go,
        vec!["env".into(), "GOTOOLDIR".into()],
        "go env GOTOOLDIR",
    )
    .await?
    .stdout;
    let test2json = Path::new(tool_dir.trim()).join("test2json");
    if !test2json.is_file() {
        return Err(format!("{} is missing", test2json.display()));
    }
    let mut list = vec!["list".into()];
    list.extend(command.build_flags.iter().cloned());
    list.push("-f".into());
    list.push("{{.ImportPath}}\t{{.Dir}}\t{{len .TestGoFiles}}\t{{len .XTestGoFiles}}".into());
    list.extend(command.packages.iter().cloned());
    let listed = step(ctx, &go, list, "go list").await?.stdout;
    let dir = ctx.out_dir.join("go");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut packages = Vec::new();
    let mut without_tests = 0;
    for line in listed.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [import_path, pkg_dir, tests, xtests] = fields[..] else {
            return Err(format!("go list printed an unexpected line: {line}"));
        };
        if tests == "0" && xtests == "0" {
            without_tests += 1;
            continue;
        }
        let Some(rel) = inside(ctx.checkout, Path::new(pkg_dir)) else {
            return Err(format!("package {import_path} lies outside the checkout"));
        };
        let binary = dir.join(format!("{}.test", packages.len()));
        let mut args = vec!["test".into(), "-c".into(), "-o".into()];
        args.push(binary.display().to_string());
        args.extend(command.build_flags.iter().cloned());
        args.push(import_path.to_string());
        step(ctx, &go, args, &format!("go test -c {import_path}")).await?;
        if !binary.is_file() {
            return Err(format!("go test -c {import_path} wrote no binary"));
        }
        packages.push(GoPackage {
            import_path: import_path.to_string(),
            dir: rel,
            binary,
        });
    }
    if packages.is_empty() {
        return Err("no package of the command has test files".into());
    }
    Ok(GoBuilt {
        packages,
        test2json: test2json.display().to_string(),
        without_tests,
    })
}

impl GoBuilt {
    pub fn describe(&self) -> String {
        match self.packages.len() {
            1 => "go test binary".into(),
            n => format!("go test binaries ({n} packages)"),
        }
    }

    /// Each package's binary in its directory under `root`, with the run's test flags.
    pub fn invocation(&self, argv: &[String], root: &Path) -> Option<Invocation> {
        let command = parse(argv).ok()?;
        let steps: Vec<Step> = self
            .packages
            .iter()
            .map(|package| {
                let mut args = Vec::new();
                let mut program = package.binary.display().to_string();
                if command.json {
                    args.extend(["-t".into(), "-p".into(), package.import_path.clone()]);
                    args.push(program);
                    program = self.test2json.clone();
                    args.push("-test.v=true".into());
                }
                args.extend(command.test_flags.iter().cloned());
                args.extend(command.binary_args.iter().cloned());
                Step {
                    cwd: root.join(&package.dir),
                    env: Vec::new(),
                    program,
                    args,
                }
            })
            .collect();
        Some(sequence(&steps, false, 1, root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(command: &str) -> Vec<String> {
        shlex::split(command).expect("test command splits")
    }

    #[test]
    fn build_and_test_flags_go_where_they_belong() {
        let command = parse(&words(
            "go test -tags integration -race -run 'TestA|TestB' -count=3 -v -json -shuffle=7 ./pkg/... -args -x 1",
        ))
        .expect("parsed");
        assert_eq!(command.build_flags, words("-tags=integration -race"));
        assert_eq!(
            command.test_flags,
            words("-test.run=TestA|TestB -test.count=3 -test.v -test.shuffle=7")
        );
        assert!(command.json);
        assert_eq!(command.packages, words("./pkg/..."));
        assert_eq!(command.binary_args, words("-x 1"));
    }

    #[test]
    fn no_package_means_the_current_one() {
        assert_eq!(parse(&words("go test")).expect("parsed").packages, ["."]);
    }

    #[test]
    fn unknown_flags_and_files_are_refused_with_the_word() {
        let reason = parse(&words("go test -exec=sudo ./...")).expect_err("refused");
        assert!(reason.contains("-exec=sudo"), "{reason}");
        assert!(parse(&words("go test a_test.go")).is_err());
        assert!(parse(&words("go test -run")).is_err());
        assert!(parse(&words("go vet ./...")).is_err());
    }
}
