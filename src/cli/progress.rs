//! The terminal progress bar: renders [`Event`]s on stderr, and stays silent when stderr is
//! not a terminal (CI logs get the summary only).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

use crate::events::Event;

/// Draws events until the sender side is dropped.
pub fn spawn(mut events: UnboundedReceiver<Event>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg}").expect("the template is valid"),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        while let Some(event) = events.recv().await {
            match &event {
                Event::Running { runs, .. } => {
                    bar.set_length(u64::from(*runs));
                    bar.set_position(0);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{bar:30.cyan/blue} {pos}/{len} runs  {msg}  [{elapsed}]",
                        )
                        .expect("the template is valid"),
                    );
                    bar.set_message("0 failures");
                }
                Event::RunFinished { done, failures, .. } => {
                    bar.set_position(u64::from(*done));
                    bar.set_message(format!(
                        "{failures} failure{}",
                        if *failures == 1 { "" } else { "s" }
                    ));
                }
                other => bar.set_message(other.message()),
            }
        }
        bar.finish_and_clear();
    })
}
