//! Host bindings generated from Spin's WIT (vendored unchanged in `wit/deps`).

wasmtime::component::bindgen!({
    // Only the packages the Spin interfaces need, dependencies first (the
    // vendored set also holds WASI 0.3 previews that 0.2 hosts don't load).
    path: [
        "../wit/deps/io-2023-10-18",
        "../wit/deps/clocks-2023-10-18",
        "../wit/deps/random-2023-10-18",
        "../wit/deps/filesystem-2023-10-18",
        "../wit/deps/sockets-2023-10-18",
        "../wit/deps/cli-2023-10-18",
        "../wit/deps/http-2023-10-18",
        "../wit/deps/io@0.2.0",
        "../wit/deps/clocks@0.2.0",
        "../wit/deps/random@0.2.0",
        "../wit/deps/filesystem@0.2.0",
        "../wit/deps/sockets@0.2.0",
        "../wit/deps/cli@0.2.0",
        "../wit/deps/http@0.2.0",
        "../wit/deps/spin@2.0.0",
        "../wit/deps/spin-sqlite@3.0.0",
    ],
    inline: r#"
        package spinshop:host;

        /// The Spin interfaces spinshop-host provides beyond WASI 0.2.
        world spin-host {
            import fermyon:spin/key-value@2.0.0;
            import fermyon:spin/sqlite@2.0.0;
            import fermyon:spin/redis@2.0.0;
            import fermyon:spin/variables@2.0.0;
            import spin:sqlite/sqlite@3.0.0;
        }
    "#,
    world: "spinshop:host/spin-host",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": crate::key_value::KvStoreHandle,
        "fermyon:spin/sqlite.connection": crate::sqlite::SqliteConnection,
        "fermyon:spin/redis.connection": crate::redis::RedisConnection,
        "spin:sqlite/sqlite.connection": crate::sqlite::SqliteConnection,
    },
});
