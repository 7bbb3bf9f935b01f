//! Stable ledger tests plus two seeded flaky ones. Neither `cargo test` nor nextest has a seed
//! option for test bodies, so flaky-detector passes the seed as `TEST_SEED` (and `FLAKY_SEED`);
//! a failing seed fails again when replayed: `TEST_SEED=<seed> cargo test`.

use ledger_example::{chance, Ledger, TransferError};

fn seed() -> String {
    std::env::var("TEST_SEED").unwrap_or_else(|_| "0".to_string())
}

#[test]
fn deposits_add_up() {
    let mut ledger = Ledger::default();
    ledger.deposit("alice", 500);
    ledger.deposit("alice", 250);
    assert_eq!(ledger.balance("alice"), 750);
}

#[test]
fn transfers_keep_the_books_balanced() {
    let mut ledger = Ledger::default();
    ledger.deposit("alice", 1000);
    ledger
        .transfer("alice", "bob", 400)
        .expect("alice has enough");
    assert_eq!((ledger.balance("alice"), ledger.balance("bob")), (600, 400));
    assert_eq!(ledger.total(), 1000);
}

#[test]
fn overdrafts_are_refused() {
    let mut ledger = Ledger::default();
    ledger.deposit("alice", 100);
    assert_eq!(
        ledger.transfer("alice", "bob", 150),
        Err(TransferError::Insufficient {
            account: "alice".into(),
            short_by: 50
        })
    );
}

/// Flaky (about 1 run in 4): the seed decides whether interest is posted mid-transfer.
#[test]
fn interest_posting_waits_for_transfers() {
    let overlap = chance(&seed(), "interest-posting");
    assert!(
        overlap < 75,
        "interest posted mid-transfer (overlap {})",
        overlap - 74
    );
}

/// Flaky (about 1 run in 10): the seed decides whether the audit snapshot is taken too early.
#[test]
fn audit_snapshot_sees_every_entry() {
    let skew = chance(&seed(), "audit-snapshot");
    assert!(skew < 90, "snapshot missed entries (skew {})", skew - 89);
}
