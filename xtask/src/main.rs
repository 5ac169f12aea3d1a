//! `cargo xtask`: set-up, build, run, test and benchmark orchestration for
//! spinshop. Each command does its own set-up, so a fresh machine needs
//! nothing but rustup (and root, or the apt command it prints); the first
//! run also fetches Apache Kafka from Maven Central (cached per machine).

mod bench;
mod compile;
mod net;
mod oci;
mod process;
mod repo;
mod schemathesis;
mod secrets;
mod setup;
mod stack;
mod test;
mod tofu;
mod up;

use std::process::ExitCode;

use anyhow::{bail, Context as _, Result};

use bench::{BenchOptions, BridgeOptions, SagaOptions, SearchOptions};
use repo::Repo;

const USAGE: &str = "\
cargo xtask: set up, build, run, test and benchmark spinshop

USAGE:
    cargo xtask <COMMAND>

COMMANDS:
    setup                 add the wasm32-wasip2 target, rustfmt, clippy, redis-server, openssl, Java,
                          Maven and docker-registry if missing, fetch Apache Kafka's jars once, and
                          build OpenTofu with its providers from the Go module proxy (needs Go >=
                          1.21 on PATH; once, then cached)
    build                 setup, then build the components (wasm32-wasip2), spinshop-host and
                          kafka-bridge (release)
    up                    build, start Redis, Apache Kafka on 127.0.0.1:9092, spinshop-host on
                          127.0.0.1:3000 and kafka-bridge on 127.0.0.1:9095; Ctrl-C stops them all
    test [-- <ARGS>...]   setup, rustfmt check, OpenTofu checks of infra/terraform (fmt, init,
                          validate, plan), build, clippy -D warnings, every test in the workspace
                          (the broker's jars in SPINSHOP_KAFKA_LIBS), and with SPIN_BIN set the
                          end-to-end suite again on `spin up`;
                          ARGS go to `cargo test --workspace --release`
    bench host [OPTIONS]  load spinshop-host with wrk; appends the figures to bench/RESULTS.md
        --duration <D>        per scenario, in wrk's format [default: 10s]
        --connections <N>     open connections [default: 16]
        --threads <N>         wrk threads [default: 2]
    bench bridge [OPTIONS]
                          catalog events through Kafka and kafka-bridge to inventory: the relay
                          hop's latency under a steady stream of product creations, and events/s
                          draining a backlog; appends the figures to bench/RESULTS.md
        --events <N>          events in the backlog [default: 5000]
        --rate <N>            product creations per second in the stream [default: 100]
        --seconds <N>         how long the stream runs [default: 15]
    bench saga [OPTIONS]  place orders at fixed arrival rates (open loop) and time each one's saga
                          (reserve, charge, confirm) through Kafka and kafka-bridge: placed ->
                          CONFIRMED p50/p99/max per rate and the highest rate sustained with p99
                          <= 250 ms; appends the figures to bench/RESULTS.md
        --rate <N[,N...]>     arrival rates, orders/s, each run in turn [default: 25,50,100,150]
        --seconds <N>         how long each rate runs [default: 15]
    bench search [OPTIONS]
                          seed the search read model with a synthetic catalog, load searches and
                          suggestions with wrk, read the index size, time catalog write -> found
                          by search; appends the figures to bench/RESULTS.md
        --products <N[,N...]> catalog sizes, each measured in turn [default: 10000,100000]
        --duration <D>        wrk's run per scenario [default: 10s]
        --connections <N>     wrk's connections [default: 16]
        --fresh <N>           catalog writes timed for freshness, at 10/s [default: 100]
    bench metrics [OPTIONS]
                          a cached catalog read loaded with wrk with request metrics off, then on,
                          each on a fresh private stack; appends the loss to bench/RESULTS.md
                          (the options of `bench host`)
    bench marketplace [OPTIONS]
                          the MercadoLibre proxy against the sandbox: the trivial route, a cached
                          item read and uncached reads (the sandbox answering in 20 ms) loaded
                          with wrk; appends the figures to bench/RESULTS.md (the options of
                          `bench host`)
    infra                 build OpenTofu if missing, then check infra/terraform as `test` does
                          (tofu fmt, init, validate, plan against no cluster)
    package               build the components and write the app's OCI image (what SpinKube runs)
                          to target/oci/spinshop; prints its digest, the same for the same inputs
    push --registry <HOST/REPO[:TAG]>
                          package, then push the image (tag: the app's version unless given);
                          prints the `image@sha256:...` reference for infra/terraform's app stage;
                          loopback registries use HTTP; credentials from SPINSHOP_REGISTRY_USERNAME
                          and SPINSHOP_REGISTRY_PASSWORD if set

ENVIRONMENT (up):
    SPINSHOP_LISTEN           the application's address [default: 127.0.0.1:3000]
    SPINSHOP_METRICS_LISTEN   the host's metrics address [default: 127.0.0.1:9090]
    SPINSHOP_REDIS_PORT       Redis port; a Redis already answering there is reused [default: 6379]
    SPINSHOP_CACHE_REDIS_PORT the cache's Redis port (64 MB, LRU); reused likewise [default: 6380]
    SPINSHOP_KAFKA_PORT       the broker's port; it must be free [default: 9092]
    SPINSHOP_BRIDGE_LISTEN    kafka-bridge's /health and /metrics [default: 127.0.0.1:9095]
    SPINSHOP_PROMETHEUS_LISTEN  Prometheus, scraping the app, host and bridge [default: 127.0.0.1:9091]
    SPINSHOP_HOST_LOG_TO_TERMINAL  set: the host's request log goes to the terminal, not .spinshop/logs/host.log

ENVIRONMENT (setup, up, test, bench bridge, bench saga):
    SPINSHOP_CACHE_DIR        where Kafka, OpenTofu and its providers, schemathesis are installed, under tools/
                              [default: ~/.cache/spinshop]
    SPIN_BIN                  (test) a Spin CLI: the end-to-end suite also runs on it
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
enum Command {
    Setup,
    Build,
    Up,
    Test { cargo_test_args: Vec<String> },
    BenchHost(BenchOptions),
    BenchBridge(BridgeOptions),
    BenchSaga(SagaOptions),
    BenchSearch(SearchOptions),
    BenchMetrics(BenchOptions),
    BenchMarketplace(BenchOptions),
    Infra,
    Package,
    Push { target: oci::Target },
    Help,
}

fn parse_args(args: &[String]) -> Result<Command> {
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => return Ok(Command::Help),
    };
    let no_more = |rest: &[String]| match rest.first() {
        Some(extra) => bail!("unexpected argument {extra:?} after `{command}`"),
        None => Ok(()),
    };
    match command {
        "setup" => no_more(rest).map(|()| Command::Setup),
        "build" => no_more(rest).map(|()| Command::Build),
        "up" => no_more(rest).map(|()| Command::Up),
        "test" => match rest.split_first() {
            None => Ok(Command::Test {
                cargo_test_args: Vec::new(),
            }),
            Some((dashes, args)) if dashes == "--" => Ok(Command::Test {
                cargo_test_args: args.to_vec(),
            }),
            Some((other, _)) => {
                bail!("unexpected argument {other:?}: pass arguments for cargo test after `--`")
            }
        },
        "bench" => match rest.split_first() {
            Some((target, options)) if target == "host" => {
                parse_bench_options(options).map(Command::BenchHost)
            }
            Some((target, options)) if target == "bridge" => {
                parse_bridge_options(options).map(Command::BenchBridge)
            }
            Some((target, options)) if target == "saga" => {
                parse_saga_options(options).map(Command::BenchSaga)
            }
            Some((target, options)) if target == "metrics" => {
                parse_bench_options(options).map(Command::BenchMetrics)
            }
            Some((target, options)) if target == "search" => {
                parse_search_options(options).map(Command::BenchSearch)
            }
            Some((target, options)) if target == "marketplace" => {
                parse_bench_options(options).map(Command::BenchMarketplace)
            }
            Some((target, _)) => bail!(
                "unknown benchmark {target:?}; there are `bench host`, `bench bridge`, `bench saga`, `bench search`, `bench metrics` and `bench marketplace`"
            ),
            None => bail!(
                "`bench` needs a target: `bench host`, `bench bridge`, `bench saga`, `bench search`, `bench metrics` or `bench marketplace`"
            ),
        },
        "infra" => no_more(rest).map(|()| Command::Infra),
        "package" => no_more(rest).map(|()| Command::Package),
        "push" => match rest {
            [flag, target] if flag == "--registry" => Ok(Command::Push {
                target: oci::Target::parse(target)?,
            }),
            _ => bail!("`push` takes exactly `--registry HOST/REPO[:TAG]`"),
        },
        "help" | "-h" | "--help" => Ok(Command::Help),
        other => bail!("unknown command {other:?}"),
    }
}

fn parse_bench_options(args: &[String]) -> Result<BenchOptions> {
    let mut options = BenchOptions::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--duration" => options.duration = bench::parse_duration(value?)?,
            "--connections" => options.connections = parse_count(flag, value?)?,
            "--threads" => options.threads = parse_count(flag, value?)?,
            other => bail!("unknown option {other:?} for `bench host`"),
        }
    }
    if options.threads > options.connections {
        bail!(
            "--threads ({}) cannot exceed --connections ({})",
            options.threads,
            options.connections
        );
    }
    Ok(options)
}

fn parse_bridge_options(args: &[String]) -> Result<BridgeOptions> {
    let mut options = BridgeOptions::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--events" => options.events = parse_count(flag, value?)?,
            "--rate" => options.rate = parse_count(flag, value?)?,
            "--seconds" => options.seconds = parse_count(flag, value?)?,
            other => bail!("unknown option {other:?} for `bench bridge`"),
        }
    }
    Ok(options)
}

fn parse_saga_options(args: &[String]) -> Result<SagaOptions> {
    let mut options = SagaOptions::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rate" => {
                options.rates = value?
                    .split(',')
                    .map(|r| parse_count(flag, r.trim()))
                    .collect::<Result<_>>()?
            }
            "--seconds" => options.seconds = parse_count(flag, value?)?,
            other => bail!("unknown option {other:?} for `bench saga`"),
        }
    }
    Ok(options)
}

fn parse_search_options(args: &[String]) -> Result<SearchOptions> {
    let mut options = SearchOptions::default();
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--products" => {
                let mut sizes = value?
                    .split(',')
                    .map(|n| parse_count(flag, n.trim()))
                    .collect::<Result<Vec<_>>>()?;
                sizes.sort_unstable();
                options.sizes = sizes;
            }
            "--duration" => options.duration = bench::parse_duration(value?)?,
            "--connections" => options.connections = parse_count(flag, value?)?,
            "--fresh" => options.fresh = parse_count(flag, value?)?,
            other => bail!("unknown option {other:?} for `bench search`"),
        }
    }
    Ok(options)
}

fn parse_count(flag: &str, value: &str) -> Result<u32> {
    match value.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => bail!("{flag} needs a positive whole number, not {value:?}"),
    }
}

fn run(command: Command) -> Result<()> {
    if command == Command::Help {
        print!("{USAGE}");
        return Ok(());
    }
    let repo = Repo::locate()?;
    // Every relative path (spin.toml's sources, recorded commands) is from the root.
    std::env::set_current_dir(repo.root())
        .with_context(|| format!("cannot change to {}", repo.root().display()))?;
    match command {
        Command::Setup => setup::ensure(setup::ALL_BUT_LOAD_GENERATOR),
        Command::Build => {
            setup::ensure(&[
                setup::Prerequisite::WasmTarget,
                setup::Prerequisite::OpenSslHeaders,
            ])?;
            compile::everything(&repo)
        }
        Command::Up => up::run(&repo),
        Command::Test { cargo_test_args } => test::run(&repo, &cargo_test_args),
        Command::BenchHost(options) => bench::host(&repo, &options),
        Command::BenchBridge(options) => bench::bridge(&repo, &options),
        Command::BenchSaga(options) => bench::saga(&repo, &options),
        Command::BenchSearch(options) => bench::search(&repo, &options),
        Command::BenchMetrics(options) => bench::metrics(&repo, &options),
        Command::BenchMarketplace(options) => bench::marketplace(&repo, &options),
        Command::Infra => {
            setup::ensure(&[setup::Prerequisite::OpenTofu])?;
            tofu::check::run(&repo)
        }
        Command::Package => oci::package(&repo),
        Command::Push { target } => oci::push(&repo, &target),
        Command::Help => Ok(()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match parse_args(&args) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("error: {e:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Command> {
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse_args(&args)
    }

    #[test]
    fn parses_the_simple_commands() {
        assert_eq!(parse("").ok(), Some(Command::Help));
        assert_eq!(parse("--help").ok(), Some(Command::Help));
        assert_eq!(parse("setup").ok(), Some(Command::Setup));
        assert_eq!(parse("build").ok(), Some(Command::Build));
        assert_eq!(parse("up").ok(), Some(Command::Up));
    }

    #[test]
    fn test_passes_everything_after_the_dashes_to_cargo_test() {
        assert_eq!(
            parse("test").ok(),
            Some(Command::Test {
                cargo_test_args: vec![]
            })
        );
        let expected = ["-p", "spinshop-host", "--", "--nocapture"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            parse("test -- -p spinshop-host -- --nocapture").ok(),
            Some(Command::Test {
                cargo_test_args: expected
            })
        );
        assert!(parse("test -p spinshop-host").is_err());
    }

    #[test]
    fn bench_host_takes_defaults_and_options() {
        assert_eq!(
            parse("bench host").ok(),
            Some(Command::BenchHost(BenchOptions::default()))
        );
        let options = BenchOptions {
            duration: "30s".into(),
            connections: 64,
            threads: 4,
        };
        assert_eq!(
            parse("bench host --duration 30s --connections 64 --threads 4").ok(),
            Some(Command::BenchHost(options))
        );
    }

    #[test]
    fn bench_bridge_takes_events_rate_and_seconds() {
        assert_eq!(
            parse("bench bridge").ok(),
            Some(Command::BenchBridge(BridgeOptions::default()))
        );
        assert_eq!(
            parse("bench bridge --events 200 --rate 50 --seconds 5").ok(),
            Some(Command::BenchBridge(BridgeOptions {
                events: 200,
                rate: 50,
                seconds: 5
            }))
        );
    }

    #[test]
    fn bench_saga_takes_rates_and_seconds() {
        assert_eq!(
            parse("bench saga").ok(),
            Some(Command::BenchSaga(SagaOptions::default()))
        );
        assert_eq!(
            parse("bench saga --rate 10,100 --seconds 5").ok(),
            Some(Command::BenchSaga(SagaOptions {
                rates: vec![10, 100],
                seconds: 5
            }))
        );
    }

    #[test]
    fn bench_search_takes_sizes_and_load() {
        assert_eq!(
            parse("bench search").ok(),
            Some(Command::BenchSearch(SearchOptions::default()))
        );
        assert_eq!(
            parse("bench search --products 100000,10000 --duration 5s --connections 8 --fresh 20")
                .ok(),
            Some(Command::BenchSearch(SearchOptions {
                sizes: vec![10_000, 100_000],
                duration: "5s".into(),
                connections: 8,
                fresh: 20,
            }))
        );
        assert!(parse("bench search --products 0").is_err());
    }

    #[test]
    fn deployment_commands_parse() -> Result<()> {
        assert_eq!(parse("package").ok(), Some(Command::Package));
        assert_eq!(parse("infra").ok(), Some(Command::Infra));
        assert_eq!(
            parse("push --registry localhost:5001/spinshop:dev").ok(),
            Some(Command::Push {
                target: oci::Target::parse("localhost:5001/spinshop:dev")?
            })
        );
        Ok(())
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        for line in [
            "deploy",
            "up now",
            "setup --force",
            "bench",
            "bench guest",
            "bench host --duration",
            "bench host --duration soon",
            "bench host --connections 0",
            "bench host --threads -1",
            "bench host --threads 8 --connections 4",
            "bench host --rate 5",
            "bench bridge --events",
            "bench bridge --events 0",
            "bench bridge --events many",
            "bench bridge --duration 10s",
            "bench saga --rate",
            "bench saga --rate 0",
            "bench saga --rate 10,-5",
            "bench saga --seconds 0",
            "bench saga --orders 100",
            "bench saga 300",
            "package now",
            "infra --plan",
            "push",
            "push localhost:5001/spinshop",
            "push --registry",
            "push --registry spinshop",
            "push --registry localhost:5001/spinshop extra",
        ] {
            assert!(parse(line).is_err(), "{line:?} should be rejected");
        }
    }
}
