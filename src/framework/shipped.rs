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
    let partial = dir.join(format!(".{file}.{}.tmp", std::process::id()));
    std::fs::write(&partial, source)?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}
