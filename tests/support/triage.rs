//! Shared by the triage tests of every runner: a git repository with a base commit on
//! `main` and a head commit on `feature`, one test per verdict, and the triage job's
//! verdicts by test name.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use flaky_detector::Summary;
use flaky_detector::analysis::triage::TriageVerdict;

/// The tests every runner's project holds, by what head did to them, and the verdict each
/// must get. Each test reads the run's seed from `TEST_SEED`:
/// - `regression`: passes at base, fails every run at head;
/// - `flaky_before`: fails when the seed is a multiple of 3, on both sides;
/// - `new_flake`: passes at base, fails for even seeds at head;
/// - `ci_only`: fails only where `CI_ONLY=1` (the red CI run), so never in the triage;
/// - `brand_new`: only at head, where it fails every run;
/// - `broken_both`: fails every run on both sides.
pub const EXPECTED: [(&str, TriageVerdict, bool); 6] = [
    ("regression", TriageVerdict::Regression, false),
    ("flaky_before", TriageVerdict::FlakyBefore, false),
    ("new_flake", TriageVerdict::NewFlake, false),
    ("ci_only", TriageVerdict::CouldNotReproduce, false),
    ("brand_new", TriageVerdict::Regression, true),
    ("broken_both", TriageVerdict::BrokenAtBase, false),
];

/// Runs `git` in `dir`, panicking with its output when it fails.
pub fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Makes `dir` a repository: `base` files committed on `main`, then `head` files (written
/// over them) committed on `feature`; `main` is checked out again, as a clone of the
/// repository would have it. `ignore` lines go in `.gitignore` on both.
pub fn base_and_head(dir: &Path, base: &[(&str, String)], head: &[(&str, String)], ignore: &str) {
    let write = |files: &[(&str, String)]| {
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, text).expect("write");
        }
    };
    git(dir, &["init", "-q", "-b", "main"]);
    std::fs::write(dir.join(".gitignore"), ignore).expect("gitignore");
    write(base);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "base"]);
    git(dir, &["checkout", "-qb", "feature"]);
    write(head);
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "head"]);
    git(dir, &["checkout", "-q", "main"]);
}

/// Each triaged test's verdict and whether it was new at head, by the name's last word
/// (the part after the last `::`, `.`, `/` or space, without `Test`/`test_`, lower case,
/// no `_`).
pub fn verdicts(summary: &Summary) -> BTreeMap<String, (TriageVerdict, bool)> {
    let triage = summary.triage.as_ref().expect("a triage report");
    triage
        .tests
        .iter()
        .map(|t| {
            let short = t
                .test
                .rsplit([':', '.', '/', ' '])
                .next()
                .unwrap_or(&t.test)
                .trim_start_matches("Test")
                .trim_start_matches("test_");
            (normal(short), (t.verdict, t.new_at_head))
        })
        .collect()
}

/// The verdicts [`EXPECTED`] says, in the shape of [`verdicts`].
pub fn expected() -> BTreeMap<String, (TriageVerdict, bool)> {
    EXPECTED
        .iter()
        .map(|(name, verdict, new)| (normal(name), (*verdict, *new)))
        .collect()
}

/// `flaky_before`, `FlakyBefore` and `flakybefore` alike.
fn normal(name: &str) -> String {
    name.to_lowercase().replace('_', "")
}
