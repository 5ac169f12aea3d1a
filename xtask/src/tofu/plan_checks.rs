//! What the saved plans of the data and app stages must say, read from
//! `tofu show -json`: the properties whose loss was a security defect
//! before, so that a change reintroducing one fails `cargo xtask infra`.
//!
//! - the SpinApp's liveness probes `/health` and its readiness `/ready`
//!   (liveness on a dependency check restarted the only pod on a Redis
//!   outage);
//! - the state Redis runs `noeviction`, the cache Redis `allkeys-lru`, and
//!   the app gets the cache as `cache_redis_host` (cached reads once filled
//!   the state Redis, after which logouts failed);
//! - Kafka authenticates clients (SCRAM-SHA-512) and authorises them
//!   (`simple`), the bridge has a KafkaUser whose ACLs cover its topics and
//!   groups and nothing cluster-wide, and the bridge's Deployment takes the
//!   password from a Secret;
//! - the app's secrets come from Secrets, never from plain values.
//!
//! Objects applied through the `custom-resources` module are the JSON
//! values of its Helm releases; the others are typed resources.

use anyhow::{bail, ensure, Context as _, Result};
use serde_json::Value;

/// spin.toml variables that must come from a Secret.
const SECRET_VARIABLES: &[&str] = &[
    "internal_token",
    "jwt_signing_key",
    "psp_api_key",
    "ml_client_secret",
    "ml_token_key",
    "admin_bootstrap_token",
];

/// What the bridge's KafkaUser must be allowed on each of its topics.
const TOPIC_OPERATIONS: &[&str] = &["Describe", "Read", "Write", "Create"];

/// Checks the data stage's plan. `bridge_group` is the consumer group
/// prefix of `kafka-bridge/bridge.toml`. Returns the name of the bridge's
/// KafkaUser, which the app stage must use.
pub fn check_data(plan: &Value, bridge_group: &str) -> Result<String> {
    let redis = redis_policies(plan)?;
    let policy_of = |name: &str| {
        redis
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, policy)| policy.as_str())
    };
    ensure!(
        policy_of("redis") == Some("noeviction"),
        "the state Redis (StatefulSet redis) must run --maxmemory-policy noeviction, so sessions \
         and revocations are never evicted; the plan has {:?}",
        policy_of("redis")
    );
    ensure!(
        policy_of("redis-cache") == Some("allkeys-lru"),
        "the cache Redis (StatefulSet redis-cache) must run --maxmemory-policy allkeys-lru, so \
         cached reads evict each other instead of filling up; the plan has {:?}",
        policy_of("redis-cache")
    );

    let objects = chart_objects(plan)?;
    let kafka = only(&objects, "Kafka")?;
    let spec = &kafka["spec"]["kafka"];
    let listeners = spec["listeners"]
        .as_array()
        .filter(|l| !l.is_empty())
        .context("the Kafka resource has no listeners")?;
    for listener in listeners {
        let name = listener["name"].as_str().unwrap_or("?");
        ensure!(
            listener["authentication"]["type"] == "scram-sha-512",
            "Kafka listener {name} must authenticate clients with scram-sha-512, not {}",
            listener["authentication"]["type"]
        );
        ensure!(
            listener["networkPolicyPeers"]
                .as_array()
                .is_some_and(|peers| !peers.is_empty()),
            "Kafka listener {name} lists no networkPolicyPeers: Strimzi would open its port to \
             every pod"
        );
    }
    ensure!(
        spec["authorization"]["type"] == "simple",
        "the Kafka resource must enable authorization (type simple), or any authenticated user \
         may do anything; it has {}",
        spec["authorization"]
    );
    ensure!(
        kafka["spec"]["entityOperator"]["userOperator"].is_object(),
        "the Kafka resource needs entityOperator.userOperator, or no KafkaUser gets credentials"
    );

    let topics: Vec<&str> = of_kind(&objects, "KafkaTopic")
        .into_iter()
        .filter_map(|t| t["spec"]["topicName"].as_str())
        .collect();
    ensure!(!topics.is_empty(), "the data stage creates no KafkaTopic");
    let users = of_kind(&objects, "KafkaUser");
    let bridge = users
        .iter()
        .find(|u| {
            acls(u)
                .iter()
                .any(|acl| covers(acl, "group", &format!("{bridge_group}.orders"), "Read"))
        })
        .with_context(|| {
            format!(
                "no KafkaUser may read the bridge's consumer groups ({bridge_group}.<component>); \
                 KafkaUsers: {:?}",
                users.iter().map(|u| name(u)).collect::<Vec<_>>()
            )
        })?;
    let user = name(bridge).context("the bridge's KafkaUser has no name")?;
    ensure!(
        bridge["spec"]["authentication"]["type"] == "scram-sha-512",
        "KafkaUser {user} must authenticate with scram-sha-512"
    );
    ensure!(
        bridge["spec"]["authorization"]["type"] == "simple",
        "KafkaUser {user} must have simple authorization (ACLs)"
    );
    let rules = acls(bridge);
    for topic in &topics {
        for operation in TOPIC_OPERATIONS {
            ensure!(
                rules
                    .iter()
                    .any(|acl| covers(acl, "topic", topic, operation)),
                "KafkaUser {user} may not {operation} topic {topic}"
            );
        }
    }
    for group in [
        format!("{bridge_group}.orders"),
        format!("{bridge_group}.orders.replay"),
    ] {
        for operation in ["Read", "Describe"] {
            ensure!(
                rules
                    .iter()
                    .any(|acl| covers(acl, "group", &group, operation)),
                "KafkaUser {user} may not {operation} consumer group {group}"
            );
        }
    }
    for acl in &rules {
        let resource = &acl["resource"];
        ensure!(
            resource["type"] != "cluster",
            "KafkaUser {user} needs no cluster-wide ACL (Kafka >= 2.8 lets an idempotent \
             producer write with Write on its topics): {acl}"
        );
        ensure!(
            resource["name"] != "*" && !operations(acl).contains(&"All"),
            "KafkaUser {user} has a catch-all ACL: {acl}"
        );
    }
    Ok(user.to_string())
}

/// Checks the app stage's plan; `bridge_user` is the KafkaUser the data
/// stage makes for the bridge.
pub fn check_app(plan: &Value, bridge_user: &str) -> Result<()> {
    let objects = chart_objects(plan)?;
    let app = only(&objects, "SpinApp")?;
    let checks = &app["spec"]["checks"];
    ensure!(
        checks["liveness"]["httpGet"]["path"] == "/health",
        "the SpinApp's liveness must probe /health (answers whenever the app runs), not {}: a \
         dependency check there restarts pods on a Redis outage",
        checks["liveness"]["httpGet"]["path"]
    );
    ensure!(
        checks["readiness"]["httpGet"]["path"] == "/ready",
        "the SpinApp's readiness must probe /ready (SQLite and Redis checked), not {}",
        checks["readiness"]["httpGet"]["path"]
    );

    let variables = app["spec"]["variables"]
        .as_array()
        .context("the SpinApp has no variables")?;
    let variable = |wanted: &str| variables.iter().find(|v| v["name"] == wanted);
    for secret in SECRET_VARIABLES {
        let v = variable(secret).with_context(|| {
            format!("the SpinApp does not set {secret}, which comes from the app's Secret")
        })?;
        ensure!(
            v.get("value").is_none() && v["valueFrom"]["secretKeyRef"]["key"].is_string(),
            "{secret} must come from a Secret (valueFrom.secretKeyRef), never a plain value in \
             the state"
        );
    }
    ensure!(
        variable("admin_bootstrap_token")
            .is_some_and(|v| v["valueFrom"]["secretKeyRef"]["optional"] == true),
        "admin_bootstrap_token's key must be optional, so it can be removed from the Secret once \
         the first admin exists"
    );
    let plain = |wanted: &str| variable(wanted).and_then(|v| v["value"].as_str());
    let cache = plain("cache_redis_host").context("the SpinApp does not set cache_redis_host")?;
    ensure!(
        plain("redis_host") != Some(cache),
        "cache_redis_host must be a Redis of its own, not redis_host ({cache})"
    );

    let bridge = deployment(plan, "kafka-bridge")?;
    let container = &bridge["spec"][0]["template"][0]["spec"][0]["container"][0];
    let env = container["env"]
        .as_array()
        .context("kafka-bridge has no env")?;
    let var = |wanted: &str| env.iter().find(|e| e["name"] == wanted);
    let password = var("BRIDGE_KAFKA_SASL_PASSWORD").context(
        "kafka-bridge gets no BRIDGE_KAFKA_SASL_PASSWORD: it cannot authenticate to Kafka",
    )?;
    let from = &password["value_from"][0]["secret_key_ref"][0];
    // The message never quotes the entry: it might hold the password.
    ensure!(
        password["value"].is_null() && from["name"].is_string() && from["key"].is_string(),
        "kafka-bridge must take BRIDGE_KAFKA_SASL_PASSWORD from a Secret (value_from.secret_key_ref), \
         not a plain value"
    );
    ensure!(
        from["name"] == bridge_user,
        "kafka-bridge reads its Kafka password from Secret {}, but the data stage's KafkaUser \
         (whose Secret Strimzi names after it) is {bridge_user}",
        from["name"]
    );
    let value = |wanted: &str| var(wanted).and_then(|e| e["value"].as_str());
    ensure!(
        value("BRIDGE_KAFKA_SASL_USERNAME") == Some(bridge_user),
        "kafka-bridge's BRIDGE_KAFKA_SASL_USERNAME must be {bridge_user}, not {:?}",
        value("BRIDGE_KAFKA_SASL_USERNAME")
    );
    ensure!(
        value("BRIDGE_KAFKA_SASL_MECHANISM") == Some("SCRAM-SHA-512"),
        "kafka-bridge's BRIDGE_KAFKA_SASL_MECHANISM must be SCRAM-SHA-512, not {:?}",
        value("BRIDGE_KAFKA_SASL_MECHANISM")
    );
    ensure!(
        value("BRIDGE_KAFKA_SECURITY_PROTOCOL").is_some_and(|p| p.starts_with("SASL_")),
        "kafka-bridge's BRIDGE_KAFKA_SECURITY_PROTOCOL must be SASL_PLAINTEXT or SASL_SSL, not \
         {:?}",
        value("BRIDGE_KAFKA_SECURITY_PROTOCOL")
    );
    ensure!(
        container["liveness_probe"][0]["http_get"][0]["path"] != "/health",
        "kafka-bridge's liveness must not probe /health, which checks Kafka and the app"
    );

    let cache_policy = network_policies(plan)
        .find(|p| {
            p["spec"][0]["pod_selector"][0]["match_labels"]["app.kubernetes.io/name"]
                == "redis-cache"
        })
        .context(
            "no NetworkPolicy selects the cache Redis: the default deny would keep the app out",
        )?;
    let admits_app = cache_policy["spec"][0]["ingress"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|rule| rule["from"].as_array().into_iter().flatten())
        .any(|peer| {
            peer["pod_selector"][0]["match_labels"]
                .get("core.spinkube.dev/app-name")
                .is_some()
        });
    ensure!(
        admits_app,
        "the cache Redis's NetworkPolicy does not admit the app"
    );
    Ok(())
}

/// The `--maxmemory-policy` of every Redis StatefulSet, by name.
fn redis_policies(plan: &Value) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (address, after) in resources(plan, "kubernetes_stateful_set_v1") {
        let container = &after["spec"][0]["template"][0]["spec"][0]["container"][0];
        let args: Vec<&str> = container["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let is_redis = container["image"]
            .as_str()
            .is_some_and(|image| image.starts_with("redis"));
        if !is_redis {
            continue;
        }
        let policy = args
            .windows(2)
            .find(|pair| pair[0] == "--maxmemory-policy")
            .map(|pair| pair[1])
            .with_context(|| format!("{address} sets no --maxmemory-policy"))?;
        let name = after["metadata"][0]["name"]
            .as_str()
            .with_context(|| format!("{address} has no name"))?;
        out.push((name.to_string(), policy.to_string()));
    }
    Ok(out)
}

/// The planned attributes of each resource of `kind` that the plan
/// creates or keeps (not those it deletes).
fn resources<'a>(plan: &'a Value, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> {
    plan["resource_changes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |change| change["type"] == kind)
        .filter(|change| change["change"]["after"].is_object())
        .map(|change| {
            (
                change["address"].as_str().unwrap_or("?"),
                &change["change"]["after"],
            )
        })
}

/// Every object the plan applies through the `custom-resources` chart.
fn chart_objects(plan: &Value) -> Result<Vec<Value>> {
    let mut objects = Vec::new();
    for (address, after) in resources(plan, "helm_release") {
        let chart = after["chart"].as_str().unwrap_or_default();
        if !chart.ends_with("charts/resources") {
            continue;
        }
        for values in after["values"].as_array().into_iter().flatten() {
            let text = values
                .as_str()
                .with_context(|| format!("{address}: values are not known at plan time"))?;
            let parsed: Value = serde_json::from_str(text).with_context(|| {
                format!("{address}: values are not JSON (custom-resources must jsonencode them)")
            })?;
            objects.extend(parsed["objects"].as_array().into_iter().flatten().cloned());
        }
    }
    Ok(objects)
}

fn of_kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

/// The one object of `kind`.
fn only<'a>(objects: &'a [Value], kind: &str) -> Result<&'a Value> {
    match of_kind(objects, kind)[..] {
        [one] => Ok(one),
        [] => bail!("the plan applies no {kind}"),
        _ => bail!("the plan applies more than one {kind}"),
    }
}

fn name(object: &Value) -> Option<&str> {
    object["metadata"]["name"].as_str()
}

fn deployment<'a>(plan: &'a Value, wanted: &str) -> Result<&'a Value> {
    resources(plan, "kubernetes_deployment_v1")
        .map(|(_, after)| after)
        .find(|after| after["metadata"][0]["name"] == wanted)
        .with_context(|| format!("the plan has no Deployment {wanted}"))
}

fn network_policies(plan: &Value) -> impl Iterator<Item = &Value> {
    resources(plan, "kubernetes_network_policy_v1").map(|(_, after)| after)
}

fn acls(user: &Value) -> Vec<&Value> {
    user["spec"]["authorization"]["acls"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

fn operations(acl: &Value) -> Vec<&str> {
    let listed = acl["operations"].as_array().into_iter().flatten();
    // Strimzi's older, single-operation form.
    let single = acl["operation"].as_str();
    listed.filter_map(Value::as_str).chain(single).collect()
}

/// Whether a Strimzi ACL rule allows `operation` on the resource of
/// `kind` named `wanted` (literal names, `*`, or prefixes).
fn covers(acl: &Value, kind: &str, wanted: &str, operation: &str) -> bool {
    let resource = &acl["resource"];
    if resource["type"] != kind || acl["type"] == "deny" {
        return false;
    }
    let Some(name) = resource["name"].as_str() else {
        return false;
    };
    let matches = match resource["patternType"].as_str().unwrap_or("literal") {
        "prefix" => wanted.starts_with(name),
        _ => name == wanted || name == "*",
    };
    matches
        && operations(acl)
            .iter()
            .any(|o| *o == operation || *o == "All")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A plan in `tofu show -json`'s shape, with these typed resources and
    /// these objects in one custom-resources release.
    fn plan(resources: Vec<Value>, objects: Vec<Value>) -> Value {
        let mut changes: Vec<Value> = resources;
        changes.push(json!({
            "address": "module.x.module.cluster.helm_release.this",
            "type": "helm_release",
            "change": {"after": {
                "chart": "./modules/custom-resources/../../charts/resources",
                "values": [json!({"objects": objects}).to_string()],
            }},
        }));
        json!({"format_version": "1.2", "resource_changes": changes})
    }

    fn redis(name: &str, policy: &str) -> Value {
        json!({
            "address": format!("module.{name}.kubernetes_stateful_set_v1.redis"),
            "type": "kubernetes_stateful_set_v1",
            "change": {"after": {
                "metadata": [{"name": name}],
                "spec": [{"template": [{"spec": [{"container": [{
                    "image": "redis:7.4-alpine",
                    "args": ["--maxmemory", "64mb", "--maxmemory-policy", policy, "--dir", "/data"],
                }]}]}]}],
            }},
        })
    }

    fn kafka(listener: Value, authorization: Value) -> Value {
        json!({
            "apiVersion": "kafka.strimzi.io/v1beta2", "kind": "Kafka",
            "metadata": {"name": "spinshop"},
            "spec": {
                "kafka": {"listeners": [listener], "authorization": authorization},
                "entityOperator": {"topicOperator": {}, "userOperator": {}},
            },
        })
    }

    fn scram_listener() -> Value {
        json!({
            "name": "plain", "port": 9092, "type": "internal", "tls": false,
            "authentication": {"type": "scram-sha-512"},
            "networkPolicyPeers": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "kafka-bridge"}}}],
        })
    }

    fn topic(name: &str) -> Value {
        json!({"kind": "KafkaTopic", "metadata": {"name": name.replace('.', "-")}, "spec": {"topicName": name}})
    }

    fn user(acls: Value) -> Value {
        json!({
            "kind": "KafkaUser", "metadata": {"name": "kafka-bridge"},
            "spec": {"authentication": {"type": "scram-sha-512"}, "authorization": {"type": "simple", "acls": acls}},
        })
    }

    fn topic_acl(name: &str, pattern: &str) -> Value {
        json!({"resource": {"type": "topic", "name": name, "patternType": pattern},
               "operations": ["Describe", "Read", "Write", "Create"]})
    }

    fn group_acl() -> Value {
        json!({"resource": {"type": "group", "name": "spinshop-bridge", "patternType": "prefix"},
               "operations": ["Describe", "Read"]})
    }

    /// The bridge's rights on one topic and its consumer groups.
    fn bridge_acls() -> Vec<Value> {
        vec![
            topic_acl("orders.events", "literal"),
            topic_acl("orders.events.dlq", "literal"),
            group_acl(),
        ]
    }

    /// A data plan as it should be, with the bridge's user holding `acls`.
    fn data_plan(acls: Vec<Value>) -> Value {
        plan(
            vec![
                redis("redis", "noeviction"),
                redis("redis-cache", "allkeys-lru"),
            ],
            vec![
                kafka(scram_listener(), json!({"type": "simple"})),
                topic("orders.events"),
                topic("orders.events.dlq"),
                user(Value::Array(acls)),
            ],
        )
    }

    fn good_data(extra_acl: Option<Value>) -> Value {
        let mut acls = bridge_acls();
        acls.extend(extra_acl);
        data_plan(acls)
    }

    fn data_error(plan: &Value) -> String {
        format!(
            "{:#}",
            check_data(plan, "spinshop-bridge").expect_err("should be refused")
        )
    }

    #[test]
    fn a_good_data_plan_passes_and_names_the_bridge_user() {
        assert_eq!(
            check_data(&good_data(None), "spinshop-bridge").expect("passes"),
            "kafka-bridge"
        );
    }

    #[test]
    fn one_redis_for_everything_is_refused() {
        let mut p = good_data(None);
        p["resource_changes"][1] = redis("redis-cache", "noeviction");
        assert!(data_error(&p).contains("allkeys-lru"));
        p["resource_changes"]
            .as_array_mut()
            .expect("array")
            .remove(1);
        assert!(data_error(&p).contains("redis-cache"));
        let mut p = good_data(None);
        p["resource_changes"][0] = redis("redis", "allkeys-lru");
        assert!(data_error(&p).contains("noeviction"));
    }

    #[test]
    fn an_open_kafka_is_refused() {
        let open = |listener: Value, authorization: Value| {
            let mut p = good_data(None);
            let release = p["resource_changes"]
                .as_array_mut()
                .and_then(|c| c.last_mut())
                .expect("release");
            let mut values: Value =
                serde_json::from_str(release["change"]["after"]["values"][0].as_str().expect("s"))
                    .expect("json");
            values["objects"][0] = kafka(listener, authorization);
            release["change"]["after"]["values"][0] = Value::String(values.to_string());
            data_error(&p)
        };
        let mut plain = scram_listener();
        plain
            .as_object_mut()
            .expect("object")
            .remove("authentication");
        assert!(open(plain, json!({"type": "simple"})).contains("scram-sha-512"));
        assert!(open(scram_listener(), Value::Null).contains("authorization"));
        let mut everyone = scram_listener();
        everyone["networkPolicyPeers"] = json!([]);
        assert!(open(everyone, json!({"type": "simple"})).contains("networkPolicyPeers"));
    }

    #[test]
    fn the_bridge_user_needs_its_topics_and_groups_and_no_more() {
        let without = |drop: usize| {
            let mut acls = bridge_acls();
            acls.remove(drop);
            data_plan(acls)
        };
        assert!(data_error(&without(1)).contains("topic orders.events.dlq"));
        assert!(data_error(&without(2)).contains("consumer groups"));
        let cluster = json!({"resource": {"type": "cluster"}, "operations": ["IdempotentWrite"]});
        assert!(data_error(&good_data(Some(cluster))).contains("cluster-wide"));
        assert!(data_error(&good_data(Some(topic_acl("*", "literal")))).contains("catch-all"));
        // A prefix pattern covering the topics is as good as their names.
        let prefixed = plan(
            vec![
                redis("redis", "noeviction"),
                redis("redis-cache", "allkeys-lru"),
            ],
            vec![
                kafka(scram_listener(), json!({"type": "simple"})),
                topic("orders.events"),
                topic("orders.events.dlq"),
                user(json!([topic_acl("orders.", "prefix"), group_acl()])),
            ],
        );
        check_data(&prefixed, "spinshop-bridge").expect("prefix ACLs pass");
    }

    fn spin_app(liveness: &str, readiness: &str, psp_api_key: Value) -> Value {
        let secret = |key: &str| json!({"name": key, "valueFrom": {"secretKeyRef": {"name": "spinshop-secrets", "key": key}}});
        json!({
            "kind": "SpinApp", "metadata": {"name": "spinshop"},
            "spec": {
                "checks": {
                    "liveness": {"httpGet": {"path": liveness}, "periodSeconds": 10},
                    "readiness": {"httpGet": {"path": readiness}, "periodSeconds": 5},
                },
                "variables": [
                    {"name": "redis_host", "value": "redis.spinshop.svc.cluster.local:6379"},
                    {"name": "cache_redis_host", "value": "redis-cache.spinshop.svc.cluster.local:6379"},
                    secret("internal_token"),
                    secret("jwt_signing_key"),
                    psp_api_key,
                    {"name": "admin_bootstrap_token", "valueFrom": {"secretKeyRef": {
                        "name": "spinshop-secrets", "key": "admin_bootstrap_token", "optional": true}}},
                    secret("ml_client_secret"),
                    secret("ml_token_key"),
                ],
            },
        })
    }

    fn psp_from_secret() -> Value {
        json!({"name": "psp_api_key", "valueFrom": {"secretKeyRef": {"name": "spinshop-secrets", "key": "psp_api_key"}}})
    }

    fn bridge(password: Value, liveness: Value) -> Value {
        let plain =
            |name: &str, value: &str| json!({"name": name, "value": value, "value_from": []});
        json!({
            "address": "module.kafka_bridge.kubernetes_deployment_v1.bridge",
            "type": "kubernetes_deployment_v1",
            "change": {"after": {
                "metadata": [{"name": "kafka-bridge"}],
                "spec": [{"template": [{"spec": [{"container": [{
                    "env": [
                        plain("BRIDGE_KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT"),
                        plain("BRIDGE_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512"),
                        plain("BRIDGE_KAFKA_SASL_USERNAME", "kafka-bridge"),
                        password,
                    ],
                    "liveness_probe": [liveness],
                }]}]}]}],
            }},
        })
    }

    fn password_from_secret() -> Value {
        json!({"name": "BRIDGE_KAFKA_SASL_PASSWORD", "value": null,
               "value_from": [{"secret_key_ref": [{"name": "kafka-bridge", "key": "password"}]}]})
    }

    fn tcp_liveness() -> Value {
        json!({"http_get": [], "tcp_socket": [{"port": "metrics"}]})
    }

    fn cache_policy() -> Value {
        json!({
            "address": "module.edge.kubernetes_network_policy_v1.redis[\"redis-cache\"]",
            "type": "kubernetes_network_policy_v1",
            "change": {"after": {"spec": [{
                "pod_selector": [{"match_labels": {"app.kubernetes.io/name": "redis-cache"}}],
                "ingress": [{"from": [{"pod_selector": [{"match_labels": {"core.spinkube.dev/app-name": "spinshop"}}]}]}],
            }]}},
        })
    }

    fn app_plan(app: Value, bridge: Value) -> Value {
        plan(vec![bridge, cache_policy()], vec![app])
    }

    fn good_app() -> Value {
        app_plan(
            spin_app("/health", "/ready", psp_from_secret()),
            bridge(password_from_secret(), tcp_liveness()),
        )
    }

    fn app_error(plan: &Value) -> String {
        format!(
            "{:#}",
            check_app(plan, "kafka-bridge").expect_err("should be refused")
        )
    }

    #[test]
    fn a_good_app_plan_passes() {
        check_app(&good_app(), "kafka-bridge").expect("passes");
    }

    #[test]
    fn readiness_on_health_is_refused() {
        let p = app_plan(
            spin_app("/health", "/health", psp_from_secret()),
            bridge(password_from_secret(), tcp_liveness()),
        );
        assert!(app_error(&p).contains("/ready"));
        let p = app_plan(
            spin_app("/ready", "/ready", psp_from_secret()),
            bridge(password_from_secret(), tcp_liveness()),
        );
        assert!(app_error(&p).contains("liveness"));
    }

    #[test]
    fn secrets_as_plain_values_are_refused() {
        let p = app_plan(
            spin_app(
                "/health",
                "/ready",
                json!({"name": "psp_api_key", "value": "sk_live_oops"}),
            ),
            bridge(password_from_secret(), tcp_liveness()),
        );
        assert!(app_error(&p).contains("psp_api_key"));
        let mut p = good_app();
        let release = p["resource_changes"]
            .as_array_mut()
            .and_then(|c| c.last_mut())
            .expect("release");
        let mut values: Value =
            serde_json::from_str(release["change"]["after"]["values"][0].as_str().expect("s"))
                .expect("json");
        values["objects"][0]["spec"]["variables"][5]["valueFrom"]["secretKeyRef"]
            .as_object_mut()
            .expect("object")
            .remove("optional");
        release["change"]["after"]["values"][0] = Value::String(values.to_string());
        assert!(app_error(&p).contains("optional"));
    }

    #[test]
    fn the_marketplace_client_secret_comes_from_a_secret_too() {
        let mut p = good_app();
        let release = p["resource_changes"]
            .as_array_mut()
            .and_then(|c| c.last_mut())
            .expect("release");
        let mut values: Value =
            serde_json::from_str(release["change"]["after"]["values"][0].as_str().expect("s"))
                .expect("json");
        values["objects"][0]["spec"]["variables"][6] =
            json!({"name": "ml_client_secret", "value": "0123456789abcdef0123456789abcdef"});
        release["change"]["after"]["values"][0] = Value::String(values.to_string());
        assert!(app_error(&p).contains("ml_client_secret"));
    }

    #[test]
    fn a_bridge_without_its_kafka_password_from_a_secret_is_refused() {
        let literal =
            json!({"name": "BRIDGE_KAFKA_SASL_PASSWORD", "value": "hunter2", "value_from": []});
        let p = app_plan(
            spin_app("/health", "/ready", psp_from_secret()),
            bridge(literal, tcp_liveness()),
        );
        assert!(app_error(&p).contains("from a Secret"));
        let none = json!({"name": "UNRELATED", "value": "x", "value_from": []});
        let p = app_plan(
            spin_app("/health", "/ready", psp_from_secret()),
            bridge(none, tcp_liveness()),
        );
        assert!(app_error(&p).contains("BRIDGE_KAFKA_SASL_PASSWORD"));
        let error = format!(
            "{:#}",
            check_app(&good_app(), "other-user").expect_err("another user")
        );
        assert!(error.contains("other-user"), "{error}");
        let http = json!({"http_get": [{"path": "/health", "port": "metrics"}], "tcp_socket": []});
        let p = app_plan(
            spin_app("/health", "/ready", psp_from_secret()),
            bridge(password_from_secret(), http),
        );
        assert!(app_error(&p).contains("kafka-bridge's liveness"));
    }

    #[test]
    fn values_that_are_not_json_are_reported() {
        let mut p = good_app();
        p["resource_changes"]
            .as_array_mut()
            .and_then(|c| c.last_mut())
            .expect("release")["change"]["after"]["values"][0] =
            Value::String("\"objects\":\n- \"kind\": \"SpinApp\"\n".into());
        assert!(app_error(&p).contains("jsonencode"));
    }
}
