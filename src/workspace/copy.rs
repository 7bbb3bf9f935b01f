//! Directory copies: [`copy_tree`] for a user's local repository (so runs never write into
//! their tree) and [`link_tree`] for large read-mostly folders such as `node_modules`, where
//! hard links make a "copy" cost one inode per file.

use std::io;
use std::path::Path;

/// Copies `src` into `dst` (created), keeping symlinks as symlinks.
pub fn copy_tree(src: &Path, dst: &Path) -> io::Result<()> {
    walk(src, dst, &|from, to| std::fs::copy(from, to).map(|_| ()))
}

/// Mirrors `src` into `dst` with hard links, falling back to a copy per file where linking
/// is refused (another filesystem).
pub fn link_tree(src: &Path, dst: &Path) -> io::Result<()> {
    walk(src, dst, &|from, to| {
        std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(|_| ()))
    })
}

fn walk(src: &Path, dst: &Path, file: &dyn Fn(&Path, &Path) -> io::Result<()>) -> io::Result<()> {
    std::fs::create_dir_all(dst)?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let from = entry.path();
        let to = dst.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&from)?, &to)?;
        } else if kind.is_dir() {
            walk(&from, &to, file)?;
        } else if kind.is_file() {
            file(&from, &to)?;
        }
        // Sockets, FIFOs and devices are not part of a repository; skip them.
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_dirs_and_symlinks() {
        let src = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(src.path().join("sub")).expect("mkdir");
        std::fs::write(src.path().join("sub/a.txt"), "a").expect("write");
        std::os::unix::fs::symlink("sub/a.txt", src.path().join("link")).expect("symlink");
        let dst = tempfile::tempdir().expect("tempdir");
        for (copy, name) in [
            (copy_tree as fn(&Path, &Path) -> io::Result<()>, "c"),
            (link_tree, "l"),
        ] {
            let out = dst.path().join(name);
            copy(src.path(), &out).expect("copy");
            assert_eq!(
                std::fs::read_to_string(out.join("sub/a.txt")).expect("read"),
                "a"
            );
            assert_eq!(
                std::fs::read_link(out.join("link")).expect("link"),
                Path::new("sub/a.txt")
            );
        }
    }
}
