//! `triage` outside pytest: a Go package and a Jest file, each in a git repository made
//! here with a base commit on `main` and a head commit on `feature`, one test per verdict
//! (see `support::triage::EXPECTED`), the failing tests named as the job's reports name them.

use crate::support::pertest::{require_tool, run_job};
use crate::support::triage::{base_and_head, expected, verdicts};

use serde_json::json;

/// A Go package's tests: `head` selects the head commit's versions.
fn go_source(head: bool) -> String {
    let mut src = String::from(
        "package triage\n\nimport (\n\t\"os\"\n\t\"strconv\"\n\t\"testing\"\n)\n\n\
         func seed() int { n, _ := strconv.Atoi(os.Getenv(\"TEST_SEED\")); return n }\n\n\
         func TestFlakyBefore(t *testing.T) { if seed()%3 == 0 { t.Fatal(\"flaky on main too\") } }\n\
         func TestCiOnly(t *testing.T) { if os.Getenv(\"CI_ONLY\") == \"1\" { t.Fatal(\"only in CI\") } }\n\
         func TestBrokenBoth(t *testing.T) { t.Fatal(\"broken on main too\") }\n\
         func TestStable(t *testing.T) {}\n",
    );
    if head {
        src.push_str(
            "func TestRegression(t *testing.T) { if 1+1 != 3 { t.Fatal(\"broken by the change\") } }\n\
             func TestNewFlake(t *testing.T) { if seed()%2 == 0 { t.Fatal(\"flaky since the change\") } }\n\
             func TestBrandNew(t *testing.T) { t.Fatal(\"new and failing\") }\n",
        );
    } else {
        src.push_str(
            "func TestRegression(t *testing.T) {}\n\
             func TestNewFlake(t *testing.T) {}\n",
        );
    }
    src
}

/// The same tests as a Jest file in a `triage` block.
fn jest_source(head: bool) -> String {
    let mut src = String::from(
        "const seed = Number(process.env.TEST_SEED);\n\ndescribe('triage', () => {\n\
         \x20 test('flaky_before', () => { expect(seed % 3).not.toBe(0); });\n\
         \x20 test('ci_only', () => { expect(process.env.CI_ONLY).not.toBe('1'); });\n\
         \x20 test('broken_both', () => { expect('main').toBe('fixed'); });\n\
         \x20 test('stable', () => {});\n",
    );
    if head {
        src.push_str(
            "  test('regression', () => { expect(1 + 1).toBe(3); });\n\
             \x20 test('new_flake', () => { expect(seed % 2).not.toBe(0); });\n\
             \x20 test('brand_new', () => { expect('new').toBe('passing'); });\n",
        );
    } else {
        src.push_str(
            "  test('regression', () => { expect(1 + 1).toBe(2); });\n\
             \x20 test('new_flake', () => {});\n",
        );
    }
    src.push_str("});\n");
    src
}

async fn triage(
    repo: &std::path::Path,
    command: &str,
    tests: Vec<String>,
) -> flaky_detector::Summary {
    run_job(json!({
        "repo": repo,
        "ref": "feature",
        "test_command": command,
        "seeds": (1..=12).collect::<Vec<u64>>(),
        "parallelism": 4,
        "tests": tests,
        "triage": {"max_runs": 12},
    }))
    .await
}

#[cfg_attr(not(has_go), ignore = "needs go (apt-get install golang)")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failing_go_test_gets_its_verdict() {
    require_tool("go", "apt-get install -y golang");
    let repo = tempfile::tempdir().expect("repo dir");
    let go_mod = "module example.com/triage\n\ngo 1.19\n".to_string();
    base_and_head(
        repo.path(),
        &[("go.mod", go_mod), ("triage_test.go", go_source(false))],
        &[("triage_test.go", go_source(true))],
        "",
    );
    let tests = [
        "Regression",
        "FlakyBefore",
        "NewFlake",
        "CiOnly",
        "BrandNew",
        "BrokenBoth",
    ]
    .iter()
    .map(|name| format!("example.com/triage::Test{name}"))
    .collect();
    let summary = triage(repo.path(), "go test ./...", tests).await;
    assert_eq!(verdicts(&summary), expected(), "{:#?}", summary.triage);
}

#[cfg_attr(
    not(has_node),
    ignore = "needs Node 20 with npm (apt-get install nodejs npm)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failing_jest_test_gets_its_verdict() {
    require_tool("npm", "apt-get install -y nodejs npm");
    let repo = tempfile::tempdir().expect("repo dir");
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/typescript-jest");
    let manifest =
        |name: &str| std::fs::read_to_string(example.join(name)).expect("the example's manifest");
    base_and_head(
        repo.path(),
        &[
            ("package.json", manifest("package.json")),
            ("package-lock.json", manifest("package-lock.json")),
            (
                "jest.config.js",
                "module.exports = { testEnvironment: 'node' };\n".into(),
            ),
            ("triage.test.js", jest_source(false)),
        ],
        &[("triage.test.js", jest_source(true))],
        "node_modules/\n",
    );
    let tests = [
        "regression",
        "flaky_before",
        "new_flake",
        "ci_only",
        "brand_new",
        "broken_both",
    ]
    .iter()
    .map(|name| format!("triage.test.js::triage › {name}"))
    .collect();
    let summary = triage(repo.path(), "npx jest", tests).await;
    assert_eq!(verdicts(&summary), expected(), "{:#?}", summary.triage);
}
