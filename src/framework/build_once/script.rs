//! One run may start several test binaries (one per Go package, one per Cargo target). They
//! run one after the other under a small `sh` script, so the run stays one process group: the
//! timeout and tree kill of a normal run cover every binary.

use std::path::{Path, PathBuf};

use super::Invocation;

/// One binary to start, in its own directory, with extra variables.
#[derive(Debug, Clone)]
pub struct Step {
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
    pub program: String,
    pub args: Vec<String>,
}

/// A run of `steps` in order. With `fail_fast` the script stops at the first failing step and
/// exits with its status (as `cargo test` does); otherwise every step runs and the exit
/// status is `fail_status` when any failed (as `go test` does with several packages).
pub fn sequence(steps: &[Step], fail_fast: bool, fail_status: i32, cwd: &Path) -> Invocation {
    let mut script = String::from("rc=0\n");
    for step in steps {
        let mut line = format!("(cd {} && ", quote(&step.cwd.display().to_string()));
        for (name, value) in &step.env {
            line.push_str(&format!("{name}={} ", quote(value)));
        }
        line.push_str("exec");
        for word in std::iter::once(&step.program).chain(&step.args) {
            line.push(' ');
            line.push_str(&quote(word));
        }
        line.push(')');
        if fail_fast {
            line.push_str(" || exit $?\n");
        } else {
            line.push_str(&format!(" || rc={fail_status}\n"));
        }
        script.push_str(&line);
    }
    script.push_str("exit $rc\n");
    Invocation {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script],
        cwd: cwd.to_path_buf(),
    }
}

/// `word` quoted for `sh`. Words with a NUL cannot be passed at all; they are replaced by
/// an empty word, which the binaries reject as they would reject the NUL.
fn quote(word: &str) -> String {
    shlex::try_quote(word)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| "''".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_with_spaces_and_quotes_survive_the_script() {
        let steps = [Step {
            cwd: PathBuf::from("/tmp/a b"),
            env: vec![("X".into(), "it's".into())],
            program: "/bin/echo".into(),
            args: vec!["$HOME".into(), "a b".into()],
        }];
        let inv = sequence(&steps, true, 1, Path::new("/"));
        let script = &inv.args[1];
        assert!(script.contains("'/tmp/a b'"), "{script}");
        assert!(script.contains("'$HOME'"), "{script}");
        assert!(script.contains("exit $?"), "{script}");
    }
}
