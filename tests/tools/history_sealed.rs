//! Issue 21 (a second security review), the history findings against a real PostgreSQL
//! server: NUL bytes in a run's output, a pending entry the database refuses, entries of
//! another database, and entries that are not regular files. Each test is named after what
//! it proves.

use crate::support::pg as pg_support;
use crate::support::summaries;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::Utc;
use flaky_detector::history::pending::{PendingJob, read_entry};
use flaky_detector::history::{JobFilter, Store};
use pg_support::{PASSWORD, PgServer};
use serde_json::Value;
use tempfile::TempDir;

use crate::support::BIN;

/// Runs `sql` on the server as the test's superuser.
async fn sql(url: &str, sql: &str) -> Vec<tokio_postgres::SimpleQueryMessage> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("the test connects");
    let driver = tokio::spawn(connection);
    let rows = client.simple_query(sql).await.expect("the SQL runs");
    drop(client);
    let _ = driver.await;
    rows
}

/// The first column of the first row `query` returns.
async fn one_text(url: &str, query: &str) -> String {
    sql(url, query)
        .await
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .unwrap_or_default()
}

/// Writes a pending entry for `store_identity` (or none) named after `name`, with the fixed
/// summary whose repository is `repo`.
fn pending_entry(dir: &Path, name: &str, store_identity: Option<String>, repo: &str) {
    let mut summary = summaries::summary("flaky");
    summary.repo = repo.to_string();
    let job = PendingJob {
        recorded_at: Utc::now(),
        store: store_identity,
        summary,
    };
    std::fs::create_dir_all(dir).expect("pending dir");
    std::fs::write(
        dir.join(format!("{name}.json")),
        serde_json::to_vec(&job).expect("encodes"),
    )
    .expect("written");
}

/// The repositories of the jobs in `url`'s database, sorted.
async fn recorded_repos(url: &str) -> Vec<String> {
    let mut repos: Vec<String> = sql(url, "SELECT repo FROM jobs ORDER BY repo")
        .await
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        })
        .collect();
    repos.sort();
    repos
}

/// Finding 5: one NUL byte in a run's output made the job unrecordable in PostgreSQL
/// (`invalid byte sequence … 0x00`), so it waited in the pending folder forever. Now it is
/// recorded, the NUL stored as `␀`.
#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_finding_5_a_nul_byte_in_a_runs_output_is_recorded_in_postgres() {
    let pg = PgServer::start();
    let url = pg.url();
    let dir = TempDir::new().expect("temp dir");
    let repo = crate::support::project(&[("t.sh", "printf 'before\\000after'; exit 1\n")]);
    let output = Command::new(BIN)
        .env("FLAKY_CACHE_DIR", dir.path().join("cache"))
        .env("FLAKY_WORK_DIR", dir.path().join("work"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env_remove("FLAKY_DB")
        .args(["run", "--json", "--repo"])
        .arg(repo.path())
        .args(["-c", "sh t.sh", "--runs", "2", "--db", &url])
        .output()
        .expect("the binary starts");
    let summary: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("a summary: {}", String::from_utf8_lossy(&output.stderr)));
    assert!(summary["run_id"].is_i64(), "recorded: {summary}");
    assert_eq!(
        summary["results"][0]["stdout"], "before\u{0}after",
        "the summary keeps the byte"
    );
    let stored = one_text(&url, "SELECT stdout FROM runs ORDER BY id LIMIT 1").await;
    assert_eq!(stored, "before\u{2400}after");
    assert!(
        !dir.path()
            .join("data/flaky-detector/history-pending")
            .exists()
            || std::fs::read_dir(dir.path().join("data/flaky-detector/history-pending"))
                .expect("listed")
                .next()
                .is_none(),
        "nothing left pending"
    );
}

/// Finding 5: an entry the database refuses stayed first in the folder, and every later
/// try stopped on it. Now it is set aside with the database's reason, and the entries
/// behind it are recorded.
#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_finding_5_an_entry_the_database_refuses_never_blocks_the_ones_behind_it() {
    let pg = PgServer::start();
    let url = pg.url();
    let dir = TempDir::new().expect("temp dir");
    let pending = dir.path().join("pending");
    let store = Store::connect(&url).expect("connects");
    // A database that refuses one job, as a NUL byte used to make it: a data exception.
    sql(
        &url,
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN IF NEW.repo = 'poison' THEN \
           RAISE EXCEPTION 'invalid byte sequence' USING ERRCODE = '22021'; \
         END IF; RETURN NEW; END $$; \
         CREATE TRIGGER refuse_poison BEFORE INSERT ON jobs \
           FOR EACH ROW EXECUTE FUNCTION refuse_poison();",
    )
    .await;
    let mut store = store;
    store.keep_failed_writes_in(pending.clone());
    pending_entry(
        &pending,
        "20260101T000000-a",
        Some(store.identity()),
        "poison",
    );
    pending_entry(
        &pending,
        "20260101T000001-b",
        Some(store.identity()),
        "good-1",
    );
    pending_entry(
        &pending,
        "20260101T000002-c",
        Some(store.identity()),
        "good-2",
    );
    let retried = tokio::task::spawn_blocking(move || store.retry_pending())
        .await
        .expect("no panic");
    assert_eq!(
        (retried.recorded, retried.set_aside, retried.left),
        (2, 1, 0)
    );
    assert_eq!(recorded_repos(&url).await, vec!["good-1", "good-2"]);
    let reason = std::fs::read_to_string(pending.join("20260101T000000-a.rejected.reason"))
        .expect("the reason is kept");
    assert!(reason.contains("invalid byte sequence"), "{reason}");
    assert!(!reason.contains(PASSWORD), "{reason}");
    assert!(pending.join("20260101T000000-a.rejected").is_file());
}

/// Finding 6: the pending folder did not say which database a job belonged to, so a job
/// kept while database A was down was written into database B. Now each entry names its
/// store and only that store takes it.
#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_finding_6_a_pending_job_is_only_written_to_the_database_it_belongs_to() {
    let pg = PgServer::start();
    let url_a = pg.url();
    sql(&url_a, "CREATE DATABASE other").await;
    let url_b = url_a.replace("/postgres?", "/other?");
    let dir = TempDir::new().expect("temp dir");
    let pending = dir.path().join("pending");

    // A job of A, kept while A was down (as `save_pending` writes it).
    let a = Store::connect(&url_a).expect("A");
    let a_identity = a.identity();
    drop(a);
    pending_entry(
        &pending,
        "20260101T000000-a",
        Some(a_identity.clone()),
        "for-a",
    );

    // B starts with the same pending folder: it leaves A's job alone.
    let mut b = Store::connect(&url_b).expect("B");
    assert_ne!(b.identity(), a_identity);
    b.keep_failed_writes_in(pending.clone());
    let retried = tokio::task::spawn_blocking(move || b.retry_pending())
        .await
        .expect("no panic");
    assert_eq!((retried.recorded, retried.other_stores), (0, 1));
    assert!(recorded_repos(&url_b).await.is_empty());
    assert!(
        pending.join("20260101T000000-a.json").is_file(),
        "still waiting"
    );

    // A, reached through a URL with another password spelling and sslmode, takes it.
    let mut a = Store::connect(&format!("{url_a}&application_name=x")).expect("A again");
    assert_eq!(a.identity(), a_identity);
    a.keep_failed_writes_in(pending.clone());
    let a = std::sync::Arc::new(a);
    let writer = std::sync::Arc::clone(&a);
    let retried = tokio::task::spawn_blocking(move || writer.retry_pending())
        .await
        .expect("no panic");
    assert_eq!(retried.recorded, 1);
    assert_eq!(recorded_repos(&url_a).await, vec!["for-a"]);
    assert_eq!(a.count_jobs(&JobFilter::default()).expect("reads"), 1);
}

/// Finding 7: a FIFO in the pending folder hung start-up (`run --db postgres://…`): it was
/// read with no file-type or size check. Now a FIFO, a symlink and an oversized entry are
/// skipped or set aside, never block, and the good entry is recorded.
#[cfg_attr(
    not(has_postgres),
    ignore = "needs PostgreSQL (apt-get install postgresql)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_finding_7_a_fifo_symlink_or_huge_pending_entry_never_hangs_or_blocks_run() {
    let pg = PgServer::start();
    let url = pg.url();
    let dir = TempDir::new().expect("temp dir");
    let pending = dir.path().join("data/flaky-detector/history-pending");
    let identity = Store::connect(&url).expect("connects").identity();
    nix::unistd::mkfifo(
        &pending_fifo(&pending),
        nix::sys::stat::Mode::S_IRUSR | nix::sys::stat::Mode::S_IWUSR,
    )
    .expect("mkfifo");
    let secret = dir.path().join("secret.json");
    std::fs::write(&secret, "{}").expect("a file elsewhere");
    std::os::unix::fs::symlink(&secret, pending.join("20260101T000001-link.json"))
        .expect("symlink");
    // A sparse file past the cap: refused by size, never read into memory.
    let huge = std::fs::File::create(pending.join("20260101T000002-huge.json")).expect("huge");
    huge.set_len(flaky_detector::history::pending::ENTRY_CAP + 1)
        .expect("sparse");
    drop(huge);
    assert!(read_entry(&pending.join("20260101T000002-huge.json")).is_err());
    pending_entry(&pending, "20260101T000003-good", Some(identity), "good");

    let repo = crate::support::project(&[("t.sh", "exit 0\n")]);
    let mut child = Command::new(BIN)
        .env("FLAKY_CACHE_DIR", dir.path().join("cache"))
        .env("FLAKY_WORK_DIR", dir.path().join("work"))
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env_remove("FLAKY_DB")
        .args(["run", "--json", "--repo"])
        .arg(repo.path())
        .args(["-c", "sh t.sh", "--runs", "1", "--db", &url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("the binary starts");
    // A hang guard, not a speed check: the job takes well under a second.
    let mut waited = Duration::ZERO;
    while child.try_wait().expect("waits").is_none() {
        if waited > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("`run` hung on the pending folder");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += Duration::from_millis(100);
    }
    assert_eq!(
        recorded_repos(&url).await.len(),
        2,
        "the good entry and the job"
    );
    assert!(recorded_repos(&url).await.contains(&"good".to_string()));
    assert!(pending_fifo(&pending).exists(), "the FIFO is left alone");
    assert_eq!(
        std::fs::read_to_string(&secret).expect("still there"),
        "{}",
        "a symlink's target is never moved or changed"
    );
    assert!(pending.join("20260101T000002-huge.unreadable").exists());
}

/// The FIFO's path in `pending` (created with its parents).
fn pending_fifo(pending: &Path) -> std::path::PathBuf {
    std::fs::create_dir_all(pending).expect("pending dir");
    pending.join("20260101T000000-fifo.json")
}

/// `openssl args…` in `dir`; panics on failure.
fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A private CA and a server certificate it signed for `localhost` only (no IP address), in
/// `dir`: `ca.crt`, `server.crt`, `server.key`.
fn private_ca(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=flaky test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    openssl(dir, &ca);
    let mut csr = vec!["req", "-subj", "/CN=localhost"];
    csr.extend(ec);
    csr.extend(["-keyout", "server.key", "-out", "server.csr"]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n",
    )
    .expect("extensions");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext",
            "-out",
            "server.crt",
        ],
    );
}

/// Finding 9: PostgreSQL TLS could not trust a private CA: `require` failed the handshake
/// against a self-signed server, `verify-full` was refused as invalid, `sslrootcert` was
/// unknown. Now `require` encrypts as libpq does, `verify-ca`/`verify-full` check against the
/// system roots plus `sslrootcert`, and a certificate they cannot trust is a one-line error.
#[cfg_attr(
    not(all(has_postgres, has_openssl)),
    ignore = "needs PostgreSQL and openssl (apt-get install postgresql openssl)"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_21_finding_9_postgres_tls_takes_a_private_ca_through_sslrootcert() {
    let pg = PgServer::start();
    let certs = TempDir::new().expect("temp dir");
    private_ca(certs.path());
    pg.enable_ssl(
        &certs.path().join("server.crt"),
        &certs.path().join("server.key"),
    );
    let plain = pg.url();
    let ca = certs.path().join("ca.crt");
    let url = |host: &str, query: &str| {
        format!(
            "postgres://{}:{PASSWORD}@{host}:{}/postgres?{query}",
            pg_support::USER,
            pg.port
        )
    };
    let tls_connections = || async {
        one_text(
            &plain,
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE s.ssl AND a.usename = 'flaky'",
        )
        .await
    };

    // require: encrypted, certificate not checked (libpq's meaning).
    let store = Store::connect(&url("127.0.0.1", "sslmode=require")).expect("require connects");
    assert_eq!(tls_connections().await, "1", "the pooled connection is TLS");
    drop(store);

    // verify-full with the CA and the name in the certificate.
    let ca_query = format!("sslmode=verify-full&sslrootcert={}", ca.display());
    Store::connect(&url("localhost", &ca_query)).expect("verify-full connects with the CA");

    // verify-ca: the chain is enough, whatever the host is called.
    let chain = format!("sslmode=verify-ca&sslrootcert={}", ca.display());
    Store::connect(&url("127.0.0.1", &chain)).expect("verify-ca connects by address");

    // verify-full by address: the certificate names localhost only.
    let error = Store::connect(&url("127.0.0.1", &ca_query)).expect_err("the name differs");
    let message = flaky_detector::errors::one_line(&error);
    assert!(message.contains("certificate"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");

    // verify-full without the CA: not trusted, said on one line.
    let error = Store::connect(&url("localhost", "sslmode=verify-full")).expect_err("untrusted");
    let message = flaky_detector::errors::one_line(&error);
    assert!(!message.contains('\n'), "{message}");
    assert!(message.contains("UnknownIssuer"), "{message}");
    assert!(!message.contains(PASSWORD), "{message}");
}
