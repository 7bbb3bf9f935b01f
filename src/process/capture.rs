//! Bounded capture of one output stream ([`Capture`]): the first and last bytes are kept with a
//! count of what was dropped in between, so memory per run is fixed however much a test prints.

use std::collections::VecDeque;

/// Total bytes of run output a summary may carry, so a 1000-run job stays far below RunPod's
/// 20 MB result limit. Also bounds what finished runs hold while a job goes on (see
/// [`finished_run_keep`]).
pub const OUTPUT_BUDGET: usize = 4 * 1024 * 1024;

/// Bytes per stream the `nth` (1-based) finished run that kept any output may go on
/// holding. The summary gives each of the `k` runs with output an equal share of
/// [`OUTPUT_BUDGET`] over two streams; since `k >= nth`, this share is never smaller than the
/// final one, so trimming early loses nothing the summary would show. All finished runs
/// together hold at most `OUTPUT_BUDGET * H(k)` bytes (about 30 MiB for 1000 runs), however
/// large the repository sets `output_limit_bytes`.
pub fn finished_run_keep(nth: usize) -> usize {
    OUTPUT_BUDGET / (2 * nth.max(1))
}

/// Head and tail of a stream. A quarter of the limit goes to the head (where a test usually
/// says what it is), the rest to the tail (where it says why it failed).
#[derive(Debug)]
pub struct Capture {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_limit: usize,
    tail_limit: usize,
    dropped: u64,
}

/// A stream's text as kept: lossy UTF-8 with a marker where bytes were dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    pub text: String,
    pub truncated_bytes: u64,
}

impl Capture {
    pub fn new(limit: usize) -> Capture {
        let head_limit = limit / 4;
        Capture {
            head: Vec::new(),
            tail: VecDeque::new(),
            head_limit,
            tail_limit: limit - head_limit,
            dropped: 0,
        }
    }

    pub fn push(&mut self, mut data: &[u8]) {
        let room = self.head_limit - self.head.len();
        if room > 0 {
            let take = room.min(data.len());
            self.head.extend_from_slice(&data[..take]);
            data = &data[take..];
        }
        if data.len() >= self.tail_limit {
            self.dropped += (self.tail.len() + data.len() - self.tail_limit) as u64;
            self.tail.clear();
            self.tail.extend(&data[data.len() - self.tail_limit..]);
            return;
        }
        let overflow = (self.tail.len() + data.len()).saturating_sub(self.tail_limit);
        if overflow > 0 {
            self.tail.drain(..overflow);
            self.dropped += overflow as u64;
        }
        self.grow_tail(data.len());
        self.tail.extend(data);
    }

    /// Grows the tail's buffer by doubling, but never past the limit: a plain doubling would
    /// hold up to twice the limit for a stream that fills it.
    fn grow_tail(&mut self, more: usize) {
        let needed = self.tail.len() + more;
        let capacity = self.tail.capacity();
        if needed > capacity {
            let target = needed.max(capacity * 2).min(self.tail_limit.max(needed));
            self.tail.reserve_exact(target - self.tail.len());
        }
    }

    /// The kept text. Builds one string in place of the two buffers, copying each once.
    pub fn finish(mut self) -> Captured {
        let mut text = String::with_capacity(self.head.len() + self.tail.len() + 40);
        text.push_str(&String::from_utf8_lossy(&self.head));
        self.head = Vec::new();
        if self.dropped > 0 {
            text.push_str(&format!("\n[... {} bytes truncated ...]\n", self.dropped));
        }
        text.push_str(&String::from_utf8_lossy(self.tail.make_contiguous()));
        Captured {
            text,
            truncated_bytes: self.dropped,
        }
    }
}

impl Captured {
    /// True when nothing was kept.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The end of the text that takes at most `max` bytes once written as a JSON string
    /// (a NUL byte becomes six: `\u0000`), for summaries that must stay small; the cut is
    /// added to `truncated_bytes`. Cuts on a character boundary.
    pub fn tail(self, max: usize) -> Captured {
        let mut size = 0;
        let mut cut = 0;
        for (at, c) in self.text.char_indices().rev() {
            size += json_len(c);
            if size > max {
                cut = at + c.len_utf8();
                break;
            }
        }
        if cut == 0 {
            return self;
        }
        Captured {
            truncated_bytes: self.truncated_bytes + cut as u64,
            text: format!("[... {cut} bytes cut ...]\n{}", &self.text[cut..]),
        }
    }
}

/// Bytes `c` takes inside a JSON string as serde_json writes it.
fn json_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if (c as u32) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_everything_under_the_limit() {
        let mut capture = Capture::new(100);
        capture.push(b"hello ");
        capture.push(b"world");
        assert_eq!(
            capture.finish(),
            Captured {
                text: "hello world".into(),
                truncated_bytes: 0
            }
        );
    }

    #[test]
    fn keeps_head_and_tail_of_a_flood() {
        let mut capture = Capture::new(8);
        for chunk in [b"ab".as_slice(), b"cdefgh", b"ijklmnop", b"qrstuvwxyz"] {
            capture.push(chunk);
        }
        let captured = capture.finish();
        assert_eq!(captured.truncated_bytes, 26 - 8);
        assert!(
            captured
                .text
                .starts_with("ab\n[... 18 bytes truncated ...]\n")
        );
        assert!(captured.text.ends_with("uvwxyz"));
    }

    /// Issue 12, finding 9: 2 MB of NUL bytes kept under a 2 MB budget became 12.5 MB of
    /// JSON. The budget now counts the bytes the JSON takes.
    #[test]
    fn issue_12_finding_9_the_tail_budget_counts_json_escaped_bytes() {
        let budget = 2 * 1024 * 1024;
        let captured = Captured {
            text: "\0".repeat(budget),
            truncated_bytes: 0,
        }
        .tail(budget);
        let json = serde_json::to_string(&captured.text).expect("JSON");
        assert!(json.len() <= budget + 64, "{} bytes of JSON", json.len());
        assert_eq!(captured.truncated_bytes, (budget - budget / 6) as u64);
    }

    #[test]
    fn tail_cuts_on_a_char_boundary() {
        let captured = Captured {
            text: "ééé".into(),
            truncated_bytes: 0,
        }
        .tail(3);
        assert!(captured.text.ends_with('é'));
        assert_eq!(captured.truncated_bytes, 4);
    }
}
