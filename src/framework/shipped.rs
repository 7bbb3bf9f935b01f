//! Files shipped inside the binary that runs load from the cache directory (our pytest
//! order plugin, our Mocha order hook): [`write_shipped`].

use std::path::{Path, PathBuf};

/// Writes `source` as `cache_dir/kind/<version>/file`, where the version is a hash of the
/// source, so jobs of two binaries never share a half-written file; written to a temporary
/// name and renamed, so concurrent jobs never read a partial one. A file already there with
/// the same text is kept. Returns the file's path. Blocking file work.
pub fn write_shipped(
    cache_dir: &Path,
    kind: &str,
    file: &str,
    source: &str,
) -> std::io::Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(source.as_bytes());
    let version: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let dir = cache_dir.join(kind).join(version);
    let path = dir.join(file);
    if std::fs::read_to_string(&path).is_ok_and(|text| text == source) {
        return Ok(path);
    }
    std::fs::create_dir_all(&dir)?;
    // A temporary name of its own per call, not per process: two jobs of one process (a
    // triage's two sides, `serve`'s concurrent jobs) write at once, and a shared name let
    // one rename the other's file away and fail.
    let mut partial = tempfile::NamedTempFile::new_in(&dir)?;
    std::io::Write::write_all(&mut partial, source.as_bytes())?;
    partial.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_in_one_process_at_once_all_succeed_and_leave_the_whole_file() {
        let cache = tempfile::tempdir().expect("a cache dir");
        let source = "x".repeat(1 << 20);
        let writers: Vec<_> = (0..8)
            .map(|_| {
                let (cache, source) = (cache.path().to_path_buf(), source.clone());
                std::thread::spawn(move || write_shipped(&cache, "kind", "file.py", &source))
            })
            .collect();
        for writer in writers {
            let path = writer
                .join()
                .expect("the writer ran")
                .expect("every writer succeeds");
            assert_eq!(std::fs::read_to_string(path).expect("read"), source);
        }
    }
}
