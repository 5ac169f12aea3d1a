//! Whether `kafka-bridge/bridge.toml` agrees with a component's
//! declaration: every subscription reaches a handler for some of its
//! topic's events and every handler a subscription, `batch` only where
//! batches are taken, an outbox exactly where the bridge drains one, and a
//! tick exactly where there is tick work. Each component runs the check as
//! a native test that [`export!`](crate::export) writes for it.

use serde::Deserialize;

use crate::component::Declaration;
use crate::events::Topic;

/// The parts of `bridge.toml` the check reads (the bridge itself checks
/// the whole file).
#[derive(Debug, Deserialize)]
pub struct Bridge {
    #[serde(default, rename = "publisher")]
    pub publishers: Vec<Named>,
    #[serde(default, rename = "subscription")]
    pub subscriptions: Vec<Subscription>,
    #[serde(default, rename = "tick")]
    pub ticks: Vec<Named>,
}

/// A `[[publisher]]` or `[[tick]]`.
#[derive(Debug, Deserialize)]
pub struct Named {
    pub component: String,
}

/// A `[[subscription]]`.
#[derive(Debug, Deserialize)]
pub struct Subscription {
    pub topic: String,
    pub component: String,
    #[serde(default)]
    pub batch: Option<u32>,
}

impl Bridge {
    /// Reads `bridge.toml`'s text.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("bridge.toml: {e}"))
    }
}

/// Every way `bridge` and the declaration `d` disagree.
pub fn disagreements(d: &Declaration, bridge: &Bridge) -> Vec<String> {
    let name = d.name;
    let mut problems = Vec::new();
    let subscriptions: Vec<&Subscription> = bridge
        .subscriptions
        .iter()
        .filter(|s| s.component == name)
        .collect();
    for s in &subscriptions {
        if Topic::parse(&s.topic).is_none() {
            problems.push(format!(
                "{name} subscribes to {}, no topic of the contract",
                s.topic
            ));
        }
        match &d.consumes {
            None => problems.push(format!(
                "bridge.toml delivers {} to {name}, which declares no event handler",
                s.topic
            )),
            Some(c) => {
                if !c.takes_from(&s.topic) {
                    problems.push(format!(
                        "bridge.toml delivers {} to {name}, which handles none of its events",
                        s.topic
                    ));
                }
                if s.batch.is_some_and(|n| n > 1) && !c.batches {
                    problems.push(format!(
                        "bridge.toml sends {name} batches of {}, and it takes one event per delivery",
                        s.topic
                    ));
                }
            }
        }
    }
    if let Some(c) = &d.consumes {
        if !d.inbox {
            problems.push(format!(
                "{name} handles events but its migrations create no processed_events table"
            ));
        }
        let subscribed = |topic: &str| subscriptions.iter().any(|s| s.topic == topic);
        match c.types {
            Some(types) => {
                for (event_type, topic) in types {
                    if !subscribed(topic.as_str()) {
                        problems.push(format!(
                            "{name} handles {event_type}, but bridge.toml delivers no {} to it",
                            topic.as_str()
                        ));
                    }
                }
            }
            None if subscriptions.is_empty() => problems.push(format!(
                "{name} handles every event, but bridge.toml delivers it none"
            )),
            None => {}
        }
    }
    let publishes = bridge.publishers.iter().any(|p| p.component == name);
    if publishes && !d.outbox {
        problems.push(format!(
            "bridge.toml drains {name}'s outbox, and its migrations create none"
        ));
    }
    if d.outbox && !publishes {
        problems.push(format!(
            "{name} writes events to an outbox that bridge.toml never drains"
        ));
    }
    let ticked = bridge.ticks.iter().any(|t| t.component == name);
    if ticked && !d.tick && !d.idempotency_keys {
        problems.push(format!("bridge.toml ticks {name}, which has no tick work"));
    }
    if d.tick && !ticked {
        problems.push(format!(
            "{name} has tick work, but bridge.toml never ticks it"
        ));
    }
    problems
}

/// Panics, listing them, if `bridge_toml` and the declaration disagree.
pub fn assert_agrees(d: &Declaration, bridge_toml: &str) {
    let bridge = Bridge::parse(bridge_toml).unwrap_or_else(|e| panic!("{e}"));
    let problems = disagreements(d, &bridge);
    assert!(
        problems.is_empty(),
        "kafka-bridge/bridge.toml and the declaration of {} disagree:\n  {}",
        d.name,
        problems.join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::component::Consumes;

    const TYPES: &[(&str, Topic)] = &[
        ("inventory.reserve", Topic::InventoryCommands),
        ("catalog.product_created", Topic::Catalog),
    ];

    fn declaration() -> Declaration {
        Declaration {
            name: "inventory",
            outbox: true,
            inbox: true,
            idempotency_keys: false,
            consumes: Some(Consumes {
                types: Some(TYPES),
                batches: false,
            }),
            tick: true,
        }
    }

    const AGREES: &str = r#"
        brokers = "x"
        [[publisher]]
        component = "inventory"
        [[subscription]]
        topic = "catalog.events"
        component = "inventory"
        [[subscription]]
        topic = "inventory.commands"
        component = "inventory"
        [[subscription]]
        topic = "orders.events"
        component = "audit"
        batch = 100
        [[tick]]
        component = "inventory"
        every_ms = 1000
    "#;

    fn problems(d: &Declaration, toml: &str) -> Vec<String> {
        disagreements(d, &Bridge::parse(toml).expect("toml"))
    }

    #[test]
    fn an_agreeing_file_passes() {
        assert_eq!(problems(&declaration(), AGREES), Vec::<String>::new());
    }

    #[test]
    fn each_disagreement_is_named() {
        let batched = AGREES.replace(
            "topic = \"catalog.events\"\n        component = \"inventory\"",
            "topic = \"catalog.events\"\n        component = \"inventory\"\n        batch = 50",
        );
        assert!(problems(&declaration(), &batched)[0].contains("batches"));

        let unheard = AGREES.replace("topic = \"catalog.events\"", "topic = \"payments.events\"");
        let found = problems(&declaration(), &unheard);
        assert!(
            found
                .iter()
                .any(|p| p.contains("handles none of its events")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("handles catalog.product_created")),
            "{found:?}"
        );

        let no_drain = AGREES.replace("[[publisher]]\n        component = \"inventory\"", "");
        assert!(problems(&declaration(), &no_drain)[0].contains("never drains"));

        let no_tick = AGREES.replace(
            "[[tick]]\n        component = \"inventory\"",
            "[[tick]]\n        component = \"users\"",
        );
        assert!(problems(&declaration(), &no_tick)[0].contains("never ticks"));

        let quiet = Declaration {
            consumes: None,
            outbox: false,
            tick: false,
            ..declaration()
        };
        let found = problems(&quiet, AGREES);
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn the_repository_file_names_only_components_and_topics_that_exist() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let text = std::fs::read_to_string(format!("{root}/kafka-bridge/bridge.toml"))
            .expect("bridge.toml");
        let bridge = Bridge::parse(&text).expect("parses");
        let named = bridge
            .publishers
            .iter()
            .chain(&bridge.ticks)
            .map(|n| n.component.as_str())
            .chain(bridge.subscriptions.iter().map(|s| s.component.as_str()));
        for component in named {
            let manifest = format!("{root}/components/{component}/Cargo.toml");
            assert!(
                std::path::Path::new(&manifest).exists(),
                "bridge.toml names {component}, which has no crate under components/"
            );
        }
        for s in &bridge.subscriptions {
            assert!(
                Topic::parse(&s.topic).is_some(),
                "unknown topic {}",
                s.topic
            );
        }
    }
}
