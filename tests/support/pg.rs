//! A private PostgreSQL server per test: Debian's binaries (`/usr/lib/postgresql/<ver>/bin`),
//! a temp data directory, 127.0.0.1 on a free port, password authentication. PostgreSQL
//! refuses to run as root, so under root the server runs as the `postgres` user. Without
//! PostgreSQL installed the tests that need it are ignored (`cfg(has_postgres)`, from
//! `build.rs`), or fail where `FLAKY_REQUIRE_TOOLS=1` (CI).

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
    /// A fresh server. Fails the test when PostgreSQL is not installed: tests that start
    /// one are ignored instead when `build.rs` found it missing (`cfg(has_postgres)`).
    pub fn start() -> PgServer {
        let bin = bin_dir().expect(
            "no PostgreSQL under /usr/lib/postgresql/<version>/bin (apt-get install postgresql)",
        );
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
        server
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

    /// Turns TLS on with the PEM files `cert` (the server's chain) and `key`, and restarts.
    pub fn enable_ssl(&self, cert: &Path, key: &Path) {
        let data = self.dir.path().join("data");
        std::fs::copy(cert, data.join("server.crt")).expect("the certificate is copied");
        std::fs::copy(key, data.join("server.key")).expect("the key is copied");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            data.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )
        .expect("chmod the key");
        if is_root() {
            for file in ["server.crt", "server.key"] {
                check(
                    "chown",
                    Command::new("chown")
                        .arg("postgres:postgres")
                        .arg(data.join(file))
                        .output()
                        .expect("chown runs"),
                );
            }
        }
        let mut conf = std::fs::read_to_string(data.join("postgresql.conf")).expect("the config");
        conf.push_str("\nssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        std::fs::write(data.join("postgresql.conf"), conf).expect("the config is written");
        self.stop();
        self.restart();
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
