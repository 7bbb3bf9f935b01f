//! Figures for the RunPod front ends, printed rather than asserted (a busy machine must not
//! fail a build): worker start to its first job-take request, the idle worker's memory and
//! CPU, and `serve` answering `/status` under load (with `wrk`) while a job runs. Run it with
//! `scripts/bench-runpod.sh` (`cargo bench --bench runpod`).

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{get, post};

const BIN: &str = env!("CARGO_BIN_EXE_flaky-detector");
/// How long the fake platform holds an empty job-take, like RunPod's long poll.
const HOLD: Duration = Duration::from_secs(5);

/// A fake platform that only records when job-take requests arrive and then holds them.
async fn fake_platform(takes: Arc<Mutex<Vec<Instant>>>) -> std::net::SocketAddr {
    let app = Router::new()
        .route(
            "/v2/ep/job-take/{worker}",
            get(move || {
                let takes = takes.clone();
                async move {
                    takes.lock().expect("lock").push(Instant::now());
                    tokio::time::sleep(HOLD).await;
                    StatusCode::NO_CONTENT
                }
            }),
        )
        .route(
            "/v2/ep/job-stop/{worker}",
            get(|| async {
                tokio::time::sleep(HOLD).await;
                StatusCode::NO_CONTENT
            }),
        )
        .route(
            "/v2/ep/job-done/{worker}/{job}",
            post(|| async { StatusCode::OK }),
        )
        .route("/v2/ep/ping/{worker}", get(|| async { StatusCode::OK }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

fn spawn_worker(addr: std::net::SocketAddr, scratch: &std::path::Path) -> Child {
    let base = format!("http://{addr}/v2/ep");
    Command::new(BIN)
        .arg("worker")
        .arg("--spool-dir")
        .arg(scratch.join("spool"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", scratch)
        .env(
            "RUNPOD_WEBHOOK_GET_JOB",
            format!("{base}/job-take/$ID?gpu=cpu"),
        )
        .env(
            "RUNPOD_WEBHOOK_POST_OUTPUT",
            format!("{base}/job-done/$RUNPOD_POD_ID/$ID"),
        )
        .env("RUNPOD_WEBHOOK_PING", format!("{base}/ping/$RUNPOD_POD_ID"))
        .env("RUNPOD_POD_ID", "bench")
        .env("RUNPOD_AI_API_KEY", "bench-key")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the worker")
}

fn stop(mut child: Child) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = child.wait();
}

/// Resident memory in KiB and CPU ticks (user + system) of a process, from /proc.
fn rss_and_ticks(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS");
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .expect("comm ends")
        .1
        .split_whitespace()
        .collect();
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the command name.
    let ticks =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    (rss, ticks)
}

async fn worker_figures() {
    let takes: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let addr = fake_platform(takes.clone()).await;
    let scratch = tempfile::tempdir().expect("scratch");

    let mut starts = Vec::new();
    for _ in 0..10 {
        takes.lock().expect("lock").clear();
        let spawned = Instant::now();
        let child = spawn_worker(addr, scratch.path());
        let first = loop {
            if let Some(at) = takes.lock().expect("lock").first().copied() {
                break at;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        starts.push(first - spawned);
        stop(child);
    }
    starts.sort();
    println!(
        "worker start -> first job-take: median {:.1} ms, max {:.1} ms (10 starts; target <= 50 ms)",
        starts[5].as_secs_f64() * 1000.0,
        starts[9].as_secs_f64() * 1000.0
    );

    let child = spawn_worker(addr, scratch.path());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (_, before) = rss_and_ticks(child.id());
    let window = Duration::from_secs(10);
    tokio::time::sleep(window).await;
    let (rss, after) = rss_and_ticks(child.id());
    // /proc counts in USER_HZ ticks: 100 on Linux, but ask getconf where it is available.
    let hz: f64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0);
    let cpu = (after - before) as f64 / hz / window.as_secs_f64() * 100.0;
    println!(
        "idle worker: RSS {:.1} MiB (target <= 20 MiB), CPU {cpu:.2} % over {} s (target ~0)",
        rss as f64 / 1024.0,
        window.as_secs()
    );
    stop(child);
}

async fn serve_figures() {
    let scratch = tempfile::tempdir().expect("scratch");
    let repo = scratch.path().join("repo");
    std::fs::create_dir_all(&repo).expect("repo dir");
    std::fs::write(repo.join("test.sh"), "sleep 600\n").expect("test.sh");
    let stdout = scratch.path().join("stdout");
    let mut server = Command::new(BIN)
        .args(["serve", "--port", "0", "--allow-local-repos"])
        .env("FLAKY_WORK_DIR", scratch.path().join("work"))
        .env("FLAKY_CACHE_DIR", scratch.path().join("cache"))
        .env("RUST_LOG", "warn")
        .stdout(std::fs::File::create(&stdout).expect("stdout file"))
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let base = loop {
        let text = std::fs::read_to_string(&stdout).unwrap_or_default();
        if let Some(url) = text.lines().find_map(|l| l.strip_prefix("listening on ")) {
            break url.trim().to_string();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let client = reqwest::Client::new();
    let job: serde_json::Value = client
        .post(format!("{base}/run"))
        .json(&serde_json::json!({"input": {
            "repo": repo.display().to_string(), "test_command": "sh test.sh",
            "runs": 4, "parallelism": 4}}))
        .send()
        .await
        .expect("run")
        .json()
        .await
        .expect("json");
    let id = job["id"].as_str().expect("an id").to_string();
    tokio::time::sleep(Duration::from_secs(1)).await;

    let url = format!("{base}/status/{id}");
    paced_status_load(&client, &url).await;
    let wrk = Command::new("wrk")
        .args(["-t2", "-c16", "-d10s", "--latency", &url])
        .output();
    match wrk {
        Ok(output) => {
            let text = String::from_utf8_lossy(&output.stdout);
            let rps = text
                .lines()
                .find_map(|l| l.strip_prefix("Requests/sec:"))
                .map(str::trim)
                .unwrap_or("?");
            let p99 = text
                .lines()
                .find_map(|l| l.trim().strip_prefix("99%"))
                .map(str::trim)
                .unwrap_or("?");
            let status: serde_json::Value = client
                .get(&url)
                .send()
                .await
                .expect("status")
                .json()
                .await
                .expect("json");
            println!(
                "serve /status saturated by wrk (2 threads, 16 connections, 10 s, job {}): {rps} requests/s (target >= 1000), p99 {p99}",
                status["status"]
            );
            println!("{text}");
        }
        Err(e) => println!("serve /status: wrk not available ({e}); apt-get install wrk"),
    }
    let _ = client.post(format!("{base}/cancel/{id}")).send().await;
    let pid = nix::unistd::Pid::from_raw(server.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    let _ = server.wait();
}

/// An open-loop load: one `/status` request every millisecond for 10 s (1,000 requests/s,
/// whatever the answers' latency), then the latency percentiles. This is the figure the
/// target speaks of; `wrk` below shows the saturation throughput, where latency includes
/// queueing behind 16 busy connections.
async fn paced_status_load(client: &reqwest::Client, url: &str) {
    const REQUESTS: usize = 10_000;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut requests = tokio::task::JoinSet::new();
    let started = Instant::now();
    for _ in 0..REQUESTS {
        tick.tick().await;
        let (client, url) = (client.clone(), url.to_string());
        requests.spawn(async move {
            let sent = Instant::now();
            let ok = match client.get(&url).send().await {
                Ok(response) => response.status().is_success() && response.bytes().await.is_ok(),
                Err(_) => false,
            };
            (sent.elapsed(), ok)
        });
    }
    let mut latencies = Vec::with_capacity(REQUESTS);
    let mut failed = 0;
    while let Some(joined) = requests.join_next().await {
        let (latency, ok) = joined.expect("request task");
        latencies.push(latency);
        failed += usize::from(!ok);
    }
    let rate = REQUESTS as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize].as_secs_f64() * 1000.0;
    println!(
        "serve /status at a paced 1,000 requests/s for 10 s while a job runs: {rate:.0} requests/s achieved, p50 {:.2} ms, p99 {:.2} ms (target <= 5 ms), max {:.2} ms, {failed} failed",
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

#[tokio::main]
async fn main() {
    // `cargo bench` passes `--bench`; there is nothing to filter.
    println!("flaky-detector RunPod benchmarks ({BIN})");
    worker_figures().await;
    serve_figures().await;
}
