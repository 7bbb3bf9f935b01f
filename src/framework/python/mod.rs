//! Python's adapter code, gathered here as it moves out of the shared framework modules
//! (issue 23): the pytest fork server that builds once ([`build_once`]) and the pytest order
//! plugin ([`pytest_order`]).

pub mod build_once;
pub mod install;
pub mod pytest_order;
