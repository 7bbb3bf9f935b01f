//! How a run is told to write a machine-readable report of its test cases, and how that
//! report is read back before the run's directory is removed ([`ReportPlan`]).
//!
//! Runners we recognise in the command (pytest, `go test`, Jest, Vitest, Mocha,
//! `cargo nextest run`), or behind `npm|yarn|pnpm test` ([`ScriptRunner`]), get their own
//! report option pointing into the run's directory, so concurrent runs never share a file.
//! Other commands are read through the config's `junit_paths` globs; without those, pytest
//! is asked for its JUnit report through `PYTEST_ADDOPTS` wherever the command runs it
//! (`make test`, `tox`, a script), and the runner's console output is the fallback.
//! pytest runs also get a small plugin ([`PROGRESS_PLUGIN`]) that names the test running,
//! so a run killed at the timeout says which test hung.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::adapter::adapter_for_runner;
pub use super::command::{Runner, RunnerAt, insert_flags};
use super::junit_paths::{JunitGlobs, Stamp};
use super::results::junit;
use super::results::test_result::{TestReport, TestResult, TestStatus};
pub use super::script::ScriptRunner;
use super::shuffle::Shuffle;
use crate::errors::one_line;
use crate::process::capture::{Capture, Captured};
use crate::workspace::read::{REPORT_CAP, ReadError, read_capped};

/// How every run of a job reports its test cases.
#[derive(Debug, Clone, Default)]
pub enum ReportPlan {
    /// The whole command is the unit.
    #[default]
    None,
    Runner(RunnerAt),
    /// A runner behind the package manager's `test` script: its flags go at the end.
    Script(ScriptRunner),
    /// JUnit files the command writes itself, found by globs relative to its working
    /// directory.
    Junit(JunitGlobs),
    /// Any other command: pytest's JUnit report through `PYTEST_ADDOPTS` if the command
    /// runs pytest, else what the console output names.
    Console,
}

/// A pytest plugin that writes the node id of the test running to `FLAKY_PROGRESS_FILE`
/// (and empties it when the test is done), so a run killed at the timeout names the test
/// that hung. It is put on the runs' `PYTHONPATH` and loaded with `-p`.
pub const PROGRESS_PLUGIN: &str = r#""""flaky-detector: names the test that is running, for runs killed at the timeout."""
import os

_PATH = os.environ.get("FLAKY_PROGRESS_FILE")


def _write(text):
    if not _PATH:
        return
    try:
        with open(_PATH, "w") as handle:
            handle.write(text)
    except OSError:
        pass


def pytest_runtest_logstart(nodeid, location):
    _write(nodeid)


def pytest_runtest_logfinish(nodeid, location):
    _write("")
"#;

/// The plugin's module name (`-p` loads it by this name).
const PROGRESS_MODULE: &str = "flaky_detector_progress";

impl ReportPlan {
    /// The runner's own report when the command is one we recognise, else `junit_paths`
    /// when given, else pytest's report through the environment and the console.
    pub fn for_command(argv: &[String], junit_paths: &[String]) -> ReportPlan {
        ReportPlan::for_job(argv, junit_paths, Path::new(""))
    }

    /// [`ReportPlan::for_command`], also following `npm|yarn|pnpm test` through the
    /// `package.json` in `checkout`.
    pub fn for_job(argv: &[String], junit_paths: &[String], checkout: &Path) -> ReportPlan {
        if let Some(at) = RunnerAt::find(argv) {
            return ReportPlan::Runner(at);
        }
        if let Some(script) = ScriptRunner::find(argv, checkout) {
            return ReportPlan::Script(script);
        }
        match JunitGlobs::new(junit_paths) {
            Some(globs) => ReportPlan::Junit(globs),
            None => ReportPlan::Console,
        }
    }

    /// True when pytest may run under this plan and gets the progress plugin.
    fn pytest_may_run(&self) -> bool {
        match self {
            ReportPlan::Runner(at) => at.runner == Runner::PYTEST,
            ReportPlan::Console => true,
            _ => false,
        }
    }

    /// The runner this plan asks for a report, if any.
    pub fn runner(&self) -> Option<RunnerAt> {
        match self {
            ReportPlan::Runner(at) => Some(*at),
            _ => None,
        }
    }

    /// Sets up one run: the report flags to insert, files the runner needs (nextest's tool
    /// config) written into `run_dir`, and for globs a snapshot of the files already there.
    /// Blocking file work; call it from `spawn_blocking`.
    pub fn prepare(&self, run_dir: &Path, cwd: &Path) -> std::io::Result<PreparedReport> {
        let mut flags = Vec::new();
        let mut stdout_copy = None;
        let mut snapshot = HashMap::new();
        let mut env = Vec::new();
        let mut progress = None;
        let file = |name: &str| run_dir.join(name).display().to_string();
        match self {
            ReportPlan::None => {}
            ReportPlan::Runner(at) => {
                stdout_copy =
                    adapter_for_runner(at.runner).report_flags(at.runner, run_dir, &mut flags)?;
            }
            ReportPlan::Script(script) => {
                if script.separator {
                    flags.push("--".into());
                }
                stdout_copy = adapter_for_runner(script.runner).report_flags(
                    script.runner,
                    run_dir,
                    &mut flags,
                )?;
            }
            ReportPlan::Junit(globs) => snapshot = globs.scan(cwd),
            ReportPlan::Console => {
                env.push((
                    "PYTEST_ADDOPTS".to_string(),
                    format!("--junitxml={}", file("junit.xml")),
                ));
            }
        }
        if self.pytest_may_run() {
            let hook_dir = run_dir.join("pyhook");
            write_once(
                &hook_dir.join(format!("{PROGRESS_MODULE}.py")),
                PROGRESS_PLUGIN,
            )?;
            let path = run_dir.join("progress");
            env.push(("PYTEST_ADDOPTS".into(), format!("-p {PROGRESS_MODULE}")));
            env.push(("PYTHONPATH".into(), hook_dir.display().to_string()));
            env.push(("FLAKY_PROGRESS_FILE".into(), path.display().to_string()));
            progress = Some(path);
        }
        Ok(PreparedReport {
            plan: self.clone(),
            run_dir: run_dir.to_path_buf(),
            flags,
            stdout_copy,
            snapshot,
            env,
            progress,
        })
    }
}

/// Writes `content` to `path` (and its folder) unless the file already holds that many
/// bytes: a slot's runs share their `run_dir`, and rewriting the same file before every run
/// cost a block allocation and a journal entry per run.
pub(in crate::framework) fn write_once(path: &Path, content: &str) -> std::io::Result<()> {
    if std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() == content.len() as u64) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, content)
}

/// One run's report, set up and waiting to be read.
#[derive(Debug)]
pub struct PreparedReport {
    plan: ReportPlan,
    run_dir: PathBuf,
    /// Flags to insert at the runner's position.
    pub flags: Vec<String>,
    /// Where the run's stdout must be copied in full (`go test -json`).
    pub stdout_copy: Option<PathBuf>,
    snapshot: HashMap<PathBuf, Stamp>,
    /// Variables the run needs: `PYTEST_ADDOPTS` words to append, a `PYTHONPATH` entry to
    /// put first, anything else to set (see [`PreparedReport::apply_env`]).
    pub env: Vec<(String, String)>,
    /// Where the progress plugin names the running test.
    progress: Option<PathBuf>,
}

impl PreparedReport {
    /// Reads what the run reported. For `go test -json`, also returns the run's readable
    /// stdout rebuilt from the events (the JSON itself says little to a person), bounded by
    /// `output_limit`. Blocking file work; call it from `spawn_blocking`.
    pub fn collect(
        self,
        cwd: &Path,
        written: &Path,
        output_limit: usize,
    ) -> (TestReport, Option<Captured>) {
        match &self.plan {
            ReportPlan::None => (TestReport::NotRequested, None),
            ReportPlan::Runner(at) => self.collect_runner(at.runner, cwd, output_limit),
            ReportPlan::Script(script) => self.collect_runner(script.runner, cwd, output_limit),
            ReportPlan::Junit(globs) => (globs.collect(written, &self.snapshot), None),
            // No report is no surprise here: the console is read instead.
            ReportPlan::Console => match read_capped(&self.run_dir.join("junit.xml"), REPORT_CAP) {
                Ok(xml) => (report_of(junit::parse(&xml)), None),
                Err(_) => (TestReport::NotRequested, None),
            },
        }
    }

    /// True when a run without a report is read from its console output.
    pub fn reads_console(&self) -> bool {
        matches!(self.plan, ReportPlan::Console)
    }

    /// Where the progress plugin names the running test, if this run has it.
    pub fn progress_file(&self) -> Option<&Path> {
        self.progress.as_deref()
    }

    /// `base` with [`PreparedReport::env`] applied: `PYTEST_ADDOPTS` words appended to the
    /// job's own, `PYTHONPATH` entries put first, other variables set.
    pub fn apply_env(&self, base: Vec<(String, String)>) -> Vec<(String, String)> {
        let mut env = base;
        for (name, value) in &self.env {
            // The last entry of a name is the one the child gets.
            match env.iter_mut().rev().find(|(k, _)| k == name) {
                Some((_, old)) if old.is_empty() => *old = value.clone(),
                Some((_, old)) if name == "PYTEST_ADDOPTS" => *old = format!("{old} {value}"),
                Some((_, old)) if name == "PYTHONPATH" => *old = format!("{value}:{old}"),
                Some((_, old)) => *old = value.clone(),
                None => env.push((name.clone(), value.clone())),
            }
        }
        env
    }

    fn collect_runner(
        &self,
        runner: Runner,
        cwd: &Path,
        output_limit: usize,
    ) -> (TestReport, Option<Captured>) {
        adapter_for_runner(runner).read_report(
            runner,
            &self.run_dir,
            self.stdout_copy.as_deref(),
            cwd,
            output_limit,
        )
    }
}

/// `junit.xml` in `run_dir`, the report most runners write.
pub(in crate::framework) fn read_junit(run_dir: &Path) -> TestReport {
    match read_capped(&run_dir.join("junit.xml"), REPORT_CAP) {
        Ok(xml) => report_of(junit::parse(&xml)),
        Err(error) => not_read("junit.xml", &error),
    }
}

/// A report file that was not there is missing; one that was there but could not be read
/// (not a regular file, too large) says why.
pub(in crate::framework) fn not_read(name: &str, error: &ReadError) -> TestReport {
    if error.is_not_found() {
        TestReport::Missing
    } else {
        TestReport::Unreadable(format!("{name}: {}", one_line(error)))
    }
}

/// A spec-reporter-like listing of `results`: every test with its outcome, failure messages
/// under the failed ones, and the counts.
pub(in crate::framework) fn readable(results: &[TestResult], output_limit: usize) -> Captured {
    let mut text = Capture::new(output_limit);
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for result in results {
        let line = match result.status {
            TestStatus::Passed => {
                passed += 1;
                format!("  ok      {}\n", result.name)
            }
            TestStatus::Failed | TestStatus::TimedOut => {
                failed += 1;
                let message = result.message.as_deref().unwrap_or("failed");
                format!("  FAILED  {}\n          {message}\n", result.name)
            }
            TestStatus::Skipped => {
                skipped += 1;
                format!("  skipped {}\n", result.name)
            }
        };
        text.push(line.as_bytes());
    }
    text.push(format!("{passed} passing, {failed} failing, {skipped} pending\n").as_bytes());
    text.finish()
}

pub(in crate::framework) fn report_of<E: std::error::Error + 'static>(
    parsed: Result<Vec<TestResult>, E>,
) -> TestReport {
    match parsed {
        Ok(results) => TestReport::Parsed(results),
        Err(error) => TestReport::Unreadable(one_line(&error)),
    }
}

/// What a job adds to each run's command: a report option and seeded order shuffling.
/// The default adds nothing.
#[derive(Debug, Clone, Default)]
pub struct RunnerOptions {
    pub report: ReportPlan,
    pub shuffle: Option<Shuffle>,
}

/// One run's command and report, ready to start.
#[derive(Debug)]
pub struct PreparedRun {
    pub argv: Vec<String>,
    pub report: PreparedReport,
}

impl RunnerOptions {
    /// The options for a job: the report plan for its command, and with `shuffle` the
    /// runner's seeded shuffle (probing for pytest-randomly in the runs' environment when
    /// the runner is pytest). When shuffling was asked for but cannot be done, the second
    /// value says why, for the summary's warnings.
    pub async fn resolve(
        argv: &[String],
        junit_paths: &[String],
        shuffle: bool,
        env: &[(String, String)],
        cwd: &Path,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> (RunnerOptions, Option<String>) {
        let report = ReportPlan::for_job(argv, junit_paths, cwd);
        let runner = RunnerAt::find(argv);
        let mut warning = None;
        let shuffle = if shuffle {
            let randomly = match runner {
                Some(at) => {
                    adapter_for_runner(at.runner)
                        .shuffler_installed(at.runner, argv, env, cwd, cancel)
                        .await
                }
                None => false,
            };
            Shuffle::plan(runner, randomly)
                .map_err(|reason| warning = Some(reason))
                .ok()
        } else {
            None
        };
        (RunnerOptions { report, shuffle }, warning)
    }

    /// The command a person runs to replay `seed`: the shuffle flags, not the report flags.
    pub fn replay_argv(&self, argv: &[String], seed: u64) -> Vec<String> {
        match &self.shuffle {
            Some(shuffle) => insert_flags(argv, shuffle.insert_at(), &shuffle.flags(seed, argv)),
            None => argv.to_vec(),
        }
    }

    /// The run's command (report and shuffle flags inserted) and its report, set up in
    /// `run_dir`.
    pub async fn prepare_run(
        &self,
        argv: &[String],
        seed: u64,
        run_dir: &Path,
        cwd: &Path,
    ) -> std::io::Result<PreparedRun> {
        let report = match &self.report {
            // A glob snapshot reads folders of the checkout: off the async threads. The other
            // plans make a `stat` or two (their files are written once per run folder), less
            // than a trip through the blocking pool costs, on every run.
            plan @ ReportPlan::Junit(_) => {
                let plan = plan.clone();
                let (run_dir, cwd) = (run_dir.to_path_buf(), cwd.to_path_buf());
                tokio::task::spawn_blocking(move || plan.prepare(&run_dir, &cwd))
                    .await
                    .map_err(std::io::Error::other)??
            }
            plan => plan.prepare(run_dir, cwd)?,
        };
        let mut argv = argv.to_vec();
        if let Some(shuffle) = &self.shuffle {
            argv = insert_flags(&argv, shuffle.insert_at(), &shuffle.flags(seed, &argv));
        }
        if let ReportPlan::Script(_) = &self.report {
            argv.extend(report.flags.iter().cloned());
        } else if let Some(at) = self.report.runner() {
            // A report option the command already gives would win over ours if ours came
            // first; last wins for these runners, so ours then goes last.
            let position = if at.runner.sets_own_report(&argv) {
                argv.len()
            } else {
                at.insert_at
            };
            argv = insert_flags(&argv, position, &report.flags);
        }
        Ok(PreparedRun { argv, report })
    }
}

impl PreparedRun {
    /// Reads the run's report off the blocking pool; see [`PreparedReport::collect`].
    pub async fn collect(
        self,
        cwd: &Path,
        written: &Path,
        output_limit: usize,
    ) -> (TestReport, Option<Captured>) {
        let report = self.report;
        if matches!(report.plan, ReportPlan::None) {
            return (TestReport::NotRequested, None);
        }
        // A command read from its console that did not run pytest left no report: one `stat`
        // here instead of a trip through the blocking pool on every run.
        if report.reads_console() && !report.run_dir.join("junit.xml").exists() {
            return (TestReport::NotRequested, None);
        }
        let (cwd, written) = (cwd.to_path_buf(), written.to_path_buf());
        tokio::task::spawn_blocking(move || report.collect(&cwd, &written, output_limit))
            .await
            .unwrap_or_else(|e| {
                (
                    TestReport::Unreadable(format!("report reader failed: {e}")),
                    None,
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(command: &str) -> Vec<String> {
        shlex::split(command).expect("test command splits")
    }

    #[tokio::test]
    async fn the_commands_own_report_option_is_overridden_by_ours() {
        let dir = tempfile::tempdir().expect("tempdir");
        let words = argv("pytest --junitxml=ci.xml -q");
        let options = RunnerOptions {
            report: ReportPlan::for_command(&words, &[]),
            shuffle: None,
        };
        let run = options
            .prepare_run(&words, 1, dir.path(), dir.path())
            .await
            .expect("prepare");
        let ours = format!("--junitxml={}", dir.path().join("junit.xml").display());
        assert_eq!(run.argv.last(), Some(&ours));
        let words = argv("pytest -q");
        let run = options
            .prepare_run(&words, 1, dir.path(), dir.path())
            .await
            .expect("prepare");
        assert_eq!(run.argv, vec!["pytest".to_string(), ours, "-q".into()]);
    }

    #[test]
    fn the_progress_hook_is_written_once_per_run_folder_and_mended_when_changed() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = ReportPlan::for_command(&argv("pytest -q"), &[]);
        let hook = dir
            .path()
            .join("pyhook")
            .join(format!("{PROGRESS_MODULE}.py"));
        plan.prepare(dir.path(), dir.path()).expect("prepare");
        // An old modification time, which any rewrite would replace.
        let old = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(&hook)
            .and_then(|file| file.set_modified(old))
            .expect("the hook is written");
        plan.prepare(dir.path(), dir.path()).expect("prepare");
        let kept = std::fs::metadata(&hook).expect("the hook is kept");
        assert_eq!(
            kept.mtime(),
            1_000_000,
            "a second run in the same folder does not rewrite the hook"
        );
        std::fs::write(&hook, "broken").expect("a run spoils the hook");
        plan.prepare(dir.path(), dir.path()).expect("prepare");
        assert_eq!(
            std::fs::read_to_string(&hook).expect("read"),
            PROGRESS_PLUGIN,
            "a hook of another size is written again"
        );
    }

    #[test]
    fn junit_globs_read_only_files_the_run_wrote() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cwd = dir.path();
        let run_dir = cwd.join("run");
        std::fs::create_dir_all(cwd.join("out")).expect("mkdir");
        std::fs::create_dir_all(&run_dir).expect("mkdir");
        let stale = "<testsuite><testcase name='old'/></testsuite>";
        std::fs::write(cwd.join("out/stale.xml"), stale).expect("write");
        let plan = ReportPlan::for_command(&argv("make test"), &["out/*.xml".to_string()]);
        let prepared = plan.prepare(&run_dir, cwd).expect("prepare");
        assert!(prepared.flags.is_empty());
        std::fs::write(
            cwd.join("out/new.xml"),
            "<testsuite><testcase classname='c' name='fresh'><failure message='no'/></testcase></testsuite>",
        )
        .expect("write");
        let (report, _) = prepared.collect(cwd, cwd, 1024);
        let results = report.results().expect("parsed").to_vec();
        assert_eq!(results.len(), 1);
        assert_eq!(results[0].name, "c::fresh");
        assert_eq!(results[0].message.as_deref(), Some("no"));
    }

    #[test]
    fn a_missing_report_is_missing_and_garbage_is_unreadable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let plan = ReportPlan::for_command(&argv("pytest"), &[]);
        let prepared = plan.prepare(dir.path(), dir.path()).expect("prepare");
        assert_eq!(prepared.flags.len(), 1);
        let (report, _) = prepared.collect(dir.path(), dir.path(), 1024);
        assert_eq!(report, TestReport::Missing);
        let prepared = plan.prepare(dir.path(), dir.path()).expect("prepare");
        std::fs::write(dir.path().join("junit.xml"), "<<<").expect("write");
        let (report, _) = prepared.collect(dir.path(), dir.path(), 1024);
        assert!(matches!(report, TestReport::Unreadable(_)), "{report:?}");
    }
}
