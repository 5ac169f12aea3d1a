//! How the bridge reaches Kafka. Every client it makes (the relay's
//! producer, one consumer per component, the admin client that creates
//! topics, replay's consumer and producer) is configured by [`client`], so
//! none can end up with other brokers or without the credentials.
//!
//! Credentials come from the environment, never from `bridge.toml`: on
//! Kubernetes the file is a ConfigMap anyone reading the namespace sees,
//! while the password stays in the Secret the broker's operator made.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{bail, Result};
use rdkafka::config::ClientConfig;

use crate::config::Config;

/// Environment variable => the librdkafka property it sets on every client.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    ("BRIDGE_KAFKA_SECURITY_PROTOCOL", "security.protocol"),
    ("BRIDGE_KAFKA_SASL_MECHANISM", "sasl.mechanism"),
    ("BRIDGE_KAFKA_SASL_USERNAME", "sasl.username"),
    ("BRIDGE_KAFKA_SASL_PASSWORD", "sasl.password"),
];

const PROTOCOL: &str = "security.protocol";
const MECHANISM: &str = "sasl.mechanism";
const USERNAME: &str = "sasl.username";
const PASSWORD: &str = "sasl.password";

/// The connection settings taken from the environment. `Debug` shows
/// every one but the password, so a logged configuration leaks nothing.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Connection {
    properties: BTreeMap<&'static str, String>,
}

impl Connection {
    /// From this process's environment.
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// From `lookup` (variable name => value), checked: credentials come
    /// in pairs and only with a protocol that sends them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut properties = BTreeMap::new();
        for (variable, property) in ENVIRONMENT {
            let Some(value) = lookup(variable) else {
                continue;
            };
            // `kubectl create secret --from-file` keeps the file's final
            // newline; no protocol, mechanism, user name or generated
            // password ends in one.
            let value = value.trim_end_matches(['\r', '\n']);
            if !value.is_empty() {
                properties.insert(*property, value.to_string());
            }
        }
        let connection = Self { properties };
        connection.check()?;
        Ok(connection)
    }

    fn check(&self) -> Result<()> {
        let username = self.properties.contains_key(USERNAME);
        if username != self.properties.contains_key(PASSWORD) {
            bail!(
                "BRIDGE_KAFKA_SASL_USERNAME and BRIDGE_KAFKA_SASL_PASSWORD go together: set both or neither"
            );
        }
        // librdkafka would connect without SASL and ignore the
        // credentials; the broker would then refuse every request with a
        // message that never names the cause.
        let sasl = self
            .properties
            .get(PROTOCOL)
            .is_some_and(|p| p.to_ascii_uppercase().starts_with("SASL_"));
        if username && !sasl {
            bail!(
                "Kafka credentials are set, but BRIDGE_KAFKA_SECURITY_PROTOCOL is {}: set it to SASL_PLAINTEXT or SASL_SSL",
                self.properties
                    .get(PROTOCOL)
                    .map_or("not set".to_string(), |p| format!("{p:?}"))
            );
        }
        Ok(())
    }

    /// The settings, in a fixed order (the password among them).
    fn properties(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.properties.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// For the start-up log: protocol, mechanism and user, never the
    /// password.
    pub fn describe(&self) -> String {
        let protocol = self
            .properties
            .get(PROTOCOL)
            .map_or("PLAINTEXT (librdkafka's default)", String::as_str);
        match self.properties.get(USERNAME) {
            Some(user) => format!(
                "{protocol}, {} as {user}",
                self.properties
                    .get(MECHANISM)
                    .map_or("GSSAPI (librdkafka's default)", String::as_str)
            ),
            None => format!("{protocol}, no credentials"),
        }
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (key, value) in self.properties() {
            if key == PASSWORD {
                map.entry(&key, &"<redacted>");
            } else {
                map.entry(&key, &value);
            }
        }
        map.finish()
    }
}

/// The properties of one client, in the order they are set, so a later
/// one wins: the brokers, the client's `own` settings, the file's `extra`
/// table for its kind (`[producer]`, `[consumer]`), and last the
/// connection from the environment, which nothing in the file overrides.
pub fn properties(
    config: &Config,
    own: &[(&str, &str)],
    extra: Option<&BTreeMap<String, String>>,
) -> Vec<(String, String)> {
    let mut out = vec![("bootstrap.servers".to_string(), config.brokers.clone())];
    out.extend(
        own.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
    );
    out.extend(
        extra
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    out.extend(
        config
            .connection
            .properties()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    out
}

/// A client configuration: see [`properties`].
pub fn client(
    config: &Config,
    own: &[(&str, &str)],
    extra: Option<&BTreeMap<String, String>>,
) -> ClientConfig {
    let mut client = ClientConfig::new();
    for (key, value) in properties(config, own, extra) {
        client.set(key, value);
    }
    client
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const CONFIG: &str = r#"
        brokers = "k1:9092,k2:9092"
        platform_url = "http://127.0.0.1:3000"
        [topics]
        names = ["orders.events"]
        [producer]
        "linger.ms" = "5"
        "sasl.username" = "from-the-file"
    "#;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn scram() -> Connection {
        Connection::from_lookup(lookup(&[
            ("BRIDGE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
            ("BRIDGE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
            ("BRIDGE_KAFKA_SASL_USERNAME", "kafka-bridge"),
            (
                "BRIDGE_KAFKA_SASL_PASSWORD",
                "s3cret-generated-by-strimzi\n",
            ),
        ]))
        .expect("a complete SCRAM connection")
    }

    fn get<'a>(properties: &'a [(String, String)], key: &str) -> Option<&'a str> {
        // The last setting of a key is the one librdkafka keeps.
        properties
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn every_kind_of_client_gets_the_credentials_from_the_environment() {
        let mut config = Config::parse(CONFIG).expect("parses");
        config.connection = scram();
        let producer = properties(&config, &[("acks", "all")], Some(&config.producer));
        let consumer = properties(
            &config,
            &[("group.id", "spinshop-bridge.orders")],
            Some(&config.consumer),
        );
        let admin = properties(&config, &[], None);
        for client in [&producer, &consumer, &admin] {
            assert_eq!(get(client, "bootstrap.servers"), Some("k1:9092,k2:9092"));
            assert_eq!(get(client, "security.protocol"), Some("SASL_PLAINTEXT"));
            assert_eq!(get(client, "sasl.mechanism"), Some("SCRAM-SHA-512"));
            assert_eq!(get(client, "sasl.username"), Some("kafka-bridge"));
            assert_eq!(
                get(client, "sasl.password"),
                Some("s3cret-generated-by-strimzi"),
                "the Secret's trailing newline is not part of the password"
            );
        }
        assert_eq!(get(&producer, "linger.ms"), Some("5"), "file extras apply");
        assert_eq!(get(&producer, "acks"), Some("all"));
        assert_eq!(get(&consumer, "group.id"), Some("spinshop-bridge.orders"));
    }

    #[test]
    fn without_the_environment_nothing_is_added() {
        let config = Config::parse(CONFIG).expect("parses");
        let connection = Connection::from_lookup(lookup(&[])).expect("nothing set is fine");
        assert_eq!(connection, Connection::default());
        let admin = properties(&config, &[], None);
        assert_eq!(
            admin,
            [(
                "bootstrap.servers".to_string(),
                "k1:9092,k2:9092".to_string()
            )]
        );
        assert_eq!(
            connection.describe(),
            "PLAINTEXT (librdkafka's default), no credentials"
        );
        let empty = Connection::from_lookup(lookup(&[("BRIDGE_KAFKA_SASL_USERNAME", "")]))
            .expect("an empty variable counts as unset");
        assert_eq!(empty, Connection::default());
    }

    #[test]
    fn the_password_is_never_shown() {
        let mut config = Config::parse(CONFIG).expect("parses");
        config.connection = scram();
        for shown in [
            format!("{:?}", config.connection),
            format!("{config:?}"),
            config.connection.describe(),
        ] {
            assert!(!shown.contains("s3cret"), "{shown}");
        }
        assert!(format!("{:?}", config.connection).contains("kafka-bridge"));
        assert_eq!(
            config.connection.describe(),
            "SASL_PLAINTEXT, SCRAM-SHA-512 as kafka-bridge"
        );
    }

    /// Without OpenSSL in librdkafka (rdkafka's `ssl` feature) SCRAM is
    /// refused when a client is made, not when the bridge is built.
    #[test]
    fn librdkafka_can_make_a_scram_client() {
        let mut config =
            Config::parse(&CONFIG.replace("k1:9092,k2:9092", "127.0.0.1:1")).expect("parses");
        config.connection = scram();
        let producer: Result<rdkafka::producer::BaseProducer, _> =
            client(&config, &[], Some(&config.producer)).create();
        if let Err(e) = producer {
            panic!("librdkafka refuses SASL/SCRAM-SHA-512: {e}");
        }
    }

    #[test]
    fn incomplete_or_unused_credentials_are_refused() {
        let error = |pairs: &[(&str, &str)]| {
            format!(
                "{:#}",
                Connection::from_lookup(lookup(pairs)).expect_err("refused")
            )
        };
        assert!(error(&[
            ("BRIDGE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
            ("BRIDGE_KAFKA_SASL_USERNAME", "kafka-bridge"),
        ])
        .contains("BRIDGE_KAFKA_SASL_PASSWORD"));
        assert!(error(&[("BRIDGE_KAFKA_SASL_PASSWORD", "p")]).contains("set both or neither"));
        let plain = error(&[
            ("BRIDGE_KAFKA_SASL_USERNAME", "kafka-bridge"),
            ("BRIDGE_KAFKA_SASL_PASSWORD", "s3cret"),
        ]);
        assert!(plain.contains("not set"), "{plain}");
        assert!(!plain.contains("s3cret"), "{plain}");
        assert!(error(&[
            ("BRIDGE_KAFKA_SECURITY_PROTOCOL", "ssl"),
            ("BRIDGE_KAFKA_SASL_USERNAME", "kafka-bridge"),
            ("BRIDGE_KAFKA_SASL_PASSWORD", "s3cret"),
        ])
        .contains("\"ssl\""));
        Connection::from_lookup(lookup(&[
            ("BRIDGE_KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("BRIDGE_KAFKA_SASL_USERNAME", "kafka-bridge"),
            ("BRIDGE_KAFKA_SASL_PASSWORD", "s3cret"),
        ]))
        .expect("the protocol's case does not matter to librdkafka");
    }
}
