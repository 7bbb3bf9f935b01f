//! The bundled examples as the tests see them: where each lives, its command, the tools it
//! needs, and which of its flaky tests fail for a given seed, predicted independently of the
//! example's own code.

use std::collections::BTreeMap;
use std::process::Command;

use flaky_detector::framework::Framework;

/// A flaky test of an example: the name its runner prints, the name it draws its number
/// under, and the draw below which it passes.
pub struct Flaky {
    pub printed: &'static str,
    pub draw: &'static str,
    pub passes_below: u32,
}

/// A program the example needs, with the line that installs it.
pub struct Tool {
    pub probe: &'static [&'static str],
    pub install: &'static str,
}

pub struct Example {
    pub dir: &'static str,
    pub command: &'static str,
    pub framework: Framework,
    pub tools: &'static [Tool],
    /// Makes a checkout ready to run the reproduce line by hand (the user's own install).
    pub prepare: Option<&'static str>,
    /// Which flaky tests fail for each seed.
    pub expect: fn(&[u64]) -> BTreeMap<u64, Vec<&'static str>>,
    /// The chance that one run fails: 1 minus the product of the tests' pass rates.
    pub failure_rate: f64,
    /// A test whose failure is decided by the runner's seeded order rather than a draw: its
    /// failing seeds are not predicted, but they must replay exactly.
    pub order_dependent: Option<&'static str>,
    /// The runner's own seed option, which the runs and the reproduce line must carry.
    pub seed_option: Option<&'static str>,
}

pub const NODE: Tool = Tool {
    probe: &["npm", "--version"],
    install: "Node 20 with npm (apt-get install -y nodejs npm)",
};
pub const PYTEST: Tool = Tool {
    probe: &["pytest", "--version"],
    install: "pip install pytest",
};
pub const GO: Tool = Tool {
    probe: &["go", "version"],
    install: "apt-get install -y golang",
};
pub const CARGO: Tool = Tool {
    probe: &["cargo", "--version"],
    install: "rustup (cargo)",
};
pub const NEXTEST: Tool = Tool {
    probe: &["cargo", "nextest", "--version"],
    install: "cargo install cargo-nextest --locked",
};

/// FNV-1a (32-bit) of "<seed>:<name>" modulo 100: the `chance` function every example except
/// the Python one carries, written again here so the expectation does not come from the code
/// under test.
pub fn chance(seed: u64, name: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in format!("{seed}:{name}").bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % 100
}

pub fn by_chance(seeds: &[u64], flaky: &[Flaky]) -> BTreeMap<u64, Vec<&'static str>> {
    seeds
        .iter()
        .map(|&seed| {
            let failing = flaky
                .iter()
                .filter(|f| chance(seed, f.draw) >= f.passes_below)
                .map(|f| f.printed)
                .collect();
            (seed, failing)
        })
        .collect()
}

pub const GO_FLAKY: [Flaky; 2] = [
    Flaky {
        printed: "TestFillAfterAck",
        draw: "fill-ack",
        passes_below: 80,
    },
    Flaky {
        printed: "TestFeedReconnect",
        draw: "feed-reconnect",
        passes_below: 90,
    },
];
pub const JEST_FLAKY: [Flaky; 2] = [
    // Draws from `jest.getSeed()`: only `--seed=<seed>` makes this one predictable.
    Flaky {
        printed: "price sync settles before checkout",
        draw: "price-sync",
        passes_below: 80,
    },
    Flaky {
        printed: "session token refresh",
        draw: "token-refresh",
        passes_below: 90,
    },
];
pub const VITEST_FLAKY: [Flaky; 1] = [Flaky {
    printed: "restock lands before the read",
    draw: "restock-lag",
    passes_below: 85,
}];
pub const MOCHA_FLAKY: [Flaky; 2] = [
    Flaky {
        printed: "rate feed refresh beats the quote",
        draw: "rate-refresh",
        passes_below: 75,
    },
    Flaky {
        printed: "settlement webhook arrives in time",
        draw: "settlement",
        passes_below: 95,
    },
];
pub const RUST_FLAKY: [Flaky; 2] = [
    Flaky {
        printed: "interest_posting_waits_for_transfers",
        draw: "interest-posting",
        passes_below: 75,
    },
    Flaky {
        printed: "audit_snapshot_sees_every_entry",
        draw: "audit-snapshot",
        passes_below: 90,
    },
];

/// The Python example draws with `random.Random("<seed>:<name>")`; Python itself evaluates the
/// same two conditions the tests assert.
pub fn python_expectation(seeds: &[u64]) -> BTreeMap<u64, Vec<&'static str>> {
    let script = "import random, sys\n\
        for s in sys.argv[1:]:\n\
        \x20   coupon = random.Random(f'{s}:coupon').randint(0, 99) >= 75\n\
        \x20   inventory = random.Random(f'{s}:inventory').random() >= 0.9\n\
        \x20   print(s, int(coupon), int(inventory))\n";
    let output = Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(seeds.iter().map(u64::to_string))
        .output()
        .expect("python3 runs (checked before)");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let seed: u64 = fields[0].parse().expect("a seed");
            let mut failing = Vec::new();
            if fields[1] == "1" {
                failing.push("test_coupon_expiry_race");
            }
            if fields[2] == "1" {
                failing.push("test_inventory_sync");
            }
            (seed, failing)
        })
        .collect()
}

pub const NPM_CI: &str = "npm ci --prefer-offline --no-audit --no-fund --loglevel=error";

pub fn python() -> Example {
    Example {
        dir: "python",
        command: "pytest -q tests",
        framework: Framework::Python,
        tools: &[PYTEST],
        prepare: None,
        expect: python_expectation,
        failure_rate: 1.0 - 0.75 * 0.9,
        order_dependent: None,
        seed_option: None,
    }
}

pub fn go() -> Example {
    Example {
        dir: "go",
        command: "go test -count=1 ./...",
        framework: Framework::Go,
        tools: &[GO],
        prepare: None,
        expect: |seeds| by_chance(seeds, &GO_FLAKY),
        failure_rate: 1.0 - 0.8 * 0.9,
        order_dependent: None,
        seed_option: None,
    }
}

pub fn jest() -> Example {
    Example {
        dir: "typescript-jest",
        command: "npx jest",
        framework: Framework::TypescriptJest,
        tools: &[NODE],
        prepare: Some(NPM_CI),
        expect: |seeds| by_chance(seeds, &JEST_FLAKY),
        failure_rate: 1.0 - 0.8 * 0.9,
        order_dependent: None,
        seed_option: Some("--seed"),
    }
}

pub fn vitest() -> Example {
    Example {
        dir: "typescript-vitest",
        command: "npx vitest run",
        framework: Framework::TypescriptVitest,
        tools: &[NODE],
        prepare: Some(NPM_CI),
        expect: |seeds| by_chance(seeds, &VITEST_FLAKY),
        // The shuffled block runs its lookup first in 1 order of 4.
        failure_rate: 1.0 - 0.85 * 0.75,
        order_dependent: Some("lookup finds a warm cache"),
        seed_option: Some("--sequence.seed"),
    }
}

pub fn mocha() -> Example {
    Example {
        dir: "javascript-mocha",
        command: "npx mocha",
        framework: Framework::JavascriptMocha,
        tools: &[NODE],
        prepare: Some(NPM_CI),
        expect: |seeds| by_chance(seeds, &MOCHA_FLAKY),
        failure_rate: 1.0 - 0.75 * 0.95,
        order_dependent: None,
        seed_option: None,
    }
}

pub fn rust(command: &'static str, tools: &'static [Tool]) -> Example {
    Example {
        dir: "rust",
        command,
        framework: Framework::Rust,
        tools,
        prepare: None,
        expect: |seeds| by_chance(seeds, &RUST_FLAKY),
        failure_rate: 1.0 - 0.75 * 0.9,
        order_dependent: None,
        seed_option: None,
    }
}

/// Fails the test, with the line that installs it, when a tool of `example` does not run.
/// A test whose example needs a tool beyond cargo, python3 and pytest is ignored instead when
/// `build.rs` found that tool missing (`#[cfg_attr(not(has_go), ignore = …)]`), so a test
/// never passes without running.
pub fn require_tools(example: &Example) {
    for tool in example.tools {
        let works = Command::new(tool.probe[0])
            .args(&tool.probe[1..])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            works,
            "the {} example needs `{}`, which does not run here; install it with: {}",
            example.dir,
            tool.probe.join(" "),
            tool.install
        );
    }
}
