//! A tiny double-entry ledger: the code under test of flaky-detector's Rust example.

use std::collections::BTreeMap;

/// Balances per account, in cents.
#[derive(Debug, Default)]
pub struct Ledger {
    balances: BTreeMap<String, i64>,
}

/// Why a transfer was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TransferError {
    Insufficient { account: String, short_by: i64 },
    NotPositive,
}

impl Ledger {
    pub fn deposit(&mut self, account: &str, cents: i64) {
        *self.balances.entry(account.to_string()).or_default() += cents;
    }

    pub fn balance(&self, account: &str) -> i64 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    /// Moves `cents` from `from` to `to`; the books always balance.
    pub fn transfer(&mut self, from: &str, to: &str, cents: i64) -> Result<(), TransferError> {
        if cents <= 0 {
            return Err(TransferError::NotPositive);
        }
        let have = self.balance(from);
        if have < cents {
            return Err(TransferError::Insufficient {
                account: from.to_string(),
                short_by: cents - have,
            });
        }
        self.deposit(from, -cents);
        self.deposit(to, cents);
        Ok(())
    }

    pub fn total(&self) -> i64 {
        self.balances.values().sum()
    }
}

/// A number in 0..99 drawn from `seed` and `name`: FNV-1a (32-bit) of "<seed>:<name>", so each
/// test gets its own draw and a failing seed fails again when replayed.
pub fn chance(seed: &str, name: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in format!("{seed}:{name}").bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % 100
}
