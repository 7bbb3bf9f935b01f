//! Node's install recipe: `npm ci` once per lockfile, `node_modules` linked back.

use crate::framework::install::steps::{Plan, Step, cache_key, cached_install};
use crate::framework::install::{
    InstallContext, InstallStatus, Prepared, find_on_path, present, skipped,
};

/// `npm ci` (or `npm install` without a lockfile) once per lockfile; later jobs get the cached
/// `node_modules` hard-linked into their checkout.
pub(in crate::framework) async fn install(ctx: &InstallContext<'_>) -> Prepared {
    if !ctx.checkout.join("package.json").exists() {
        return skipped(
            ctx.framework,
            InstallStatus::Skipped,
            Some("no package.json".into()),
        );
    }
    let choices = ctx.choices;
    let lockfile = ctx.checkout.join("package-lock.json").exists();
    let files = present(ctx.checkout, &["package.json", "package-lock.json"]);
    let key = cache_key(ctx.checkout, "node-v1", &files, false, choices);
    let store = ctx.cache_dir.join("node").join(&key);
    let npm = find_on_path(ctx.env, "npm").unwrap_or_else(|| "npm".into());
    let verb = if lockfile { "ci" } else { "install" };
    // `--prefer-offline`: packages already in npm's cache are not revalidated, so a second
    // lockfile that shares most packages with a first installs without the network.
    let flags = [
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
    ];
    let mut steps = vec![match &choices.install_command {
        Some(line) => Step::custom(line),
        None => {
            let mut argv = vec![npm.clone(), verb.into()];
            argv.extend(flags.map(String::from));
            Step::fetch(argv, &format!("npm {verb}"))
        }
    }];
    if !choices.extra_packages.is_empty() {
        let mut argv = vec![npm.clone(), "install".into(), "--no-save".into()];
        argv.extend(flags.map(String::from));
        argv.extend(choices.extra_packages.iter().cloned());
        let label = format!("npm install --no-save {}", choices.extra_packages.join(" "));
        steps.push(Step::fetch(argv, &label));
    }
    let bin = ctx.checkout.join("node_modules").join(".bin");
    let node = find_on_path(ctx.env, "node").unwrap_or_else(|| "node".into());
    let way_out = match &choices.install_command {
        Some(_) => format!("fix `install_command` in {}", crate::config::FILE_NAME),
        None => format!(
            "fix the version or name in `package.json`{}, or set `extra_packages` or \
             `install_command` in {}",
            if lockfile {
                " and `package-lock.json`"
            } else {
                ""
            },
            crate::config::FILE_NAME
        ),
    };
    let plan = Plan {
        key: &key,
        store: &store,
        steps: &steps,
        link_back: Some("node_modules"),
        path_prefix: vec![bin],
        env: Vec::new(),
        toolchain: vec![
            vec![node, "--version".into()],
            vec![npm, "--version".into()],
        ],
        way_out,
    };
    cached_install(ctx, plan).await
}
