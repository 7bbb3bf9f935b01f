//! Rust's install recipe: `cargo fetch` and `cargo test --no-run` per lockfile.

use crate::framework::Framework;
use crate::framework::install::steps::{Plan, Step, cache_key, cached_install};
use crate::framework::install::{
    InstallContext, InstallStatus, Prepared, find_on_path, present, skipped,
};

/// `cargo fetch`, then `cargo test --no-run`, once per lockfile into a target directory kept
/// per lockfile. Building the tests here, under the install timeout, keeps the build out of
/// the runs: otherwise every parallel run waits on Cargo's build lock while its own timeout
/// runs. `cargo nextest run` builds the same test profile, so it reuses these artifacts.
pub(in crate::framework) async fn install(ctx: &InstallContext<'_>) -> Prepared {
    let files = present(ctx.checkout, &["Cargo.toml", "Cargo.lock"]);
    if files.is_empty() {
        return skipped(
            Framework::Rust,
            InstallStatus::Skipped,
            Some("no Cargo.toml".into()),
        );
    }
    let key = cache_key(ctx.checkout, "rust-v1", &files, false, ctx.choices);
    let store = ctx.cache_dir.join("rust").join(&key);
    let env = vec![(
        "CARGO_TARGET_DIR".to_string(),
        store.join("target").display().to_string(),
    )];
    let cargo = find_on_path(ctx.env, "cargo").unwrap_or_else(|| "cargo".into());
    let fetch = match &ctx.choices.install_command {
        Some(line) => Step::custom(line),
        None => Step::fetch(vec![cargo.clone(), "fetch".into()], "cargo fetch"),
    };
    let steps = vec![
        fetch,
        Step::build(
            vec![cargo.clone(), "test".into(), "--no-run".into()],
            "cargo test --no-run (building the tests)",
        ),
    ];
    let plan = Plan {
        key: &key,
        store: &store,
        steps: &steps,
        link_back: None,
        path_prefix: Vec::new(),
        env,
        toolchain: vec![vec![cargo, "--version".into()]],
        way_out: format!(
            "fix the dependency in `Cargo.toml` (a version that exists, or one this toolchain \
             builds), or set `install_command` in {}",
            crate::config::FILE_NAME
        ),
    };
    cached_install(ctx, plan).await
}
