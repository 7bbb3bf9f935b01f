//! `.flaky-detector.yml` ([`FileConfig`]) and the effective [`Settings`] of a job.
//! Precedence: job input > repository file > defaults. Keys are those of the seed project plus
//! ours; an unknown key is a warning (a newer file must still run on an older worker), an
//! invalid value is an error naming the key.

pub mod policy;
pub mod quarantine;

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

/// The job's vocabulary, which the file shares; re-exported where `Isolation` was defined.
pub use crate::job::Isolation;
use crate::job::{BuildOnce, Job, Knobs, Problem, check_seconds};
pub use crate::wire::figures::Thresholds;
use crate::workspace::read::{CONFIG_CAP, read_capped};

pub const FILE_NAME: &str = ".flaky-detector.yml";

/// Seeds are drawn from this range when the repository's file sets no `random_seed_range`.
pub const DEFAULT_SEED_RANGE: (u64, u64) = (1, 1_000_000);

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialThresholds {
    critical: Option<f64>,
    high: Option<f64>,
    medium: Option<f64>,
    low: Option<f64>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedRange {
    min: u64,
    max: u64,
}

/// What `.flaky-detector.yml` says about the install. Each one changes the cache key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstallChoices {
    /// A shell line run in the checkout instead of the detected install (after the
    /// virtualenv is made, with it first on PATH, for Python).
    pub install_command: Option<String>,
    /// Packages installed beside the dependency files (pip or npm names and versions).
    pub extra_packages: Vec<String>,
    /// The interpreter the Python virtualenv is made with (`python3.8`, a path).
    pub python: Option<String>,
}

/// Why the repository's config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot use {FILE_NAME}: {0}")]
    Read(#[source] crate::workspace::read::ReadError),
    #[error("{FILE_NAME} is not valid YAML: {0}")]
    Yaml(String),
    #[error("{FILE_NAME} must be a mapping of keys to values")]
    NotAMapping,
    #[error("{FILE_NAME}: `{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error(
        "no test command: give `test_command` in the job input or in the repository's {FILE_NAME}"
    )]
    NoTestCommand,
    #[error("`test_command` has an unbalanced quote or is empty")]
    BadTestCommand,
}

/// The keys of `.flaky-detector.yml`, each `None` when absent: the [`Knobs`] a job input may
/// set too, and those only the file sets.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FileConfig {
    /// Read in a pass of its own (see [`FileConfig::parse`]).
    #[serde(skip)]
    pub knobs: Knobs,
    pub ignore_patterns: Option<Vec<String>>,
    #[serde(rename = "severity_thresholds")]
    thresholds: PartialThresholds,
    pub auto_install_dependencies: Option<bool>,
    pub pip_install_timeout: Option<f64>,
    pub install_command: Option<String>,
    pub extra_packages: Option<Vec<String>>,
    pub python: Option<String>,
    pub cleanup_on_failure: Option<bool>,
    pub preserve_temp_dir: Option<bool>,
    pub save_full_output: Option<bool>,
    pub max_error_length: Option<usize>,
    #[serde(rename = "random_seed_range")]
    seed_range: Option<SeedRange>,
    pub junit_paths: Option<Vec<String>>,
    pub output_limit_bytes: Option<usize>,
    /// Which flaky tests `flaky-detector quarantine` lists, and what `fixed` must show.
    pub quarantine: quarantine::QuarantineKeys,
    /// Read by the seed project's CI workflow: valid here, checked, not used.
    #[serde(rename = "auto_trigger_on_failure")]
    _auto_trigger_on_failure: Option<bool>,
    #[serde(rename = "auto_trigger_runs")]
    _auto_trigger_runs: Option<u32>,
    #[serde(rename = "auto_trigger_parallelism")]
    _auto_trigger_parallelism: Option<u32>,
    /// Unknown keys, reported as warnings in the summary.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

impl FileConfig {
    /// Reads `.flaky-detector.yml` from the checkout root; a missing file is an empty config.
    /// The repository controls the file, so it is read capped (a symlink to `/dev/zero` is
    /// refused at once).
    pub fn load(checkout: &Path) -> Result<FileConfig, ConfigError> {
        match read_capped(&checkout.join(FILE_NAME), CONFIG_CAP) {
            Ok(text) => FileConfig::parse(&text),
            Err(e) if e.is_not_found() => Ok(FileConfig::default()),
            Err(e) => Err(ConfigError::Read(e)),
        }
    }

    /// The knobs and the file's own keys are read in two passes over the same mapping, each
    /// skipping what the other reads, so a key is unknown when both skip it. (A flattened
    /// struct would do it in one pass, but serde then forgets which key a bad value was under.)
    pub fn parse(text: &str) -> Result<FileConfig, ConfigError> {
        let doc: serde_norway::Value =
            serde_norway::from_str(text).map_err(|e| ConfigError::Yaml(one_line(&e)))?;
        let mapping = match doc {
            serde_norway::Value::Null => return Ok(FileConfig::default()),
            serde_norway::Value::Mapping(mapping) => mapping,
            _ => return Err(ConfigError::NotAMapping),
        };
        let mut given = serde_norway::Mapping::new();
        for (key, value) in mapping {
            if !key.is_string() {
                return Err(ConfigError::NotAMapping);
            }
            // A key with no value (`ignore_patterns:` followed by comments only) means unset.
            if !value.is_null() {
                given.insert(key, value);
            }
        }
        let mut not_knobs = Vec::new();
        let knobs: Knobs = read_keys(&given, &mut not_knobs)?;
        let mut not_file_keys = Vec::new();
        let mut config: FileConfig = read_keys(&given, &mut not_file_keys)?;
        config.knobs = knobs;
        // A key inside a section only the file reads (`quarantine.rate_treshold`) is
        // skipped by the file's pass alone; the knobs' pass skipped its whole section.
        let unknown = |key: &&String| {
            not_file_keys.contains(key)
                && (not_knobs.contains(key)
                    || key
                        .split_once('.')
                        .is_some_and(|(section, _)| not_knobs.iter().any(|k| k == section)))
        };
        config.warnings = not_file_keys
            .iter()
            .filter(unknown)
            .map(|key| format!("{FILE_NAME}: unknown key `{}` was ignored", shown_key(key)))
            .collect();
        config.check()?;
        Ok(config)
    }

    /// Range and consistency checks that a type alone cannot express.
    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            key: key.into(),
            message,
        };
        let mut problems = Vec::new();
        self.knobs.check(&mut problems);
        if let Some(seconds) = self.pip_install_timeout {
            check_seconds(&mut problems, "pip_install_timeout", seconds);
        }
        if let Some(Problem { field, message }) = problems.into_iter().next() {
            return Err(invalid(field, message));
        }
        if let Some(range) = self.seed_range
            && range.min > range.max
        {
            return Err(invalid(
                "random_seed_range",
                format!("`min` ({}) is above `max` ({})", range.min, range.max),
            ));
        }
        for (key, patterns) in [
            ("ignore_patterns", &self.ignore_patterns),
            ("junit_paths", &self.junit_paths),
        ] {
            for pattern in patterns.iter().flatten() {
                globset::Glob::new(pattern)
                    .map_err(|e| invalid(key, format!("`{pattern}` is not a valid glob: {e}")))?;
            }
        }
        if let Some(command) = &self.install_command
            && command.trim().is_empty()
        {
            return Err(invalid("install_command", "is empty".into()));
        }
        if let Some(python) = &self.python
            && (python.trim().is_empty() || python.contains(char::is_whitespace))
        {
            return Err(invalid(
                "python",
                format!("must name one interpreter (`python3.8`, a path), got `{python}`"),
            ));
        }
        // An entry that reads as an option would change what pip or npm does, not what it
        // installs; `install_command` is the key for that.
        for package in self.extra_packages.iter().flatten() {
            if package.trim().is_empty() || package.starts_with('-') {
                return Err(invalid(
                    "extra_packages",
                    format!("`{package}` is not a package name (options go in `install_command`)"),
                ));
            }
        }
        if let Some(limit) = self.output_limit_bytes
            && !(1024..=16 * 1024 * 1024).contains(&limit)
        {
            return Err(invalid(
                "output_limit_bytes",
                format!("must be between 1024 and 16777216, got {limit}"),
            ));
        }
        self.quarantine
            .resolve()
            .map_err(|(key, message)| invalid(&format!("quarantine.{key}"), message))?;
        self.thresholds().map(|_| ())
    }

    /// The `quarantine:` section's rules, defaults filled in (checked when the file was
    /// parsed).
    pub fn quarantine_rules(&self) -> quarantine::QuarantineRules {
        self.quarantine.resolve().unwrap_or_default()
    }

    fn thresholds(&self) -> Result<Thresholds, ConfigError> {
        let d = Thresholds::default();
        let t = Thresholds {
            critical: self.thresholds.critical.unwrap_or(d.critical),
            high: self.thresholds.high.unwrap_or(d.high),
            medium: self.thresholds.medium.unwrap_or(d.medium),
            low: self.thresholds.low.unwrap_or(d.low),
        };
        let in_unit = [t.critical, t.high, t.medium, t.low]
            .iter()
            .all(|v| (0.0..=1.0).contains(v));
        let ordered = t.low <= t.medium && t.medium <= t.high && t.high <= t.critical;
        if !in_unit || !ordered {
            return Err(ConfigError::Invalid {
                key: "severity_thresholds".into(),
                message: format!(
                    "must lie in 0..1 with low <= medium <= high <= critical, got low {} medium {} high {} critical {}",
                    t.low, t.medium, t.high, t.critical
                ),
            });
        }
        Ok(t)
    }
}

/// The keys of `given` that `T` reads, an error naming the key of a bad value; the keys `T`
/// skips are added to `skipped`, in the file's order.
fn read_keys<T: DeserializeOwned>(
    given: &serde_norway::Mapping,
    skipped: &mut Vec<String>,
) -> Result<T, ConfigError> {
    let mut track = serde_path_to_error::Track::new();
    let value = serde_norway::Value::Mapping(given.clone());
    let de = serde_path_to_error::Deserializer::new(value, &mut track);
    let read = serde_ignored::deserialize(de, |path| {
        if let serde_ignored::Path::Map { parent, key } = path {
            match parent {
                serde_ignored::Path::Map { key: section, .. } => {
                    skipped.push(format!("{section}.{key}"));
                }
                _ => skipped.push(key),
            }
        }
    });
    read.map_err(|e| {
        let path = track.path();
        let key = match path.iter().next() {
            Some(Segment::Map { key }) => key.clone(),
            _ => path.to_string(),
        };
        ConfigError::Invalid {
            key,
            message: one_line(&e),
        }
    })
}

/// An unknown key as a warning shows it: at most 64 characters, on one line, without
/// backticks, so it stays inside the code span the warning puts it in.
fn shown_key(key: &str) -> String {
    let mut shown: String = key
        .chars()
        .take(64)
        .map(|c| match c {
            '`' => '\'',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    if key.chars().count() > 64 {
        shown.push('…');
    }
    shown
}

fn one_line(error: &dyn std::fmt::Display) -> String {
    error.to_string().replace('\n', " ")
}

/// Everything a job runs with, after job input, repository file and defaults are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The command as the user wrote it, for reports and reproduce lines.
    pub command_line: String,
    /// The command split with shell rules; run without a shell.
    pub argv: Vec<String>,
    pub runs: u32,
    pub parallelism: u32,
    pub timeout: Duration,
    pub seeds: Option<Vec<u64>>,
    /// Run only these tests (`tests`); empty: every test the command runs.
    pub tests: Vec<String>,
    pub seed_range: (u64, u64),
    pub thresholds: Thresholds,
    pub ignore_patterns: Vec<String>,
    pub junit_paths: Vec<String>,
    pub auto_install: bool,
    pub install_timeout: Duration,
    /// `install_command`, `extra_packages` and `python` from the repository's file.
    pub install: InstallChoices,
    pub cleanup_on_failure: bool,
    pub preserve_temp_dir: bool,
    pub save_full_output: bool,
    pub max_error_length: usize,
    pub output_limit_bytes: usize,
    pub isolation: Isolation,
    pub shuffle: bool,
    pub build_once: BuildOnce,
    pub confirm: bool,
    /// Most replays of failing seeds the confirmation phase may run; `None`: the default of
    /// `analysis::classify::default_budget`, which depends on the runs' failure rate.
    pub confirm_budget: Option<u32>,
    pub stop_early: bool,
    /// Start no run after the first failing one (`verify-fix`; not a knob).
    pub stop_at_first_failure: bool,
}

impl Settings {
    pub const DEFAULT_RUNS: u32 = 10;
    pub const DEFAULT_PARALLELISM: u32 = 4;
    pub const DEFAULT_TIMEOUT: f64 = 300.0;

    /// Merges job input over the file over defaults. With explicit `seeds` and no `runs`,
    /// one run per seed.
    pub fn resolve(job: &Job, file: &FileConfig) -> Result<Settings, ConfigError> {
        let o = &job.overrides;
        let knobs = o.knobs.clone().or(file.knobs.clone());
        let command_line = knobs.test_command.ok_or(ConfigError::NoTestCommand)?;
        let argv = shlex::split(&command_line)
            .filter(|w| !w.is_empty())
            .ok_or(ConfigError::BadTestCommand)?;
        let seeds = o.seeds.clone();
        // Explicit seeds outrank the file's `runs`, not the input's.
        let runs = o
            .knobs
            .runs
            .or_else(|| seeds.as_ref().map(|s| s.len() as u32))
            .or(file.knobs.runs)
            .unwrap_or(Self::DEFAULT_RUNS);
        let seed_range = file
            .seed_range
            .map(|r| (r.min, r.max))
            .unwrap_or(DEFAULT_SEED_RANGE);
        Ok(Settings {
            command_line,
            argv,
            runs,
            parallelism: knobs.parallelism.unwrap_or(Self::DEFAULT_PARALLELISM),
            timeout: Duration::from_secs_f64(knobs.timeout.unwrap_or(Self::DEFAULT_TIMEOUT)),
            seeds,
            tests: o.tests.clone(),
            seed_range,
            thresholds: file.thresholds()?,
            ignore_patterns: file.ignore_patterns.clone().unwrap_or_default(),
            junit_paths: file.junit_paths.clone().unwrap_or_default(),
            auto_install: file.auto_install_dependencies.unwrap_or(true),
            install_timeout: Duration::from_secs_f64(file.pip_install_timeout.unwrap_or(300.0)),
            install: InstallChoices {
                install_command: file.install_command.clone(),
                extra_packages: file.extra_packages.clone().unwrap_or_default(),
                python: file.python.clone(),
            },
            cleanup_on_failure: file.cleanup_on_failure.unwrap_or(true),
            preserve_temp_dir: file.preserve_temp_dir.unwrap_or(false),
            save_full_output: file.save_full_output.unwrap_or(false),
            max_error_length: file.max_error_length.unwrap_or(200),
            output_limit_bytes: file.output_limit_bytes.unwrap_or(16 * 1024),
            isolation: knobs.isolation.unwrap_or_default(),
            shuffle: knobs.shuffle.unwrap_or(false),
            build_once: knobs.build_once.unwrap_or_default(),
            confirm: knobs.confirm.unwrap_or(true),
            confirm_budget: knobs.confirm_budget,
            stop_early: knobs.stop_early.unwrap_or(false),
            stop_at_first_failure: o.stop_at_first_failure,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_projects_own_file_parses() {
        let text = "runs: 100\nparallelism: 10\ntimeout: 600\nignore_patterns:\n  # - x\nseverity_thresholds:\n  critical: 0.9\n  high: 0.5\n  medium: 0.1\n  low: 0.01\nauto_install_dependencies: true\npip_install_timeout: 300\ncleanup_on_failure: true\npreserve_temp_dir: false\nauto_trigger_on_failure: true\nauto_trigger_runs: 20\nauto_trigger_parallelism: 5\nsave_full_output: false\nmax_error_length: 200\nrandom_seed_range:\n  min: 1\n  max: 1000000\n";
        let config = FileConfig::parse(text).expect("seed config parses");
        assert_eq!(config.knobs.runs, Some(100));
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    }

    #[test]
    fn the_documented_root_file_parses_without_warnings() {
        let text = include_str!("../.flaky-detector.yml");
        let config = FileConfig::parse(text).expect("the documented file is valid");
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(config.knobs.isolation, Some(Isolation::Run));
    }

    #[test]
    fn the_install_keys_are_read_and_an_option_is_not_a_package() {
        let config = FileConfig::parse(
            "install_command: pip install -r ci.txt\nextra_packages: [pytest-cov, numpy<2]\npython: python3.8\n",
        )
        .expect("parses");
        assert!(config.warnings.is_empty(), "{:?}", config.warnings);
        assert_eq!(
            config.install_command.as_deref(),
            Some("pip install -r ci.txt")
        );
        assert_eq!(
            config.extra_packages,
            Some(vec!["pytest-cov".to_string(), "numpy<2".to_string()])
        );
        assert_eq!(config.python.as_deref(), Some("python3.8"));
        for bad in [
            "extra_packages: [--index-url=http://x]\n",
            "python: python3 -S\n",
            "install_command: ' '\n",
        ] {
            let err = FileConfig::parse(bad).expect_err(bad);
            assert!(err.to_string().contains('`'), "{err}");
        }
    }

    #[test]
    fn unknown_key_is_a_warning_and_bad_value_names_its_key() {
        let config = FileConfig::parse("runz: 5\n").expect("parses");
        assert_eq!(config.warnings.len(), 1);
        let err = FileConfig::parse("runs: lots\n").expect_err("bad value");
        assert!(err.to_string().contains("`runs`"), "{err}");
    }

    #[test]
    fn the_files_test_command_is_refused_in_the_job_inputs_words() {
        let err = FileConfig::parse("test_command: \"pytest 'tests\"\n").expect_err("unbalanced");
        assert_eq!(
            err.to_string(),
            r".flaky-detector.yml: `test_command`: has an unbalanced quote or a trailing backslash: `pytest \'tests`"
        );
        let err = FileConfig::parse("test_command: ' '\n").expect_err("empty");
        assert_eq!(
            err.to_string(),
            ".flaky-detector.yml: `test_command`: is empty"
        );
    }

    #[test]
    fn knobs_and_file_keys_are_both_known_and_each_bad_value_names_its_key() {
        let config = FileConfig::parse("stop_early: true\npython: python3\nrunz: 5\nx`y: 1\n")
            .expect("parses");
        assert_eq!(config.knobs.stop_early, Some(true));
        assert_eq!(config.python.as_deref(), Some("python3"));
        assert_eq!(
            config.warnings,
            [
                ".flaky-detector.yml: unknown key `runz` was ignored",
                ".flaky-detector.yml: unknown key `x'y` was ignored"
            ]
        );
        for (text, key) in [
            ("stop_early: maybe\n", "`stop_early`"),
            ("max_error_length: -1\n", "`max_error_length`"),
            ("severity_thresholds:\n  low: x\n", "`severity_thresholds`"),
        ] {
            let err = FileConfig::parse(text).expect_err(text);
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn the_quarantine_section_is_read_and_its_unknown_keys_warned() {
        let config = FileConfig::parse(
            "quarantine:\n  rate_threshold: 0.05\n  fixed_below: 0.2\n  min_rums: 3\n",
        )
        .expect("parses");
        let rules = config.quarantine_rules();
        assert_eq!((rules.rate_threshold, rules.fixed_below), (0.05, 0.2));
        assert_eq!(rules.clean_runs_for_fixed(), 14);
        assert_eq!(
            config.warnings,
            [".flaky-detector.yml: unknown key `quarantine.min_rums` was ignored"]
        );
        let err = FileConfig::parse("quarantine:\n  fixed_below: 2\n").expect_err("above 1");
        assert!(
            err.to_string().contains("`quarantine.fixed_below`"),
            "{err}"
        );
    }

    #[test]
    fn partial_thresholds_merge_with_defaults() {
        let config = FileConfig::parse("severity_thresholds:\n  low: 0.05\n").expect("parses");
        let t = config.thresholds().expect("valid");
        assert_eq!((t.low, t.critical), (0.05, 0.9));
    }
}
