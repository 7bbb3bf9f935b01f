//! Bounded capture of one output stream ([`Capture`]): the first and last bytes are kept with a
//! count of what was dropped in between, so memory per run is fixed however much a test prints.

use std::collections::VecDeque;

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
        self.tail.extend(data);
    }

    pub fn finish(self) -> Captured {
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!("\n[... {} bytes truncated ...]\n", self.dropped));
        }
        let (a, b) = self.tail.as_slices();
        let mut tail = Vec::with_capacity(a.len() + b.len());
        tail.extend_from_slice(a);
        tail.extend_from_slice(b);
        text.push_str(&String::from_utf8_lossy(&tail));
        Captured {
            text,
            truncated_bytes: self.dropped,
        }
    }
}

impl Captured {
    /// The last `max` bytes of the text (on a character boundary), for summaries that must
    /// stay small; the cut is added to `truncated_bytes`.
    pub fn tail(self, max: usize) -> Captured {
        if self.text.len() <= max {
            return self;
        }
        let mut cut = self.text.len() - max;
        while !self.text.is_char_boundary(cut) {
            cut += 1;
        }
        Captured {
            truncated_bytes: self.truncated_bytes + cut as u64,
            text: format!("[... {cut} bytes cut ...]\n{}", &self.text[cut..]),
        }
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
