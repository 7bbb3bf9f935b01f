//! Benchmark of per-run places (issue 7): for a repository of 50 MB with a 200 MB virtualenv
//! inside it, what making and removing a run's place costs in each isolation mode (ms per
//! run at parallelism 8, with each "run" changing one tracked file and adding one), and how
//! much new disk 8 places in flight use; then the same per-run cost for a tiny repository at
//! parallelism 2 (the core benchmark's setting), which is the overhead isolation adds to
//! every run. `scripts/bench-isolation.sh` runs it (`cargo bench --bench isolation`).
//!
//! Usage: `cargo bench --bench isolation -- [DIR] [RUNS]` (DIR: where to build the fixture, default the
//! system temp dir; it must be the filesystem the detector's work dir is on).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use flaky_detector::config::Isolation;
use flaky_detector::runner::isolation::{Manifest, PlaceSpec, Places, Share};
use flaky_detector::workspace::copy::Reflinks;
use rand::RngCore;
use tokio::sync::Semaphore;

const MB: u64 = 1024 * 1024;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // `cargo bench` appends `--bench` to the arguments; it is not one of ours.
    let args: Vec<String> = std::env::args().filter(|arg| arg != "--bench").collect();
    let parent = args
        .get(1)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let runs: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(48);
    let scratch = tempfile::Builder::new()
        .prefix("bench-isolation-")
        .tempdir_in(&parent)?;
    let checkout = scratch.path().join("checkout");

    if runs > 0 {
        big(&checkout, scratch.path(), runs).await?;
    }
    let tiny = scratch.path().join("tiny");
    std::fs::create_dir_all(tiny.join("src"))?;
    std::fs::write(tiny.join("README"), "tiny\n")?;
    std::fs::write(tiny.join("src/main.py"), "print(1)\n")?;
    println!("\ntiny repository (2 files), parallelism 2, 500 places:");
    measure(&tiny, &scratch.path().join("small"), 2, 500).await?;
    Ok(())
}

/// The 50 MB repository with a 200 MB virtualenv, at parallelism 8.
async fn big(
    checkout: &Path,
    scratch: &Path,
    runs: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let (repo_bytes, venv_bytes) = build_fixture(checkout)?;
    println!(
        "fixture: repository {} MB ({} files) + .venv {} MB ({} files), built in {:.1} s",
        repo_bytes.0 / MB,
        repo_bytes.1,
        venv_bytes.0 / MB,
        venv_bytes.1,
        started.elapsed().as_secs_f64()
    );
    let manifest = Manifest::scan(checkout)?;
    let sample = manifest.sample_file().ok_or("the fixture has files")?;
    let reflinks = Reflinks::probe(&sample, scratch);
    println!(
        "filesystem clones (FICLONE): {}; entries copied {}, hard-linked {}",
        if reflinks.supported() == Some(true) {
            "yes"
        } else {
            "no"
        },
        manifest.count(Share::Own),
        manifest.count(Share::Link)
    );
    measure(checkout, &scratch.join("big"), 8, runs).await?;
    Ok(())
}

/// Prints, per mode, the cost of the first round of places, the per-run cost of `runs`
/// places at `parallelism`, and the disk a job holds at that parallelism: after one round of
/// places (a slot then keeps its copy in `slot` mode; its used copy and the next one, made
/// ahead, in `run` mode). Disk is given twice: blocks of new inodes (hard links are free; a
/// clone counts in full, so this is an upper bound on copy-on-write filesystems) and the
/// change in the filesystem's used space (exact, but it also counts other writers).
async fn measure(
    checkout: &Path,
    work: &Path,
    parallelism: usize,
    runs: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let prepared_inodes = inodes(checkout)?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    println!(
        "{:<8} {:>16} {:>14} {:>20} {:>16}",
        "mode",
        "first place ms",
        format!("ms/run (P{parallelism})"),
        format!("new inodes MB (P{parallelism})"),
        "df delta MB"
    );
    for isolation in [Isolation::Run, Isolation::Slot, Isolation::Shared] {
        let name = format!("{isolation:?}").to_lowercase();
        let runs_dir = work.join(format!("runs-{name}"));
        let places = Places::default();
        let spec = Spec {
            isolation,
            checkout: checkout.to_path_buf(),
            runs_dir: runs_dir.clone(),
            env: env.clone(),
        };
        // The first round makes the slot copies (slot mode) and the snapshot (all modes).
        let used_before = used_bytes(work)?;
        let first = Instant::now();
        let held = enter_many(&places, &spec, 0, parallelism).await?;
        let first_ms = first.elapsed().as_secs_f64() * 1000.0 / parallelism as f64;
        for place in held {
            place.leave().await;
        }
        let disk = new_bytes(&runs_dir, &prepared_inodes)?;
        let df_delta = used_bytes(work)?.saturating_sub(used_before);
        let timed = Instant::now();
        run_many(&places, &spec, parallelism, parallelism as u32, runs).await?;
        let per_run = timed.elapsed().as_secs_f64() * 1000.0 / runs as f64;
        println!(
            "{name:<8} {first_ms:>16.2} {per_run:>14.3} {:>20.1} {:>16.1}",
            disk as f64 / MB as f64,
            df_delta as f64 / MB as f64
        );
    }
    println!(
        "(ms/run: wall time of {runs} places made, used and left, {parallelism} at once, \
         divided by {runs}; each use appends to a tracked file and writes a new one)"
    );
    Ok(())
}

#[derive(Clone)]
struct Spec {
    isolation: Isolation,
    checkout: PathBuf,
    runs_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Spec {
    fn place_spec(&self) -> PlaceSpec<'_> {
        PlaceSpec {
            isolation: self.isolation,
            checkout: &self.checkout,
            runs_dir: &self.runs_dir,
            preserve: false,
            env: &self.env,
        }
    }
}

async fn enter_many(
    places: &Places,
    spec: &Spec,
    first_attempt: u32,
    count: usize,
) -> Result<Vec<flaky_detector::runner::isolation::RunPlace>, Box<dyn std::error::Error>> {
    let mut set = tokio::task::JoinSet::new();
    for i in 0..count {
        let (places, spec) = (places.clone(), spec.clone());
        set.spawn(async move {
            let place = places
                .enter(&spec.place_spec(), first_attempt + i as u32)
                .await?;
            act_like_a_test(place.cwd(), spec.isolation)?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(place)
        });
    }
    let mut held = Vec::new();
    while let Some(joined) = set.join_next().await {
        held.push(joined?.map_err(|e| e.to_string())?);
    }
    Ok(held)
}

async fn run_many(
    places: &Places,
    spec: &Spec,
    parallelism: usize,
    first_attempt: u32,
    runs: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let semaphore = Arc::new(Semaphore::new(parallelism));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..runs {
        let permit = semaphore.clone().acquire_owned().await?;
        let (places, spec) = (places.clone(), spec.clone());
        set.spawn(async move {
            let _permit = permit;
            let place = places
                .enter(&spec.place_spec(), first_attempt + i as u32)
                .await?;
            act_like_a_test(place.cwd(), spec.isolation)?;
            place.leave().await;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        });
    }
    while let Some(joined) = set.join_next().await {
        joined?.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// What a typical test leaves behind: a changed tracked file and a new one. In `shared` mode
/// the prepared checkout itself is the working directory, so it is left alone there.
fn act_like_a_test(cwd: &Path, isolation: Isolation) -> std::io::Result<()> {
    if isolation == Isolation::Shared {
        return Ok(());
    }
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(cwd.join("README"))?
        .write_all(b"# touched\n")?;
    std::fs::write(cwd.join("state.txt"), std::process::id().to_string())
}

/// A repository of ~50 MB (800 small sources, 20 data files) and, inside it, a virtualenv of
/// ~200 MB (10 000 files of 20 KB). Returns (bytes, files) of each.
fn build_fixture(root: &Path) -> std::io::Result<((u64, usize), (u64, usize))> {
    let mut rng = rand::rng();
    let mut write = |path: PathBuf, size: usize| -> std::io::Result<u64> {
        std::fs::create_dir_all(path.parent().expect("fixture paths have parents"))?;
        let mut data = vec![0u8; size];
        rng.fill_bytes(&mut data);
        std::fs::write(path, data)?;
        Ok(size as u64)
    };
    let mut repo = (write(root.join("README"), 4 * 1024)?, 1);
    for i in 0..800 {
        let path = root.join(format!("src/pkg{}/mod{}.py", i / 40, i % 40));
        repo.0 += write(path, 8 * 1024)?;
        repo.1 += 1;
    }
    for i in 0..20 {
        repo.0 += write(root.join(format!("data/blob{i}.bin")), 2_300 * 1024)?;
        repo.1 += 1;
    }
    let venv = root.join(".venv");
    std::fs::create_dir_all(&venv)?;
    std::fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n")?;
    let mut env = (0, 0);
    for i in 0..10_000 {
        let path = venv.join(format!(
            "lib/python3.11/site-packages/dist{}/module{}.py",
            i / 100,
            i % 100
        ));
        env.0 += write(path, 20 * 1024)?;
        env.1 += 1;
    }
    Ok((repo, env))
}

/// Used bytes of the filesystem holding `dir` (after a `sync`, so delayed allocation counts).
fn used_bytes(dir: &Path) -> Result<u64, Box<dyn std::error::Error>> {
    std::fs::create_dir_all(dir)?;
    std::process::Command::new("sync")
        .arg("-f")
        .arg(dir)
        .status()?;
    let out = std::process::Command::new("df")
        .args(["-B1", "--output=used"])
        .arg(dir)
        .output()?;
    let text = String::from_utf8(out.stdout)?;
    let used = text.lines().nth(1).ok_or("df printed no figure")?.trim();
    Ok(used.parse()?)
}

/// Inode numbers under `root`.
fn inodes(root: &Path) -> std::io::Result<HashSet<u64>> {
    let mut seen = HashSet::new();
    walk(root, &mut |meta| {
        seen.insert(meta.ino());
    })?;
    Ok(seen)
}

/// Bytes allocated under `root` to inodes that are not the prepared checkout's (hard links
/// cost nothing; each new inode counts once). On a copy-on-write filesystem clones share
/// extents, so this is an upper bound there.
fn new_bytes(root: &Path, prepared: &HashSet<u64>) -> std::io::Result<u64> {
    let mut seen = HashSet::new();
    let mut bytes = 0;
    walk(root, &mut |meta| {
        if !prepared.contains(&meta.ino()) && seen.insert(meta.ino()) {
            bytes += meta.blocks() * 512;
        }
    })?;
    Ok(bytes)
}

fn walk(dir: &Path, visit: &mut dyn FnMut(&std::fs::Metadata)) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = std::fs::symlink_metadata(entry.path())?;
        visit(&meta);
        if meta.is_dir() {
            walk(&entry.path(), visit)?;
        }
    }
    Ok(())
}
