//! Output and deliberate failures for the host's isolation tests: stdio,
//! traps, sleeping and allocating.

use std::hint::black_box;
use std::io::Write;
use std::time::Duration;

use serde_json::json;
use spin_sdk::http::Response;

use crate::reply;
use crate::route::{query_param, Trap};

const MIB: usize = 1024 * 1024;
/// Wasm pages are 64 KiB; touching one byte in each makes the whole chunk real.
const PAGE: usize = 64 * 1024;

/// Writes a plain line and a JSON line to stdout, and one line to stderr.
pub fn stdio() -> Response {
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    // A closed pipe is the host's business; the test looks at what arrived.
    let wrote_stdout = writeln!(stdout, "guest stdout line")
        .and_then(|()| writeln!(stdout, r#"{{"event":"structured","n":7}}"#))
        .and_then(|()| stdout.flush());
    let wrote_stderr = writeln!(stderr, "guest stderr line").and_then(|()| stderr.flush());
    reply::json(
        200,
        &json!({ "stdout": wrote_stdout.is_ok(), "stderr": wrote_stderr.is_ok() }),
    )
}

/// Fails on purpose: the host must turn each of these into a 500 and keep
/// serving other requests.
pub fn trap(trap: Trap) -> Response {
    match trap {
        Trap::Panic => panic!("deliberate panic from /trap/panic"),
        Trap::Unreachable => unreachable_instruction(),
        Trap::Loop => spin_forever(),
        Trap::OutOfMemory => exhaust_memory(),
    }
}

#[cfg(target_arch = "wasm32")]
fn unreachable_instruction() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn unreachable_instruction() -> ! {
    panic!("deliberate unreachable (native build)")
}

/// Burns CPU until the host interrupts it; `black_box` keeps the optimiser
/// from proving the loop does nothing.
fn spin_forever() -> ! {
    let mut counter = 0u64;
    loop {
        counter = black_box(counter.wrapping_add(1));
    }
}

/// Allocates and touches 1 MiB chunks until an allocation fails, then frees
/// them and panics, so the outcome is a trap whether the host refuses
/// `memory.grow` or traps on it.
fn exhaust_memory() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    while let Some(chunk) = touched_chunk(MIB) {
        if chunks.try_reserve(1).is_err() {
            break;
        }
        chunks.push(black_box(chunk));
    }
    let allocated = chunks.len();
    drop(chunks);
    panic!("deliberate out-of-memory: allocation failed after {allocated} MiB");
}

/// A chunk of `size` bytes with every page written, or `None` if the
/// allocator cannot provide it.
fn touched_chunk(size: usize) -> Option<Vec<u8>> {
    let mut chunk: Vec<u8> = Vec::new();
    chunk.try_reserve_exact(size).ok()?;
    chunk.resize(size, 0);
    for offset in (0..size).step_by(PAGE) {
        chunk[offset] = 0xa5;
    }
    Some(chunk)
}

/// `GET /sleep?ms=N`: blocks for N milliseconds, then answers 200.
pub fn sleep(query: &str) -> Response {
    let Some(ms) = number_param(query, "ms") else {
        return reply::error_message(400, "query parameter `ms` must be a non-negative integer");
    };
    std::thread::sleep(Duration::from_millis(ms));
    reply::json(200, &json!({ "slept_ms": ms }))
}

/// `GET /alloc?mb=N`: allocates and touches N MiB, then answers 200.
pub fn alloc(query: &str) -> Response {
    let Some(mb) = number_param(query, "mb") else {
        return reply::error_message(400, "query parameter `mb` must be a non-negative integer");
    };
    let Some(size) = usize::try_from(mb).ok().and_then(|mb| mb.checked_mul(MIB)) else {
        return reply::error_message(400, "`mb` is larger than the address space");
    };
    match touched_chunk(size) {
        Some(chunk) => {
            black_box(&chunk);
            reply::json(200, &json!({ "allocated_mb": mb }))
        }
        None => reply::error_message(500, &format!("allocating {mb} MiB failed")),
    }
}

fn number_param(query: &str, name: &str) -> Option<u64> {
    query_param(query, name)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_params() {
        assert_eq!(number_param("ms=250", "ms"), Some(250));
        assert_eq!(number_param("ms=-1", "ms"), None);
        assert_eq!(number_param("ms=abc", "ms"), None);
        assert_eq!(number_param("mb=2", "ms"), None);
    }

    #[test]
    fn chunks_are_touched() {
        let chunk = touched_chunk(2 * PAGE + 1).expect("small allocation");
        assert_eq!(chunk.len(), 2 * PAGE + 1);
        assert_eq!(chunk[0], 0xa5);
        assert_eq!(chunk[PAGE], 0xa5);
        assert_eq!(chunk[2 * PAGE], 0xa5);
        assert_eq!(chunk[1], 0);
    }

    #[test]
    fn alloc_reports_size() {
        let response = alloc("mb=1");
        assert_eq!(*response.status(), 200);
        assert_eq!(response.body(), br#"{"allocated_mb":1}"#);
        assert_eq!(*alloc("mb=x").status(), 400);
    }
}
