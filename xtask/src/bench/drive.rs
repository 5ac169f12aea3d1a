//! The load loop both end-to-end benchmarks share: client threads do the
//! work while this thread polls the application until it says the run is
//! over, watching the services and Ctrl-C meanwhile.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};

use crate::process::{self, Service};

/// Runs `client` on `threads` threads (each returns the time it finished)
/// while calling `check` every `poll` with the time the last client
/// finished, once all have. Returns that time and `check`'s first value.
/// A failing client sets `stop` (so the others stop at their next item) and
/// its error ends the run, as do a service that exits, Ctrl-C and an error
/// from `check`.
pub(crate) fn drive<T>(
    threads: usize,
    stop: &AtomicBool,
    services: &mut [&mut Service],
    poll: Duration,
    client: impl Fn() -> Result<Duration> + Sync,
    mut check: impl FnMut(Option<Duration>) -> Result<Option<T>>,
) -> Result<(Duration, T)> {
    thread::scope(|scope| {
        let mut clients: Vec<_> = (0..threads).map(|_| scope.spawn(&client)).collect();
        let mut finished = None;
        let waited = (|| loop {
            if finished.is_none() && clients.iter().all(|c| c.is_finished()) {
                let mut last = Duration::ZERO;
                for c in clients.drain(..) {
                    let done = c.join().map_err(|_| anyhow!("a client panicked"))??;
                    last = last.max(done);
                }
                finished = Some(last);
            }
            if stop.load(Ordering::SeqCst) {
                // A client failed: the join above reports why.
                thread::sleep(poll);
                continue;
            }
            if let Some(value) = check(finished)? {
                if let Some(last) = finished {
                    return Ok((last, value));
                }
            }
            for service in services.iter_mut() {
                service.check_running()?;
            }
            if process::interrupted() {
                bail!("interrupted");
            }
            thread::sleep(poll);
        })();
        // On any failure, clients still running stop at their next item.
        stop.store(true, Ordering::SeqCst);
        waited
    })
}
