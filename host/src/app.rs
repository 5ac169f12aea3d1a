//! The loaded application: the engine, each component pre-instantiated, the
//! shared services, and request dispatch (one fresh instance per request,
//! bounded in time, memory and number).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _, Result};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tokio::sync::Semaphore;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{
    Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimitsBuilder, Trap,
    UpdateDeadline,
};
use wasmtime_wasi::{FsPerms, WasiCtx};
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpView};

use crate::allowed_hosts::AllowedHosts;
use crate::bindings::SpinHost;
use crate::key_value::KvBackend;
use crate::manifest::{FileMount, Manifest};
use crate::metrics::Metrics;
use crate::outbound_http::OutboundHooks;
use crate::redis::RedisPool;
use crate::routing::{RouteMatch, Router};
use crate::runtime_config::{KeyValueBackend, RuntimeConfig};
use crate::sqlite::SqlitePool;
use crate::state::{ComponentConfig, GuestOutput, GuestStream, RequestState, Services};
use crate::telemetry::Invocation;
use crate::variables::{AppVariables, ComponentVariables};

/// How often the epoch advances; the granularity of time limits and of
/// yielding a busy guest back to the executor.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits and locations a host runs with.
#[derive(Debug, Clone)]
pub struct HostOptions {
    pub manifest: PathBuf,
    pub runtime_config: Option<PathBuf>,
    /// Where Spin keeps default databases (`.spin` beside the manifest).
    pub state_dir: Option<PathBuf>,
    /// Compiled-component cache; `None` disables it.
    pub cache_dir: Option<PathBuf>,
    /// Requests (instances) handled at once; beyond it, 503.
    pub max_instances: u32,
    /// Wall-clock limit of one request, guest CPU and host calls alike.
    pub request_timeout: Duration,
    /// Linear memory one instance may grow to.
    pub max_memory: usize,
    /// Where spans go (off by default; see [`crate::telemetry`]).
    pub tracer: spinshop_otlp::Tracer,
}

impl Default for HostOptions {
    fn default() -> Self {
        Self {
            manifest: PathBuf::from("spin.toml"),
            runtime_config: None,
            state_dir: None,
            cache_dir: None,
            max_instances: 256,
            request_timeout: Duration::from_secs(30),
            max_memory: 128 << 20,
            tracer: spinshop_otlp::Tracer::default(),
        }
    }
}

/// A component ready to serve.
pub struct LoadedComponent {
    pub config: Arc<ComponentConfig>,
    pub name: Arc<str>,
    pre: ProxyPre<RequestState>,
}

/// The running application.
pub struct App {
    pub manifest: Manifest,
    pub router: Router,
    engine: Engine,
    components: HashMap<String, LoadedComponent>,
    services: Arc<Services>,
    pub metrics: Metrics,
    concurrency: Arc<Semaphore>,
    options: HostOptions,
    /// Handed to outbound hooks for service chaining.
    me: Weak<App>,
}

/// What a component's request came to, for the log line.
#[derive(Debug)]
pub struct Dispatched {
    pub response: Response<HyperOutgoingBody>,
    pub component: Arc<str>,
    /// The route as written in the manifest (`/...` for chained requests).
    pub route: Arc<str>,
}

impl App {
    /// Loads the manifest and runtime config, resolves variables, opens the
    /// backends and compiles and pre-instantiates every component.
    pub fn load(options: HostOptions) -> Result<Arc<Self>> {
        let manifest = Manifest::load(&options.manifest)?;
        let state_dir = options
            .state_dir
            .clone()
            .unwrap_or_else(|| manifest.dir.join(".spin"));
        let runtime_config = RuntimeConfig::load(options.runtime_config.as_deref(), &state_dir)?;
        let env = |k: &str| std::env::var(k).ok();
        let app_variables = AppVariables::resolve(&manifest, &env)
            .with_context(|| format!("cannot start {}", options.manifest.display()))?;

        let (router, duplicates) = Router::build(&manifest.http_triggers)?;
        for d in duplicates {
            tracing::warn!(route = %d.route, replaced = %d.replaced, effective = %d.effective, "duplicate route: the later trigger wins");
        }

        let services = Arc::new(open_services(&manifest, &runtime_config)?);
        let engine = new_engine(&options)?;
        spawn_epoch_ticker(&engine);

        let mut linker: Linker<RequestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        SpinHost::add_to_linker::<_, wasmtime::component::HasSelf<RequestState>>(
            &mut linker,
            |s| s,
        )?;

        let mut components = HashMap::new();
        for id in manifest.components.keys() {
            let config = component_config(&manifest, id, &app_variables)
                .with_context(|| format!("component {id:?}"))?;
            let path = manifest.source_path(id)?;
            let started = Instant::now();
            let component =
                crate::compile::load_component(&engine, &path, options.cache_dir.as_deref())
                    .with_context(|| format!("component {id:?}"))?;
            let pre = linker
                .instantiate_pre(&component)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!("component {id:?} imports something spinshop-host does not provide")
                })?;
            let pre = ProxyPre::new(pre)
                .map_err(anyhow::Error::from)
                .with_context(|| {
                    format!("component {id:?} does not export wasi:http/incoming-handler@0.2.x")
                })?;
            tracing::debug!(component = %id, source = %path.display(), ms = started.elapsed().as_millis() as u64, "component ready");
            components.insert(
                id.clone(),
                LoadedComponent {
                    name: Arc::from(id.as_str()),
                    config: Arc::new(config),
                    pre,
                },
            );
        }

        Ok(Arc::new_cyclic(|me| Self {
            me: me.clone(),
            manifest,
            router,
            engine,
            components,
            services,
            metrics: Metrics::default(),
            concurrency: Arc::new(Semaphore::new(options.max_instances as usize)),
            options,
        }))
    }

    /// Where the application's spans go.
    pub fn tracer(&self) -> &spinshop_otlp::Tracer {
        &self.options.tracer
    }

    /// Serves a request that arrived on the listener, traced by `trace`.
    pub async fn handle_inbound(
        self: &Arc<Self>,
        mut req: http::Request<WasiBody>,
        client_addr: SocketAddr,
        trace: Option<Arc<Invocation>>,
    ) -> Option<Dispatched> {
        let route = self.router.route(req.uri().path())?;
        // `Connection` describes our hop only; guests forwarding it break.
        req.headers_mut().remove(http::header::CONNECTION);
        let host = req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_string();
        let path_and_query = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let full_url = format!("http://{host}{path_and_query}");
        if let Ok(uri) = full_url.parse() {
            *req.uri_mut() = uri;
        }
        if !req.headers().contains_key(http::header::HOST) {
            req.headers_mut()
                .insert(http::header::HOST, HeaderValue::from_static("localhost"));
        }
        Some(
            self.dispatch(req, &route, client_addr, &full_url, trace)
                .await,
        )
    }

    /// Serves a service-chaining request to `component` in-process; its
    /// execution is traced under `parent`, the caller's client span.
    pub async fn handle_chained(
        self: &Arc<Self>,
        component: &str,
        mut req: http::Request<WasiBody>,
        parent: Option<spinshop_otlp::SpanContext>,
    ) -> Result<Response<WasiBody>, wasmtime_wasi_http::Error> {
        if !self.components.contains_key(component) {
            return Err(wasmtime_wasi_http::Error::DestinationNotFound);
        }
        let path = req.uri().path().to_string();
        let route = RouteMatch::chained(component, &path);
        req.headers_mut().remove(http::header::HOST);
        req.headers_mut().remove(http::header::CONNECTION);
        let full_url = req.uri().to_string();
        let host = req
            .uri()
            .authority()
            .map(|a| a.as_str().to_string())
            .unwrap_or_else(|| format!("{component}.spin.internal"));
        if let Ok(value) = HeaderValue::from_str(&host) {
            req.headers_mut().insert(http::header::HOST, value);
        }
        let client = SocketAddr::from(([0, 0, 0, 0], 0));
        let trace = parent.map(|p| Invocation::chained(&self.options.tracer, p));
        let dispatched = self.dispatch(req, &route, client, &full_url, trace).await;
        Ok(dispatched.response)
    }

    async fn dispatch(
        self: &Arc<Self>,
        mut req: http::Request<WasiBody>,
        route: &RouteMatch,
        client_addr: SocketAddr,
        full_url: &str,
        trace: Option<Arc<Invocation>>,
    ) -> Dispatched {
        let route_name: Arc<str> = Arc::from(route.raw_route.as_str());
        let Some(component) = self.components.get(&route.component) else {
            return Dispatched {
                response: plain(StatusCode::NOT_FOUND, "Not Found"),
                component: Arc::from(route.component.as_str()),
                route: route_name,
            };
        };
        let name = component.name.clone();
        let Ok(permit) = self.concurrency.clone().try_acquire_owned() else {
            self.metrics.rejected();
            let mut response = plain(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable");
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            return Dispatched {
                response,
                component: name,
                route: route_name,
            };
        };
        set_spin_headers(req.headers_mut(), route, client_addr, full_url);

        if let Some(t) = &trace {
            t.start_execution(&name);
        }
        let mut store = match self.new_store(component, trace.clone()) {
            Ok(store) => store,
            Err(e) => {
                tracing::error!(component = %name, error = %format!("{e:#}"), "cannot prepare a store");
                if let Some(t) = &trace {
                    t.finish_execution(Some(("store", format!("{e:#}"))));
                }
                return Dispatched {
                    response: plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
                    component: name,
                    route: route_name,
                };
            }
        };
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let prepared = (|| -> wasmtime::Result<_> {
            let mut http = store.data_mut().http();
            let request = http.new_incoming_request(Scheme::Http, req)?;
            let mut http = store.data_mut().http();
            let out = http.new_response_outparam(sender)?;
            Ok((request, out))
        })();
        let (request, out) = match prepared {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(component = %name, error = %format!("{e:#}"), "cannot pass the request to the component");
                if let Some(t) = &trace {
                    t.finish_execution(Some(("request", format!("{e:#}"))));
                }
                return Dispatched {
                    response: plain(StatusCode::BAD_REQUEST, "Bad Request"),
                    component: name,
                    route: route_name,
                };
            }
        };

        let pre = component.pre.clone();
        let app = self.clone();
        let task_name = name.clone();
        let timeout = self.options.request_timeout;
        let task_trace = trace.clone();
        let task = tokio::spawn(async move {
            let _permit = permit;
            let _in_flight = app.metrics.start();
            let started = Instant::now();
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                app.metrics.instantiated(started.elapsed());
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out)
                    .await
            };
            // The epoch deadline stops a guest burning CPU; this stops one
            // waiting on the host (sleeps, slow outbound calls).
            let failure = match tokio::time::timeout(timeout + EPOCH_TICK * 2, run).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) if matches!(e.downcast_ref::<Trap>(), Some(Trap::Interrupt)) => {
                    app.metrics.timeout(&task_name);
                    tracing::error!(component = %task_name, limit_ms = timeout.as_millis() as u64, "request stopped at the time limit");
                    Some(("timeout", "request stopped at the time limit".to_string()))
                }
                Ok(Err(e)) => {
                    app.metrics.trap(&task_name);
                    tracing::error!(component = %task_name, error = %format!("{e:?}"), "component trapped");
                    Some(("trap", format!("{e:#}")))
                }
                Err(_) => {
                    app.metrics.timeout(&task_name);
                    tracing::error!(component = %task_name, limit_ms = timeout.as_millis() as u64, "request stopped at the time limit");
                    Some(("timeout", "request stopped at the time limit".to_string()))
                }
            };
            if let Some(t) = task_trace {
                t.finish_execution(failure);
            }
        });

        let response = match receiver.await {
            Ok(Ok(response)) => response,
            Ok(Err(code)) => {
                tracing::error!(component = %name, error = ?code, "component answered with an error code");
                plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
            Err(_) => {
                // The outparam was dropped unset: the task says why (a trap,
                // a timeout, or a guest that returned without answering).
                let _ = task.await;
                plain(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
            }
        };
        if let Some(t) = &trace {
            t.response(response.headers());
        }
        Dispatched {
            response,
            component: name,
            route: route_name,
        }
    }

    fn new_store(
        &self,
        component: &LoadedComponent,
        trace: Option<Arc<Invocation>>,
    ) -> Result<Store<RequestState>> {
        let config = &component.config;
        let mut wasi = WasiCtx::builder();
        wasi.envs(&config.environment)
            .stdout(GuestOutput {
                component: component.name.clone(),
                stream: GuestStream::Stdout,
            })
            .stderr(GuestOutput {
                component: component.name.clone(),
                stream: GuestStream::Stderr,
            });
        for (host, guest) in &config.files {
            wasi.preopened_dir(host, guest, FsPerms::ReadOnly)?;
        }
        let state = RequestState {
            component: config.clone(),
            services: self.services.clone(),
            table: ResourceTable::new(),
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            hooks: OutboundHooks {
                component: config.clone(),
                app: self.me.clone(),
                trace,
            },
            limits: StoreLimitsBuilder::new()
                .memory_size(self.options.max_memory)
                .trap_on_grow_failure(false)
                .build(),
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limits);
        let deadline = Instant::now() + self.options.request_timeout;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            if Instant::now() >= deadline {
                Err(Trap::Interrupt.into())
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        Ok(store)
    }

    /// The component's configuration, for listings.
    pub fn component(&self, id: &str) -> Option<&LoadedComponent> {
        self.components.get(id)
    }
}

fn set_spin_headers(
    headers: &mut http::HeaderMap,
    route: &RouteMatch,
    client_addr: SocketAddr,
    full_url: &str,
) {
    let mut set = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    };
    set("spin-full-url", full_url);
    set("spin-path-info", &route.path_info);
    set("spin-matched-route", &route.based_route);
    set("spin-base-path", "/");
    set("spin-raw-component-route", &route.raw_route);
    set("spin-component-route", route.component_route());
    set("spin-client-addr", &client_addr.to_string());
    for (name, value) in &route.params {
        set(
            &format!("spin-path-match-{}", name.to_ascii_lowercase()),
            value,
        );
    }
}

/// A small plain-text response from the host itself.
pub fn plain(status: StatusCode, body: &'static str) -> Response<HyperOutgoingBody> {
    let mut response = Response::new(
        Full::new(Bytes::from_static(body.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn new_engine(options: &HostOptions) -> Result<Engine> {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    let instances = options.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances * 16)
        .total_memories(instances * 2)
        .total_tables(instances * 16)
        .total_stacks(instances)
        .max_memory_size(options.max_memory)
        // Resetting a small resident prefix with memset is cheaper than
        // madvise for the first pages every request touches.
        .linear_memory_keep_resident(64 << 10)
        .table_keep_resident(64 << 10)
        .async_stack_keep_resident(64 << 10)
        .decommit_batch_size(32);
    let mut pooled = config.clone();
    pooled.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&pooled) {
        Ok(engine) => Ok(engine),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "pooling allocator unavailable; allocating instances on demand");
            Ok(Engine::new(&config)?)
        }
    }
}

fn spawn_epoch_ticker(engine: &Engine) {
    let engine = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match engine.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        })
        .map(|_| ())
        .unwrap_or_else(
            |e| tracing::error!(error = %e, "cannot start the epoch ticker; time limits are off"),
        );
}

fn open_services(manifest: &Manifest, runtime: &RuntimeConfig) -> Result<Services> {
    let mut sqlite_used = HashSet::new();
    let mut kv_used = HashSet::new();
    for (id, c) in &manifest.components {
        for label in &c.sqlite_databases {
            if !runtime.sqlite.contains_key(label) {
                bail!("component {id:?} uses SQLite database {label:?}, which the runtime config does not define (add [sqlite_database.{label}])");
            }
            sqlite_used.insert(label.clone());
        }
        for label in &c.key_value_stores {
            if !runtime.key_value.contains_key(label) {
                bail!("component {id:?} uses key-value store {label:?}, which the runtime config does not define (add [key_value_store.{label}])");
            }
            kv_used.insert(label.clone());
        }
    }
    let mut services = Services {
        redis: Arc::new(RedisPool::default()),
        ..Services::default()
    };
    for label in sqlite_used {
        let backend = runtime.sqlite[&label].clone();
        services
            .sqlite
            .insert(label.clone(), Arc::new(SqlitePool::new(&label, backend)?));
    }
    for label in kv_used {
        let backend = match &runtime.key_value[&label] {
            KeyValueBackend::Sqlite(path) => KvBackend::Sqlite(Arc::new(SqlitePool::new(
                &format!("kv-{label}"),
                crate::runtime_config::SqliteBackend::File(path.clone()),
            )?)),
            KeyValueBackend::Memory => KvBackend::Sqlite(Arc::new(SqlitePool::new(
                &format!("kv-{label}"),
                crate::runtime_config::SqliteBackend::Memory,
            )?)),
            KeyValueBackend::Redis(url) => KvBackend::Redis {
                url: url.clone(),
                pool: services.redis.clone(),
            },
        };
        backend
            .prepare()
            .with_context(|| format!("cannot open key-value store {label:?}"))?;
        services.key_value.insert(label, Arc::new(backend));
    }
    Ok(services)
}

fn component_config(manifest: &Manifest, id: &str, app: &AppVariables) -> Result<ComponentConfig> {
    let decl = manifest
        .components
        .get(id)
        .ok_or_else(|| anyhow!("no component {id:?}"))?;
    let hosts = decl
        .allowed_outbound_hosts
        .iter()
        .map(|h| {
            app.expand(h)
                .with_context(|| format!("allowed_outbound_hosts entry {h:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
    let files = decl
        .files
        .iter()
        .map(|f| file_mount(&manifest.dir, f))
        .collect::<Result<Vec<_>>>()?;
    Ok(ComponentConfig {
        id: id.to_string(),
        allowed_hosts: AllowedHosts::parse(&hosts)?,
        variables: ComponentVariables::resolve(&decl.variables, app)?,
        environment: decl
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        sqlite_databases: decl.sqlite_databases.iter().cloned().collect(),
        key_value_stores: decl.key_value_stores.iter().cloned().collect(),
        files,
    })
}

fn file_mount(base: &Path, mount: &FileMount) -> Result<(PathBuf, String)> {
    let (source, destination) = match mount {
        FileMount::Placement {
            source,
            destination,
        } => (source.as_str(), destination.clone()),
        FileMount::Pattern(pattern) => {
            if pattern.contains(['*', '?', '[']) {
                bail!("files pattern {pattern:?}: glob patterns are not supported by spinshop-host; mount a directory with {{ source, destination }}");
            }
            (
                pattern.as_str(),
                format!("/{}", pattern.trim_start_matches("./")),
            )
        }
    };
    let host = base.join(source);
    if !host.is_dir() {
        bail!(
            "files entry {source:?}: spinshop-host mounts directories only, and {} is not one",
            host.display()
        );
    }
    Ok((host, destination))
}
