//! `spinshop-host up`: serve a Spin application.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use spinshop_host::{http_trigger, App, HostOptions};
use tokio::net::TcpListener;

const USAGE: &str = "\
spinshop-host: a Spin-compatible runtime for spinshop

USAGE:
    spinshop-host up [OPTIONS]

OPTIONS:
    -f, --from <FILE>                 application manifest [default: spin.toml]
        --listen <ADDR>               address to serve on [default: 127.0.0.1:3000]
        --runtime-config-file <FILE>  runtime configuration (Spin's format)
        --state-dir <DIR>             default databases [default: .spin beside the manifest]
        --metrics-listen <ADDR>       serve the host's Prometheus metrics on ADDR
        --max-instances <N>           requests handled at once, 503 beyond [default: 256]
        --request-timeout <SECS>      time limit of one request [default: 30]
        --max-memory-mb <MB>          linear memory limit of one instance [default: 128]
        --cache-dir <DIR>             compiled-component cache [default: $XDG_CACHE_HOME or ~/.cache /spinshop-host]
        --no-cache                    always compile components
        --shutdown-grace <SECS>       wait for requests in flight on shutdown [default: 30]

Environment: SPIN_VARIABLE_<NAME> sets application variable <name>;
SPINSHOP_LOG (or RUST_LOG) sets the log filter [default: info].

Traces: with OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
set, spans are exported over OTLP/HTTP as Spin exports them: a server span per
request, the component's execution, a client span per outbound request, whose
context replaces the guest's traceparent header. OTEL_EXPORTER_OTLP_PROTOCOL
is http/protobuf (default) or http/json; OTEL_SERVICE_NAME [default: spinshop],
OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT,
OTEL_BSP_SCHEDULE_DELAY, OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_MAX_EXPORT_BATCH_SIZE
and OTEL_SDK_DISABLED apply. Spans beyond the queue, or that the collector
refuses, are dropped and counted (spinshop_host_otlp_spans_dropped_total).
";

struct Cli {
    options: HostOptions,
    listen: SocketAddr,
    metrics_listen: Option<SocketAddr>,
    grace: Duration,
}

fn parse_args(args: &[String]) -> Result<Option<Cli>> {
    let mut args = args.iter();
    match args.next().map(String::as_str) {
        Some("up") => {}
        Some("-h" | "--help" | "help") | None => return Ok(None),
        Some(other) => bail!("unknown command {other:?}\n\n{USAGE}"),
    }
    let mut options = HostOptions {
        cache_dir: default_cache_dir(),
        ..HostOptions::default()
    };
    let mut listen: SocketAddr = "127.0.0.1:3000".parse()?;
    let mut metrics_listen = None;
    let mut grace = Duration::from_secs(30);
    while let Some(flag) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-f" | "--from" | "--file" => options.manifest = PathBuf::from(value(flag)?),
            "--listen" => listen = value(flag)?.parse().context("--listen")?,
            "--runtime-config-file" => options.runtime_config = Some(PathBuf::from(value(flag)?)),
            "--state-dir" => options.state_dir = Some(PathBuf::from(value(flag)?)),
            "--metrics-listen" => {
                metrics_listen = Some(value(flag)?.parse().context("--metrics-listen")?)
            }
            "--max-instances" => {
                options.max_instances = value(flag)?.parse().context("--max-instances")?;
                if options.max_instances == 0 {
                    bail!("--max-instances must be at least 1");
                }
            }
            "--request-timeout" => {
                let secs: f64 = value(flag)?.parse().context("--request-timeout")?;
                if !(secs > 0.0 && secs.is_finite()) {
                    bail!("--request-timeout must be a positive number of seconds");
                }
                options.request_timeout = Duration::from_secs_f64(secs);
            }
            "--max-memory-mb" => {
                let mb: usize = value(flag)?.parse().context("--max-memory-mb")?;
                options.max_memory = mb
                    .checked_mul(1 << 20)
                    .context("--max-memory-mb is too large")?;
            }
            "--cache-dir" => options.cache_dir = Some(PathBuf::from(value(flag)?)),
            "--no-cache" => options.cache_dir = None,
            "--shutdown-grace" => {
                grace = Duration::from_secs(value(flag)?.parse().context("--shutdown-grace")?)
            }
            "-h" | "--help" => return Ok(None),
            other => bail!("unknown option {other:?}\n\n{USAGE}"),
        }
    }
    Ok(Some(Cli {
        options,
        listen,
        metrics_listen,
        grace,
    }))
}

fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("spinshop-host"))
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("SPINSHOP_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".into());
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(EnvFilter::new(filter))
        .with_writer(std::io::stdout)
        .init();
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cli = match parse_args(&args) {
        Ok(Some(cli)) => cli,
        Ok(None) => {
            print!("{USAGE}");
            return std::process::ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            return std::process::ExitCode::from(2);
        }
    };
    init_logging();
    match run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let mut options = cli.options.clone();
        options.tracer = start_tracer()?;
        let tracer = options.tracer.clone();
        let manifest = options.manifest.display().to_string();
        let app = tokio::task::spawn_blocking(move || App::load(options))
            .await?
            .with_context(|| format!("cannot start the application in {manifest}"))?;
        let listener = TcpListener::bind(cli.listen)
            .await
            .with_context(|| format!("cannot listen on {}", cli.listen))?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        if let Some(metrics_addr) = cli.metrics_listen {
            let metrics_listener = TcpListener::bind(metrics_addr)
                .await
                .with_context(|| format!("cannot listen on {metrics_addr} for metrics"))?;
            eprintln!("Metrics: http://{}/metrics", metrics_listener.local_addr()?);
            let mut stop = stop_rx.clone();
            tokio::spawn(http_trigger::serve_metrics(
                app.clone(),
                metrics_listener,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            ));
        }
        eprintln!("Serving http://{addr}");
        eprintln!("Available Routes:");
        for (route, component) in app.router.routes() {
            eprintln!("  {component}: http://{addr}{route}");
        }
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        });
        let mut stop = stop_rx.clone();
        http_trigger::serve(
            app,
            listener,
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
            cli.grace,
        )
        .await;
        // What the last requests recorded.
        tracer.shutdown(TRACE_FLUSH_LIMIT).await;
        Ok(())
    })
}

/// How long shutdown waits for the last spans to reach the collector.
const TRACE_FLUSH_LIMIT: Duration = Duration::from_secs(5);

/// The OTLP exporter the environment asks for, or one that records nothing.
fn start_tracer() -> Result<spinshop_otlp::Tracer> {
    let Some(config) = spinshop_otlp::ExportConfig::from_env("spinshop")
        .map_err(anyhow::Error::msg)
        .context("trace export settings")?
    else {
        return Ok(spinshop_otlp::Tracer::default());
    };
    tracing::info!(
        endpoint = %config.endpoint,
        protocol = ?config.protocol,
        service = config.service_name(),
        "exporting traces over OTLP"
    );
    Ok(spinshop_otlp::Tracer::start(
        config,
        ("spinshop-host", env!("CARGO_PKG_VERSION")),
        |problem| tracing::warn!(target: "otlp", "{problem}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_up_with_options() {
        let cli = parse_args(&args("up --from app/spin.toml --listen 127.0.0.1:0 --max-instances 4 --request-timeout 0.5 --no-cache"))
            .expect("valid")
            .expect("a command");
        assert_eq!(cli.options.manifest, PathBuf::from("app/spin.toml"));
        assert_eq!(cli.listen.port(), 0);
        assert_eq!(cli.options.max_instances, 4);
        assert_eq!(cli.options.request_timeout, Duration::from_millis(500));
        assert!(cli.options.cache_dir.is_none());
    }

    #[test]
    fn rejects_unknown_options_and_bad_values() {
        assert!(parse_args(&args("up --lisen x")).is_err());
        assert!(parse_args(&args("up --max-instances 0")).is_err());
        assert!(parse_args(&args("up --request-timeout -1")).is_err());
        assert!(parse_args(&args("serve")).is_err());
        assert!(parse_args(&args("--help")).expect("help").is_none());
    }
}
