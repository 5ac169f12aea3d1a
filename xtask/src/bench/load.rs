//! Open-loop load: requests start on a fixed schedule whatever the answers
//! do, so a slow answer cannot hold the next request back and hide its own
//! latency (the trap a fixed number of clients falls into).

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// One scheduled call.
#[derive(Debug)]
pub struct Timed<T> {
    /// How late it started against its schedule (the load generator's own
    /// lag: large values mean the figures understate the rate asked for).
    pub late: Duration,
    /// How long the call took.
    pub took: Duration,
    pub result: T,
}

/// Starts `call(i)` for `i` in `0..count`, call `i` at `i / rate` seconds
/// from now, each in a task of its own; returns every call's outcome once
/// all are done.
pub async fn open_loop<F, Fut, T>(rate: f64, count: usize, call: F) -> Vec<Timed<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(count);
    for i in 0..count {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due).await;
        let late = Instant::now().saturating_duration_since(due);
        let future = call(i);
        tasks.push(tokio::spawn(async move {
            let began = Instant::now();
            let result = future.await;
            Timed {
                late,
                took: began.elapsed(),
                result,
            }
        }));
    }
    let mut out = Vec::with_capacity(count);
    for task in tasks {
        if let Ok(timed) = task.await {
            out.push(timed);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn slow_calls_do_not_hold_the_schedule_back() {
        let began = Instant::now();
        // 20 calls at 200/s, each taking 300 ms: open loop takes ~0.4 s,
        // a closed loop of one client would take 6 s.
        let done = open_loop(200.0, 20, |i| async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            i
        })
        .await;
        assert_eq!(done.len(), 20);
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "{:?}",
            began.elapsed()
        );
        assert!(done.iter().all(|t| t.took >= Duration::from_millis(300)));
        let mut seen: Vec<usize> = done.iter().map(|t| t.result).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..20).collect::<Vec<_>>());
    }
}
