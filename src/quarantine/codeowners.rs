//! Owners from a CODEOWNERS file ([`CodeOwners`]): each line a gitignore-style pattern and
//! its owners, the last matching line wins, as GitHub and GitLab read it. Patterns are
//! matched by the `ignore` crate's gitignore matcher, so `*.py`, `/docs/`, `src/**/tests`
//! and a pattern without a slash matching at any depth all mean what they mean to git.

use std::path::Path;

use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// Where CODEOWNERS is looked for, in GitHub's order, then GitLab's own folder.
pub const LOCATIONS: [&str; 4] = [
    ".github/CODEOWNERS",
    "CODEOWNERS",
    "docs/CODEOWNERS",
    ".gitlab/CODEOWNERS",
];

/// The rules of one CODEOWNERS file, in file order.
pub struct CodeOwners {
    rules: Vec<(Gitignore, Vec<String>)>,
}

impl CodeOwners {
    /// The first CODEOWNERS file of `checkout` found at [`LOCATIONS`], if any; lines whose
    /// pattern git would refuse are skipped, as GitHub skips them.
    pub fn load(checkout: &Path) -> Option<CodeOwners> {
        LOCATIONS.iter().find_map(|location| {
            let text = std::fs::read_to_string(checkout.join(location)).ok()?;
            Some(CodeOwners::parse(checkout, &text))
        })
    }

    /// Rules from CODEOWNERS text, with paths relative to `root`. A line with a pattern and
    /// no owner clears the owners of what it matches; GitLab's `[Section]` headers are
    /// skipped (their rules still apply in order).
    pub fn parse(root: &Path, text: &str) -> CodeOwners {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with('[') {
                continue;
            }
            let mut words = line.split_whitespace();
            let Some(pattern) = words.next() else {
                continue;
            };
            let owners: Vec<String> = words
                .take_while(|w| !w.starts_with('#'))
                .map(str::to_string)
                .collect();
            let mut builder = GitignoreBuilder::new(root);
            if builder.add_line(None, pattern).is_err() {
                continue;
            }
            if let Ok(matcher) = builder.build() {
                rules.push((matcher, owners));
            }
        }
        CodeOwners { rules }
    }

    /// The owners of `path` (relative to the root; a folder when `is_dir`), joined by
    /// spaces: those of the last line that matches it or a folder above it. `None` when no
    /// line does, or the last one names nobody.
    pub fn owners_of(&self, path: &Path, is_dir: bool) -> Option<String> {
        let path = path.strip_prefix("./").unwrap_or(path);
        // The matcher asserts that a path is under its root; an absolute one never is.
        if path.has_root() {
            return None;
        }
        let (_, owners) = self.rules.iter().rev().find(|(matcher, _)| {
            matcher
                .matched_path_or_any_parents(path, is_dir)
                .is_ignore()
        })?;
        (!owners.is_empty()).then(|| owners.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_matching_line_wins_with_gitignore_meaning() {
        let root = Path::new("/repo");
        let owners = CodeOwners::parse(
            root,
            "# comment\n* @everyone\n*.py @py-team\n/tests/ @qa @py-team\nsub/ @go-team\n\
             tests/generated.py\n[Docs]\ndocs/**/*.md @writers # inline comment\n",
        );
        let of = |p: &str, dir| owners.owners_of(Path::new(p), dir);
        assert_eq!(of("src/app.py", false).as_deref(), Some("@py-team"));
        assert_eq!(
            of("tests/test_a.py", false).as_deref(),
            Some("@qa @py-team")
        );
        assert_eq!(of("README", false).as_deref(), Some("@everyone"));
        // A folder pattern owns what is under it, at any depth when it has no leading slash.
        assert_eq!(of("a/sub", true).as_deref(), Some("@go-team"));
        assert_eq!(of("sub/x_test.go", false).as_deref(), Some("@go-team"));
        // A line without owners clears them.
        assert_eq!(of("tests/generated.py", false), None);
        assert_eq!(of("docs/a/b/c.md", false).as_deref(), Some("@writers"));
    }

    #[test]
    fn no_rule_no_owner() {
        let owners = CodeOwners::parse(Path::new("/repo"), "/only/ @x\n");
        assert_eq!(owners.owners_of(Path::new("else/a.py"), false), None);
    }
}
