//! Secrets read from files ([`read_secret`]) instead of flags: a flag's value is in the
//! process's command line, which `ps` shows every user of the machine (issue 21, finding
//! 11), while a file can be mode 0600 or a mounted secret (Docker, Kubernetes).

use std::path::{Path, PathBuf};

use super::error::CliError;
use crate::workspace::read::read_capped;

/// Largest secret file read: a key or a database URL is a line.
const SECRET_CAP: u64 = 64 * 1024;

/// The secret in `path`, surrounding whitespace (the file's final newline) removed. An
/// empty file is an error: it is a mistake, not a wish to run without the secret.
pub fn read_secret(path: &Path, what: &'static str) -> Result<String, CliError> {
    let error = |reason: String| CliError::SecretFile {
        what,
        path: path.to_path_buf(),
        reason,
    };
    let text = read_capped(path, SECRET_CAP).map_err(|e| error(e.to_string()))?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(error("the file is empty".into()));
    }
    Ok(secret.to_string())
}

/// `flag`'s value from `file` when one was given; both at once is a usage error.
pub fn from_file(
    value: &mut Option<String>,
    file: Option<&PathBuf>,
    flag: &'static str,
    what: &'static str,
) -> Result<(), CliError> {
    let Some(file) = file else {
        return Ok(());
    };
    if value.is_some() {
        return Err(CliError::SecretTwice { flag });
    }
    *value = Some(read_secret(file, what)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_file_loses_its_newline_and_an_empty_one_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("key");
        std::fs::write(&file, "s3cret\n").expect("write");
        assert_eq!(read_secret(&file, "the API key").expect("read"), "s3cret");
        std::fs::write(&file, "\n").expect("write");
        let error = read_secret(&file, "the API key").expect_err("empty");
        assert_eq!(
            error.to_string(),
            format!(
                "cannot read the API key from {}: the file is empty",
                file.display()
            )
        );
        let mut value = Some("given".to_string());
        assert!(matches!(
            from_file(&mut value, Some(&file), "--api-key", "the API key"),
            Err(CliError::SecretTwice { .. })
        ));
    }
}
