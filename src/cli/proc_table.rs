//! The kernel's process table as `/proc` shows it ([`ProcEntry`]: pid, parent, state). Read
//! where our own bookkeeping cannot be trusted: the second Ctrl-C, which must kill every
//! run's group while the tasks that track them are being cut short, and tests that check
//! nothing was left behind.

/// One process in `/proc`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: i32,
    pub parent: i32,
    /// The one-letter state (`R`, `S`, `Z` for a zombie, ...).
    pub state: String,
}

/// Every process whose `/proc/PID/stat` could be read. Processes that end while the table
/// is read are left out; an error only when `/proc` itself cannot be listed.
pub fn read() -> std::io::Result<Vec<ProcEntry>> {
    let mut table = Vec::new();
    for entry in std::fs::read_dir("/proc")?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(found) = std::fs::read_to_string(entry.path().join("stat"))
            .ok()
            .and_then(|stat| parse_stat(pid, &stat))
        {
            table.push(found);
        }
    }
    Ok(table)
}

/// Every process below `root`, children before their own children.
pub fn descendants(table: &[ProcEntry], root: i32) -> Vec<&ProcEntry> {
    let mut found = vec![root];
    let mut out = Vec::new();
    while let Some(parent) = found.pop() {
        for entry in table.iter().filter(|e| e.parent == parent) {
            found.push(entry.pid);
            out.push(entry);
        }
    }
    out
}

/// State and parent from a `/proc/PID/stat` line: the first and second fields after the
/// command name, which is in parentheses and may itself hold spaces and parentheses.
fn parse_stat(pid: i32, stat: &str) -> Option<ProcEntry> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace();
    let state = fields.next()?.to_string();
    let parent = fields.next()?.parse().ok()?;
    Some(ProcEntry { pid, parent, state })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_pid_is_read_past_an_odd_command_name() {
        let stat = "4242 (sh (x) y) S 17 4242 4242 0 -1 4194560 0 0";
        let entry = parse_stat(4242, stat).expect("a stat line");
        assert_eq!((entry.parent, entry.state.as_str()), (17, "S"));
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    #[test]
    fn descendants_are_found_at_every_depth() {
        let entry = |pid, parent| ProcEntry {
            pid,
            parent,
            state: "S".into(),
        };
        let table = [entry(2, 1), entry(3, 2), entry(4, 3), entry(5, 9)];
        let mut pids: Vec<i32> = descendants(&table, 2).iter().map(|e| e.pid).collect();
        pids.sort_unstable();
        assert_eq!(pids, [3, 4]);
    }
}
