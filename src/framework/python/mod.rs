//! Python's adapter code, gathered here as it moves out of the shared framework modules
//! (issue 23): so far the pytest order plugin ([`pytest_order`]).

pub mod pytest_order;
