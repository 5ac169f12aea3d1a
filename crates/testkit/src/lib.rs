//! The one process harness of spinshop: real `redis-server`, Apache Kafka,
//! `spinshop-host` (or the Spin CLI), `kafka-bridge` and OCI registry processes on
//! loopback, started, waited for and stopped in order, and an OTLP receiver
//! for their traces. The host's and the end-to-end tests use it, and so do
//! `cargo xtask up` and the benchmarks.

pub mod bridge;
pub mod build;
pub mod echo;
pub mod host;
pub mod kafka;
pub mod otlp;
mod otlp_proto;
pub mod paths;
pub mod process;
pub mod prom;
pub mod prometheus;
pub mod redis;
pub mod registry;

use std::time::Duration;

pub use bridge::{bridge_binary, Bridge, BridgeSpec};
pub use build::{build_all, component_packages, host_binary};
pub use echo::EchoServer;
pub use host::{Host, HostSpec, Runtime, StartFailure};
pub use kafka::{Kafka, KafkaOptions};
pub use otlp::{OtlpReceiver, ReceivedSpan};
pub use paths::{free_port, repo_root, target_dir, TempDir};
pub use prom::metric_sum;
pub use prometheus::{Prometheus, PrometheusOptions, Target as ScrapeTarget};
pub use redis::{MemoryLimit, Redis, RedisOptions};
pub use registry::Registry;

/// An HTTP client (one per call: each test has its own async runtime, and a
/// pooled connection must not outlive the runtime that opened it).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}
