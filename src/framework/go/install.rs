//! Go's install recipe: `go mod download` into a shared module cache, tests built once.

use crate::framework::Framework;
use crate::framework::install::steps::{Plan, Step, cache_key, cached_install};
use crate::framework::install::{
    InstallContext, InstallStatus, Prepared, find_on_path, present, skipped,
};

/// `go mod download` into a module cache shared by every job (Go's cache is safe for
/// concurrent use and content-addressed), then the test binaries built once, so parallel
/// runs do not all compile the same packages against a cold build cache.
///
/// The runs get `-count=1` through `GOFLAGS`, because `go test` otherwise answers a repeated
/// run from its result cache (keyed on the variables the test read, so a replayed seed that
/// passed once would never run again), and `GOTOOLCHAIN=local`, because a worker cannot
/// download the toolchain a `go.mod` asks for. Flags the user put in `GOFLAGS` or on the
/// command line still apply (the command line wins over `GOFLAGS`).
pub(in crate::framework) async fn install(ctx: &InstallContext<'_>) -> Prepared {
    let go_root = ctx.cache_dir.join("go");
    let inherited = |name: &str| {
        ctx.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let goflags = match inherited("GOFLAGS") {
        Some(user) => format!("{user} -modcacherw -count=1"),
        None => "-modcacherw -count=1".to_string(),
    };
    let env = vec![
        (
            "GOMODCACHE".to_string(),
            go_root.join("mod").display().to_string(),
        ),
        (
            "GOCACHE".to_string(),
            go_root.join("build").display().to_string(),
        ),
        ("GOFLAGS".to_string(), goflags),
        (
            "GOTOOLCHAIN".to_string(),
            inherited("GOTOOLCHAIN").unwrap_or_else(|| "local".to_string()),
        ),
    ];
    if !ctx.checkout.join("go.mod").exists() {
        return skipped(
            Framework::Go,
            InstallStatus::Skipped,
            Some("no go.mod".into()),
        );
    }
    let files = present(ctx.checkout, &["go.mod", "go.sum"]);
    let key = cache_key(ctx.checkout, "go-v1", &files, false, ctx.choices);
    let marker_dir = go_root.join("downloaded").join(&key);
    let go = find_on_path(ctx.env, "go").unwrap_or_else(|| "go".into());
    // `-exec=true` builds every test binary of the module (filling the shared build cache)
    // and hands it to `true` instead of running it, so no test code runs at install time.
    let fetch = match &ctx.choices.install_command {
        Some(line) => Step::custom(line),
        None => Step::fetch(
            vec![go.clone(), "mod".into(), "download".into()],
            "go mod download",
        ),
    };
    let steps = vec![
        fetch,
        Step::build(
            vec![
                go.clone(),
                "test".into(),
                "-exec=true".into(),
                "./...".into(),
            ],
            "go test -exec=true ./... (building the tests)",
        ),
    ];
    let plan = Plan {
        key: &key,
        store: &marker_dir,
        steps: &steps,
        link_back: None,
        path_prefix: Vec::new(),
        env,
        toolchain: vec![vec![go, "version".into()]],
        way_out: format!(
            "fix the `require` in `go.mod` (or make the module reachable: GOPROXY, \
             GOPRIVATE, GONOSUMDB in the worker's environment), or set `install_command` in {}",
            crate::config::FILE_NAME
        ),
    };
    cached_install(ctx, plan).await
}
