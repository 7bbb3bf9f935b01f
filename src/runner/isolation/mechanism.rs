//! How `isolation: run` keeps runs apart on this machine ([`Mechanism`]), picked once per job
//! ([`Choice::pick`]): the cheapest the machine allows, or the one the operator forces with
//! `FLAKY_ISOLATION_MECHANISM`.

use crate::config::Isolation;
pub use crate::wire::isolation::Mechanism;

/// The variable that forces a mechanism (`overlay`, `copy` or `slot`), read from the run
/// environment, so an operator (worker environment) or a job (`env`) can refuse the fast one.
pub const FORCE_VARIABLE: &str = "FLAKY_ISOLATION_MECHANISM";

/// What the job asks of the mechanism, before the machine is asked what it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    /// Exactly this one (`slot` and `shared` modes, a forced mechanism, or a kept run
    /// directory, which needs a whole copy to be worth inspecting).
    Fixed(Mechanism),
    /// Overlay if the probe succeeds, else slot.
    Cheapest,
}

impl Choice {
    /// The choice for a job in `isolation` mode with run environment `env`. An unknown value
    /// of [`FORCE_VARIABLE`] is an error naming it.
    pub fn pick(
        isolation: Isolation,
        preserve: bool,
        env: &[(String, String)],
    ) -> Result<Choice, String> {
        let forced = env
            .iter()
            .find(|(k, _)| k == FORCE_VARIABLE)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty());
        let forced = match forced {
            None => None,
            Some("overlay") => Some(Mechanism::Overlay),
            Some("copy") => Some(Mechanism::Copy),
            Some("slot") => Some(Mechanism::Slot),
            Some(other) => {
                return Err(format!(
                    "{FORCE_VARIABLE} is `{other}`; expected overlay, copy or slot"
                ));
            }
        };
        Ok(match (isolation, forced) {
            (Isolation::Shared, _) => Choice::Fixed(Mechanism::Shared),
            (Isolation::Slot, _) => Choice::Fixed(Mechanism::Slot),
            (Isolation::Run, Some(mechanism)) => Choice::Fixed(mechanism),
            (Isolation::Run, None) if preserve => Choice::Fixed(Mechanism::Copy),
            (Isolation::Run, None) => Choice::Cheapest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(value: &str) -> Vec<(String, String)> {
        vec![(FORCE_VARIABLE.to_string(), value.to_string())]
    }

    #[test]
    fn the_mode_and_the_operator_decide_before_the_machine() {
        use Mechanism::*;
        let pick = |isolation, preserve, env: &[(String, String)]| {
            Choice::pick(isolation, preserve, env).expect("valid")
        };
        assert_eq!(pick(Isolation::Run, false, &[]), Choice::Cheapest);
        assert_eq!(pick(Isolation::Run, true, &[]), Choice::Fixed(Copy));
        assert_eq!(
            pick(Isolation::Run, false, &env("copy")),
            Choice::Fixed(Copy)
        );
        assert_eq!(
            pick(Isolation::Run, true, &env("slot")),
            Choice::Fixed(Slot)
        );
        assert_eq!(
            pick(Isolation::Run, false, &env("overlay")),
            Choice::Fixed(Overlay)
        );
        assert_eq!(pick(Isolation::Run, false, &env(" ")), Choice::Cheapest);
        assert_eq!(
            pick(Isolation::Slot, false, &env("copy")),
            Choice::Fixed(Slot)
        );
        assert_eq!(
            pick(Isolation::Shared, false, &env("overlay")),
            Choice::Fixed(Shared)
        );
        let error = Choice::pick(Isolation::Run, false, &env("fast")).expect_err("unknown");
        assert!(error.contains("`fast`"), "{error}");
    }
}
