//! A private PostgreSQL server per test: Debian's binaries (`/usr/lib/postgresql/<ver>/bin`),
//! a temp data directory, 127.0.0.1 on a free port, password authentication. PostgreSQL
//! refuses to run as root, so under root the server runs as the `postgres` user. Without
//! PostgreSQL installed a test says it was skipped, unless `FLAKY_REQUIRE_POSTGRES=1` (CI),
//! where it fails.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

pub const USER: &str = "flaky";
pub const PASSWORD: &str = "s3cret-pw";

pub struct PgServer {
    bin: PathBuf,
    dir: TempDir,
    pub port: u16,
}

fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    versions.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args…`, as the `postgres` user when this process is root.
fn as_server_user(program: &Path, args: &[&str]) -> Output {
    let output = if is_root() {
        Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(program)
            .args(args)
            .output()
    } else {
        Command::new(program).args(args).output()
    };
    output.unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn check(what: &str, output: Output) {
    assert!(
        output.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

impl PgServer {
    /// A fresh server, or `None` (after saying so) when PostgreSQL is not installed.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = bin_dir() else {
            if std::env::var("FLAKY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") {
                panic!(
                    "FLAKY_REQUIRE_POSTGRES=1 but no PostgreSQL under /usr/lib/postgresql \
                     (apt-get install postgresql)"
                );
            }
            eprintln!("SKIPPED: PostgreSQL is not installed (apt-get install postgresql)");
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("flaky-pg-")
            .tempdir()
            .expect("a temp dir for the server");
        if is_root() {
            check(
                "chown",
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(dir.path())
                    .output()
                    .expect("chown runs"),
            );
        }
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, PASSWORD).expect("the password file");
        if is_root() {
            let _ = Command::new("chown")
                .arg("postgres:postgres")
                .arg(&pwfile)
                .output();
        }
        let data = dir.path().join("data");
        check(
            "initdb",
            as_server_user(
                &bin.join("initdb"),
                &[
                    "-D",
                    &data.display().to_string(),
                    "-U",
                    USER,
                    "--auth=scram-sha-256",
                    &format!("--pwfile={}", pwfile.display()),
                    "--no-sync",
                ],
            ),
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = PgServer { bin, dir, port };
        server.pg_ctl_start();
        Some(server)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    fn pg_ctl_start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        check(
            "pg_ctl start",
            as_server_user(
                &self.bin.join("pg_ctl"),
                &[
                    "-D",
                    &self.data(),
                    "-o",
                    &options,
                    "-l",
                    &log,
                    "-w",
                    "start",
                ],
            ),
        );
    }

    /// Starts the server again after [`PgServer::stop`].
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    /// Stops the server at once (connections are cut).
    pub fn stop(&self) {
        check(
            "pg_ctl stop",
            as_server_user(
                &self.bin.join("pg_ctl"),
                &["-D", &self.data(), "-m", "immediate", "-w", "stop"],
            ),
        );
    }

    /// The URL of the server's `postgres` database, password included.
    pub fn url(&self) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/postgres?sslmode=disable",
            self.port
        )
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = as_server_user(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "immediate", "stop"],
        );
    }
}
