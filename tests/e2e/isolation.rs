//! Hermetic runs (issue 7, items 1-2): real jobs through `detect()` on local repositories,
//! whose test scripts write to fixed files, record their environment and wait for each other
//! so that "these runs were in flight together" is a fact, not a hope.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use flaky_detector::config::Isolation;
use flaky_detector::runner::isolation::Mechanism;
use flaky_detector::runner::isolation::mechanism::FORCE_VARIABLE;
use flaky_detector::runner::isolation::overlay::OverlayBase;
use flaky_detector::{Deps, Events, JobInput, Knobs, RepoPolicy, Summary, detect};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// Waits (up to a minute, polling) until `$BARRIER` holds at least `$1` arrivals, this run's
/// included. Sourced by the fixtures.
const BARRIER: &str = r#"
arrive() {
    touch "$BARRIER/$FLAKY_RUN_INDEX"
    n=0
    while [ "$(ls "$BARRIER" | wc -l)" -lt "$1" ]; do
        n=$((n + 1))
        if [ "$n" -gt 600 ]; then echo "barrier: gave up waiting for $1 runs" >&2; exit 2; fi
        sleep 0.1
    done
}
"#;

/// The issue's example: write my pid to a fixed file in the working directory, wait until
/// another run has started too (so in a shared directory it has overwritten mine), read it
/// back.
const PID_TEST: &str = r#"
. ./barrier.sh
echo $$ > state.txt
arrive 2
sleep 0.05
[ "$(cat state.txt)" = "$$" ] || { echo "state.txt holds $(cat state.txt), not $$" >&2; exit 1; }
"#;

/// Records what a run sees, then waits until all four runs are in flight.
const ENV_TEST: &str = r#"
. ./barrier.sh
set -e
out="$RECORD/$FLAKY_RUN_INDEX"
echo probe > "$TMPDIR/probe"
echo probe > "$XDG_CACHE_HOME/probe"
{
    echo "tmp=$TMPDIR"
    echo "cache=$XDG_CACHE_HOME"
    echo "home=$HOME"
    echo "ports=$FLAKY_PORT_BASE"
    echo "slot=$FLAKY_SLOT"
    echo "cwd=$(pwd)"
    echo "readme=$(cat README)"
} > "$out.part"
mv "$out.part" "$out"
arrive 4
"#;

/// Fails unless its working directory is exactly the repository, then changes it in every
/// way a test might: a slot copy must be reset between runs.
const MUTATE_TEST: &str = r#"
set -e
fail() { echo "$1" >&2; exit 1; }
[ "$(cat tracked.txt)" = "original" ] || fail "tracked.txt is $(cat tracked.txt)"
[ ! -e added.txt ] || fail "added.txt survived a previous run"
[ ! -e newdir ] || fail "newdir survived a previous run"
[ -f doomed.txt ] || fail "doomed.txt is missing"
[ -x tool.sh ] || fail "tool.sh lost its x bit"
[ "$(cat node_modules/pkg/index.js)" = "module.exports = 1;" ] || fail "index.js changed"
[ ! -e node_modules/.cache ] || fail "node_modules/.cache survived"
pwd > "$RECORD/$FLAKY_RUN_INDEX"
echo "changed by run $FLAKY_RUN_INDEX" >> tracked.txt
echo x > added.txt
mkdir -p newdir/deep && echo y > newdir/deep/f
rm doomed.txt
chmod -x tool.sh
mkdir -p node_modules/.cache && echo c > node_modules/.cache/entry
echo "module.exports = 2;" > node_modules/pkg/index.js.new
mv node_modules/pkg/index.js.new node_modules/pkg/index.js
"#;

/// Fails unless its TMPDIR, cache folder and (when `$OWN_HOME` is set) the top of its HOME
/// are as a fresh run finds them, then leaves things in all of them.
const SCRATCH_TEST: &str = r#"
set -e
fail() { echo "$1" >&2; exit 1; }
[ -z "$(ls -A "$TMPDIR")" ] || fail "TMPDIR holds $(ls -A "$TMPDIR")"
[ -z "$(ls -A "$XDG_CACHE_HOME")" ] || fail "the cache holds $(ls -A "$XDG_CACHE_HOME")"
echo left > "$TMPDIR/left" && mkdir "$TMPDIR/dir" && echo left > "$TMPDIR/dir/f"
echo left > "$XDG_CACHE_HOME/left"
if [ -n "$OWN_HOME" ]; then
    [ ! -e "$HOME/$STATE_NAME" ] || fail "HOME holds the state of an earlier run"
    [ -e "$HOME/.cache/left" ] || fail "HOME/.cache is not the run's cache"
    mkdir "$HOME/$STATE_NAME" && echo $$ > "$HOME/$STATE_NAME/state"
fi
"#;

/// A local repository holding `files`.
fn repository(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    }
    dir
}

/// Scratch and cache directories of the test's own.
struct Sandbox {
    work: TempDir,
    cache: TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox::named("flaky-work")
    }

    /// A sandbox whose work directory (where checkouts go) has `prefix` in its name.
    fn named(prefix: &str) -> Sandbox {
        Sandbox {
            work: tempfile::Builder::new()
                .prefix(prefix)
                .tempdir()
                .expect("tempdir"),
            cache: tempfile::tempdir().expect("tempdir"),
        }
    }

    async fn detect(&self, input: JobInput) -> Summary {
        self.try_detect(input).await.expect("the job runs")
    }

    async fn try_detect(&self, input: JobInput) -> Result<Summary, String> {
        let job = input
            .validate(RepoPolicy { allow_local: true })
            .expect("valid job");
        let deps = Deps {
            clone_timeout: Duration::from_secs(60),
            kill_grace: Duration::from_secs(1),
            ..crate::support::jobs::deps_in(self.work.path(), self.cache.path())
        };
        detect(job, &deps, &Events::none(), &CancellationToken::new())
            .await
            .map_err(|e| flaky_detector::errors::one_line(&e))
    }

    /// Jobs remove their scratch directories unless asked to keep them.
    fn leftovers(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.work.path())
            .expect("read work dir")
            .map(|e| e.expect("entry").path())
            .collect()
    }
}

fn job(repo: &Path, command: &str, runs: u32, parallelism: u32) -> JobInput {
    JobInput {
        repo: repo.display().to_string(),
        knobs: Knobs {
            test_command: Some(command.to_string()),
            runs: Some(runs),
            parallelism: Some(parallelism),
            timeout: Some(120.0),
            ..Knobs::default()
        },
        ..JobInput::default()
    }
}

fn with_env(mut input: JobInput, vars: &[(&str, &Path)]) -> JobInput {
    input.env = Some(
        vars.iter()
            .map(|(k, v)| (k.to_string(), v.display().to_string()))
            .collect(),
    );
    input
}

/// `input` with `mechanism` forced through the run environment, as an operator would.
fn forcing(mut input: JobInput, mechanism: Option<&str>) -> JobInput {
    if let Some(mechanism) = mechanism {
        input
            .env
            .get_or_insert_with(BTreeMap::new)
            .insert(FORCE_VARIABLE.to_string(), mechanism.to_string());
    }
    input
}

/// Whether this machine lets a process mount an overlay in a namespace of its own; the
/// overlay cases are skipped (and say so) where it does not.
fn overlay_works() -> bool {
    let (checkout, scratch) = (
        tempfile::tempdir().expect("tempdir"),
        tempfile::tempdir().expect("tempdir"),
    );
    match OverlayBase::probe(checkout.path(), scratch.path()) {
        Ok(_) => true,
        Err(reason) => {
            // build.rs found overlays working: a probe failing now is a fault, not a skip.
            if cfg!(has_overlay) {
                panic!("build.rs probed overlay mounts as working (has_overlay), yet: {reason}");
            }
            eprintln!("skipping the overlay case: {reason}");
            false
        }
    }
}

/// The mechanisms a `run` mode job can be given here, forced by name.
fn forced_mechanisms() -> Vec<(&'static str, Mechanism)> {
    let mut all = vec![("copy", Mechanism::Copy), ("slot", Mechanism::Slot)];
    if overlay_works() {
        all.insert(0, ("overlay", Mechanism::Overlay));
    }
    all
}

fn failures_text(summary: &Summary) -> String {
    summary
        .results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| format!("run {}: {}{}", r.attempt, r.stdout, r.stderr))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The issue's acceptance test, first half: in one shared directory, concurrent runs of a
/// test that passes alone overwrite each other's state, and the seed project's behaviour
/// blames the test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_directory_makes_a_sound_test_fail() {
    let repo = repository(&[("pid.sh", PID_TEST), ("barrier.sh", BARRIER)]);
    let barrier = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new();
    let mut input = job(repo.path(), "sh pid.sh", 8, 4);
    input.knobs.isolation = Some(Isolation::Shared);
    let summary = sandbox
        .detect(with_env(input, &[("BARRIER", barrier.path())]))
        .await;
    assert_eq!(summary.total_runs, 8);
    assert!(
        summary.failures >= 1,
        "a shared state.txt must be overwritten by a concurrent run"
    );
    assert!(
        failures_text(&summary).contains("state.txt holds"),
        "{}",
        failures_text(&summary)
    );
}

/// Second half: with the default isolation the same test never fails in 100 runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_isolation_never_fails_a_sound_test() {
    let repo = repository(&[("pid.sh", PID_TEST), ("barrier.sh", BARRIER)]);
    let barrier = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new();
    let summary = sandbox
        .detect(with_env(
            job(repo.path(), "sh pid.sh", 100, 4),
            &[("BARRIER", barrier.path())],
        ))
        .await;
    assert_eq!(summary.total_runs, 100);
    assert_eq!(summary.failures, 0, "{}", failures_text(&summary));
    let expected = if overlay_works() {
        Mechanism::Overlay
    } else {
        summary.isolation_mechanism.unwrap_or(Mechanism::Shared)
    };
    assert_eq!(summary.isolation_mechanism, Some(expected));
    assert_ne!(summary.isolation_mechanism, Some(Mechanism::Shared));
    assert!(
        !repo.path().join("state.txt").exists(),
        "the user's tree is never written"
    );
    assert!(sandbox.leftovers().is_empty(), "{:?}", sandbox.leftovers());
}

/// Issue 10: whatever the mechanism, a run writing the same file as the runs in flight with
/// it never fails because of them, and the job names the mechanism it used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mechanism_keeps_concurrent_writes_apart() {
    let repo = repository(&[("pid.sh", PID_TEST), ("barrier.sh", BARRIER)]);
    for (name, mechanism) in forced_mechanisms() {
        let barrier = tempfile::tempdir().expect("tempdir");
        let sandbox = Sandbox::new();
        let input = with_env(
            job(repo.path(), "sh pid.sh", 16, 4),
            &[("BARRIER", barrier.path())],
        );
        let summary = sandbox.detect(forcing(input, Some(name))).await;
        assert_eq!(summary.isolation_mechanism, Some(mechanism), "{name}");
        assert_eq!(summary.failures, 0, "{name}: {}", failures_text(&summary));
        assert!(!repo.path().join("state.txt").exists(), "{name}");
        assert!(
            sandbox.leftovers().is_empty(),
            "{name}: {:?}",
            sandbox.leftovers()
        );
    }
}

/// Issue 10: where the overlay cannot be mounted (here: a checkout path overlay's options
/// cannot hold), the job falls back to slots (the cheapest copying mechanism, issue 22),
/// says so, and still keeps every run from seeing the others' writes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_overlay_falls_back_and_the_summary_says_which() {
    let repo = repository(&[("pid.sh", PID_TEST), ("barrier.sh", BARRIER)]);
    let barrier = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::named("flaky,work");
    let input = with_env(
        job(repo.path(), "sh pid.sh", 8, 4),
        &[("BARRIER", barrier.path())],
    );
    let summary = sandbox.detect(input).await;
    assert_eq!(summary.isolation_mechanism, Some(Mechanism::Slot));
    assert_eq!(summary.failures, 0, "{}", failures_text(&summary));

    // Asking for the overlay there is an error that says why, not a silent fallback.
    let input = with_env(
        job(repo.path(), "sh pid.sh", 2, 2),
        &[("BARRIER", barrier.path())],
    );
    let error = sandbox
        .try_detect(forcing(input, Some("overlay")))
        .await
        .expect_err("the overlay cannot be mounted on this path");
    assert!(error.contains("overlay"), "{error}");
}

/// Issue 10: a mistyped mechanism is a one-line error naming the variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_mechanism_is_a_clear_error() {
    let repo = repository(&[("ok.sh", "true\n")]);
    let sandbox = Sandbox::new();
    let error = sandbox
        .try_detect(forcing(job(repo.path(), "sh ok.sh", 2, 1), Some("fast")))
        .await
        .expect_err("an unknown mechanism");
    assert!(
        error.contains(FORCE_VARIABLE) && error.contains("`fast`"),
        "{error}"
    );
}

/// What four runs in flight together recorded, by run index.
async fn concurrent_views(
    isolation: Isolation,
    mechanism: Option<&str>,
) -> Vec<BTreeMap<String, String>> {
    let repo = repository(&[
        ("env.sh", ENV_TEST),
        ("barrier.sh", BARRIER),
        ("README", "the repository"),
    ]);
    let (barrier, record) = (
        tempfile::tempdir().expect("tmp"),
        tempfile::tempdir().expect("tmp"),
    );
    let sandbox = Sandbox::new();
    let mut input = job(repo.path(), "sh env.sh", 4, 4);
    input.knobs.isolation = Some(isolation);
    let input = with_env(
        input,
        &[("BARRIER", barrier.path()), ("RECORD", record.path())],
    );
    let summary = sandbox.detect(forcing(input, mechanism)).await;
    assert_eq!(summary.failures, 0, "{}", failures_text(&summary));
    (0..4)
        .map(|i| {
            let text = std::fs::read_to_string(record.path().join(i.to_string())).expect("record");
            text.lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

fn distinct(views: &[BTreeMap<String, String>], key: &str) -> usize {
    views
        .iter()
        .map(|v| v[key].clone())
        .collect::<BTreeSet<_>>()
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_runs_have_their_own_tmp_cache_home_ports_and_checkout() {
    let real_home = std::env::var("HOME").unwrap_or_default();
    let mut cases = vec![
        (Isolation::Run, None),
        (Isolation::Slot, None),
        (Isolation::Shared, None),
    ];
    cases.extend(
        forced_mechanisms()
            .into_iter()
            .map(|(name, _)| (Isolation::Run, Some(name))),
    );
    for (isolation, mechanism) in cases {
        let views = concurrent_views(isolation, mechanism).await;
        // An overlay shows each run the checkout at its own path: one path, four views.
        let overlay = mechanism == Some("overlay")
            || (isolation == Isolation::Run && mechanism.is_none() && overlay_works());
        for key in ["tmp", "cache", "ports", "slot"] {
            assert_eq!(distinct(&views, key), 4, "{isolation:?} {key}: {views:?}");
        }
        let slots: BTreeSet<&str> = views.iter().map(|v| v["slot"].as_str()).collect();
        assert_eq!(slots, BTreeSet::from(["0", "1", "2", "3"]), "{isolation:?}");
        let mut ports: Vec<u32> = views
            .iter()
            .map(|v| v["ports"].parse().expect("a port number"))
            .collect();
        ports.sort_unstable();
        assert!(ports[0] >= 20_000 && ports[3] + 99 < 32_768, "{ports:?}");
        assert!(
            ports.windows(2).all(|w| w[1] - w[0] >= 100),
            "port ranges overlap: {ports:?}"
        );
        for view in &views {
            assert_eq!(view["readme"], "the repository", "{isolation:?}");
        }
        if isolation == Isolation::Shared {
            assert_eq!(distinct(&views, "cwd"), 1, "{views:?}");
            assert!(views.iter().all(|v| v["home"] == real_home));
        } else {
            let cwds = if overlay { 1 } else { 4 };
            assert_eq!(distinct(&views, "cwd"), cwds, "{isolation:?}: {views:?}");
            assert_eq!(distinct(&views, "home"), 4, "{isolation:?}: {views:?}");
            assert!(views.iter().all(|v| v["home"] != real_home));
        }
    }
}

/// Every run finds the repository as it was, whatever the runs before it did: a slot's copy
/// is reset (two copies serve twelve runs), a run's copy is fresh (made ahead of the run, or
/// per run when preserving), and the prepared checkout is never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_copies_are_reset_between_runs_and_run_copies_are_fresh() {
    let files = [
        ("mutate.sh", MUTATE_TEST),
        ("tracked.txt", "original\n"),
        ("doomed.txt", "doomed\n"),
        ("tool.sh", "#!/bin/sh\n"),
        ("node_modules/pkg/index.js", "module.exports = 1;\n"),
    ];
    let mut cases = vec![
        (Isolation::Slot, None, 12, true),
        (Isolation::Run, Some("copy"), 12, false),
        (Isolation::Run, Some("slot"), 12, false),
        (Isolation::Run, None, 6, true),
    ];
    if overlay_works() {
        cases.push((Isolation::Run, Some("overlay"), 12, false));
    }
    for (isolation, mechanism, runs, preserve) in cases {
        let repo = repository(&files);
        if preserve {
            std::fs::write(
                repo.path().join(".flaky-detector.yml"),
                "preserve_temp_dir: true\n",
            )
            .expect("write config");
        }
        std::fs::set_permissions(
            repo.path().join("tool.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let record = tempfile::tempdir().expect("tempdir");
        let sandbox = Sandbox::new();
        let mut input = job(repo.path(), "sh mutate.sh", runs, 2);
        input.knobs.isolation = Some(isolation);
        let input = with_env(input, &[("RECORD", record.path())]);
        let summary = sandbox.detect(forcing(input, mechanism)).await;
        let case = format!("{isolation:?} {mechanism:?}, preserve {preserve}");
        assert_eq!(summary.failures, 0, "{case}: {}", failures_text(&summary));
        let cwds: BTreeSet<String> = (0..runs)
            .map(|i| std::fs::read_to_string(record.path().join(i.to_string())).expect("cwd"))
            .collect();
        // Slots reuse two copies; an overlay shows every run the checkout at its own path.
        let expected = match (isolation, mechanism) {
            (Isolation::Slot, _) | (_, Some("slot")) => 2,
            (_, Some("overlay")) => 1,
            _ => runs as usize,
        };
        assert_eq!(cwds.len(), expected, "{case}: {cwds:?}");
        if !preserve {
            assert!(summary.temp_dir.is_none());
            assert!(sandbox.leftovers().is_empty(), "{:?}", sandbox.leftovers());
            continue;
        }
        let kept = PathBuf::from(summary.temp_dir.clone().expect("preserve_temp_dir"));
        let prepared = kept.join("checkout");
        assert_eq!(
            std::fs::read_to_string(prepared.join("tracked.txt")).expect("read"),
            "original\n"
        );
        assert_eq!(
            std::fs::read_to_string(prepared.join("node_modules/pkg/index.js")).expect("read"),
            "module.exports = 1;\n"
        );
        assert!(!prepared.join("added.txt").exists());
        assert!(!prepared.join("node_modules/.cache").exists());
        if isolation == Isolation::Run {
            let changed = kept.join("runs/run-0/checkout/tracked.txt");
            assert!(
                std::fs::read_to_string(changed)
                    .expect("run 0's copy is kept")
                    .contains("changed by run 0"),
                "a preserved run copy shows what the run did"
            );
        }
    }
}

/// Issue 10: a slot's next run keeps the previous run's overlay only when that run wrote
/// nothing through it (its upper folder is empty); after a run that wrote, the next one gets
/// a fresh overlay. Every third run here writes nothing; each run records which upper folder
/// its checkout is mounted with.
#[cfg_attr(
    not(has_overlay),
    ignore = "needs overlay mounts (root, or unprivileged user namespaces)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlay_serves_again_only_after_a_run_that_wrote_nothing() {
    assert!(overlay_works(), "the runner's overlay probe fails");
    let script = MUTATE_TEST.replace(
        "echo \"changed by run",
        "grep -o 'upperdir=[^,]*' /proc/self/mountinfo | grep layer > \"$RECORD/$FLAKY_RUN_INDEX.layer\"\n\
         [ $((FLAKY_RUN_INDEX % 3)) != 0 ] || exit 0\n\
         touch \"$RECORD/$FLAKY_RUN_INDEX.wrote\"\n\
         echo \"changed by run",
    );
    let repo = repository(&[
        ("mutate.sh", script.as_str()),
        ("tracked.txt", "original\n"),
        ("doomed.txt", "doomed\n"),
        ("tool.sh", "#!/bin/sh\n"),
        ("node_modules/pkg/index.js", "module.exports = 1;\n"),
    ]);
    std::fs::set_permissions(
        repo.path().join("tool.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let record = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new();
    let runs = 24;
    let input = with_env(
        job(repo.path(), "sh mutate.sh", runs, 2),
        &[("RECORD", record.path())],
    );
    let summary = sandbox.detect(forcing(input, Some("overlay"))).await;
    assert_eq!(summary.failures, 0, "{}", failures_text(&summary));
    let mut writers: BTreeMap<String, u32> = BTreeMap::new();
    let mut layers = BTreeSet::new();
    for i in 0..runs {
        let layer = std::fs::read_to_string(record.path().join(format!("{i}.layer")))
            .expect("each run records its layer");
        assert!(layer.contains("layer-"), "{layer}");
        layers.insert(layer.clone());
        if record.path().join(format!("{i}.wrote")).exists() {
            *writers.entry(layer).or_default() += 1;
        }
    }
    assert!(
        writers.values().all(|&n| n == 1),
        "an overlay a run wrote through served another writer: {writers:?}"
    );
    assert!(
        layers.len() < runs as usize,
        "runs that wrote nothing leave their overlay to the next: {} layers",
        layers.len()
    );
    assert!(sandbox.leftovers().is_empty(), "{:?}", sandbox.leftovers());
}

/// Runs that follow each other in a slot reuse its scratch folders: each still finds them as
/// a fresh run would, and nothing reaches the real HOME.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_finds_empty_scratch_folders() {
    let repo = repository(&[("scratch.sh", SCRATCH_TEST)]);
    let state_name = format!(".flaky-isolation-test-{}", std::process::id());
    for isolation in [Isolation::Run, Isolation::Slot, Isolation::Shared] {
        let sandbox = Sandbox::new();
        let mut input = job(repo.path(), "sh scratch.sh", 8, 2);
        input.knobs.isolation = Some(isolation);
        let mut env = BTreeMap::from([("STATE_NAME".to_string(), state_name.clone())]);
        if isolation != Isolation::Shared {
            env.insert("OWN_HOME".into(), "1".into());
        }
        input.env = Some(env);
        let summary = sandbox.detect(input).await;
        assert_eq!(
            summary.failures,
            0,
            "{isolation:?}: {}",
            failures_text(&summary)
        );
    }
    let real_home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
    assert!(!real_home.join(&state_name).exists());
}

/// Every entry under `dir`: its path, kind, mode and content (files) or target (links).
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).expect("read dir") {
            let path = entry.expect("entry").path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let mode = meta.permissions().mode();
            let what = if meta.is_dir() {
                stack.push(path.clone());
                format!("dir {mode:o}")
            } else if meta.is_symlink() {
                format!(
                    "link {}",
                    std::fs::read_link(&path).expect("link").display()
                )
            } else {
                let bytes = std::fs::read(&path).expect("read");
                format!("file {mode:o} {}", String::from_utf8_lossy(&bytes))
            };
            found.insert(
                path.strip_prefix(dir).expect("under dir").to_path_buf(),
                what,
            );
        }
    }
    found
}

/// Writes, removes and adds files in the checkout, and records where it ran.
const WRITER_TEST: &str = r#"
set -e
pwd -P > "$RECORD/$FLAKY_RUN_INDEX"
[ "$(cat tracked.txt)" = "original" ] || { echo "tracked.txt is $(cat tracked.txt)" >&2; exit 1; }
[ -f doomed.txt ] || { echo "doomed.txt is gone" >&2; exit 1; }
echo "changed by run $FLAKY_RUN_INDEX" > tracked.txt
rm doomed.txt
mkdir -p newdir && echo x > newdir/f && chmod 600 tool.sh
"#;

/// A local directory without a ref is not copied when the overlay keeps runs out of it: the
/// runs work at its own path, see it as it was, and leave it exactly as it was.
#[cfg_attr(
    not(has_overlay),
    ignore = "needs overlay mounts (root, or unprivileged user namespaces)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_checkout_is_used_in_place_and_never_written() {
    assert!(overlay_works(), "the runner's overlay probe fails");
    let repo = repository(&[
        ("writer.sh", WRITER_TEST),
        ("tracked.txt", "original\n"),
        ("doomed.txt", "doomed\n"),
        ("tool.sh", "#!/bin/sh\n"),
    ]);
    let before = snapshot(repo.path());
    let record = tempfile::tempdir().expect("tempdir");
    let sandbox = Sandbox::new();
    let input = with_env(
        job(repo.path(), "sh writer.sh", 12, 2),
        &[("RECORD", record.path())],
    );
    let summary = sandbox.detect(input).await;
    assert_eq!(summary.failures, 0, "{}", failures_text(&summary));
    assert_eq!(summary.isolation_mechanism, Some(Mechanism::Overlay));
    let real = std::fs::canonicalize(repo.path()).expect("canonical");
    for i in 0..12 {
        let cwd = std::fs::read_to_string(record.path().join(i.to_string())).expect("recorded");
        assert_eq!(
            Path::new(cwd.trim()),
            real,
            "run {i} works in the directory itself"
        );
    }
    assert_eq!(
        snapshot(repo.path()),
        before,
        "the local directory is untouched"
    );
    assert!(sandbox.leftovers().is_empty(), "{:?}", sandbox.leftovers());
}

/// Whenever something of the job could write to the directory (`shared` runs, a copy
/// mechanism, kept run folders, an install step), it is copied first, as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_checkout_is_copied_when_the_job_could_write_to_it() {
    let repo = repository(&[
        ("writer.sh", WRITER_TEST),
        ("tracked.txt", "original\n"),
        ("doomed.txt", "doomed\n"),
        ("tool.sh", "#!/bin/sh\n"),
    ]);
    let before = snapshot(repo.path());
    let real = std::fs::canonicalize(repo.path()).expect("canonical");
    let shared = |mut input: JobInput| {
        input.knobs.isolation = Some(Isolation::Shared);
        input
    };
    let kept = repository(&[
        ("writer.sh", WRITER_TEST),
        ("tracked.txt", "original\n"),
        ("doomed.txt", "doomed\n"),
        ("tool.sh", "#!/bin/sh\n"),
        (".flaky-detector.yml", "preserve_temp_dir: true\n"),
    ]);
    let kept_before = snapshot(kept.path());
    let kept_real = std::fs::canonicalize(kept.path()).expect("canonical");
    type Change = Box<dyn Fn(JobInput) -> JobInput>;
    let cases: [(&str, &Path, Change); 4] = [
        ("shared", repo.path(), Box::new(shared)),
        (
            "forced copy",
            repo.path(),
            Box::new(|i| forcing(i, Some("copy"))),
        ),
        (
            "forced slot",
            repo.path(),
            Box::new(|i| forcing(i, Some("slot"))),
        ),
        ("preserve_temp_dir", kept.path(), Box::new(|i| i)),
    ];
    for (case, dir, change) in cases {
        let (before, real) = if dir == kept.path() {
            (&kept_before, &kept_real)
        } else {
            (&before, &real)
        };
        let record = tempfile::tempdir().expect("tempdir");
        let sandbox = Sandbox::new();
        let input = with_env(job(dir, "sh writer.sh", 1, 1), &[("RECORD", record.path())]);
        let summary = sandbox.detect(change(input)).await;
        assert_eq!(summary.failures, 0, "{case}: {}", failures_text(&summary));
        let cwd = std::fs::read_to_string(record.path().join("0")).expect("recorded");
        let cwd = Path::new(cwd.trim());
        assert_ne!(cwd, real.as_path(), "{case}: the run works in a copy");
        assert!(
            cwd.starts_with(std::fs::canonicalize(sandbox.work.path()).expect("canonical")),
            "{case}: {}",
            cwd.display()
        );
        assert_eq!(&snapshot(dir), before, "{case}: the directory is untouched");
    }
}

/// Issue 20: a run that changes the checkout's root itself (its mode, its times) and nothing
/// in it leaves no trace for the runs after it, whatever the mechanism: each run finds the
/// root as a fresh checkout has it. (The overlay mechanism used to reuse such a run's
/// overlay because its upper folder had no entries.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_run_sees_another_runs_change_to_the_checkout_root() {
    const ROOT_TEST: &str = r#"
mode=$(stat -c %a .)
mtime=$(stat -c %Y .)
[ "$mode" = "755" ] || { echo "the root is $mode, not 755" >&2; exit 1; }
[ "$mtime" != "1" ] || { echo "the root's mtime is a previous run's" >&2; exit 1; }
case $((FLAKY_RUN_INDEX % 2)) in
  0) chmod 700 . ;;
  1) touch -d @1 . ;;
esac
"#;
    let repo = repository(&[("root.sh", ROOT_TEST)]);
    std::fs::set_permissions(
        repo.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    for (name, _) in forced_mechanisms() {
        let sandbox = Sandbox::new();
        let summary = sandbox
            .detect(forcing(job(repo.path(), "sh root.sh", 12, 2), Some(name)))
            .await;
        assert_eq!(summary.total_runs, 12, "{name}");
        assert_eq!(summary.failures, 0, "{name}: {}", failures_text(&summary));
    }
}
