//! `cell-rabbitmq`: the RabbitMQ Cell's plugin. cargo-cell runs it with `--cell-plugin` and
//! speaks the Cell protocol over its stdin and stdout (`cell_external::plugin::serve`).
//!
//! - `describe`: a RabbitMQ container with the management plugin (the official
//!   `rabbitmq:3-management` image's contract: `RABBITMQ_DEFAULT_USER`/`_PASS`, data in
//!   `/var/lib/rabbitmq`, the HTTP API on 15672), ready when the API's virtual-host health
//!   check answers 200. The password is a secret cargo-cell makes and keeps.
//! - `plan`: the declared exchanges, queues and bindings against the live broker (through
//!   the API) or, without an endpoint (`cargo cell check`), against the lock. Only what the
//!   code declares or the lock says this Cell made is ever touched.
//! - `apply`: the plan's steps through the API; the lock is the declarations.

use std::collections::{BTreeMap, BTreeSet};

use cell_core::plan::{Action, Safety};
use cell_external::plugin::{Plugin, serve};
use cell_external::protocol::{
    Change, Container, Describe, DescribeRequest, EndpointInfo, ErrorBody, ErrorKind, Plan,
    PlanRequest, Readiness,
};
use cell_rabbitmq::{Binding, EXCHANGE, Exchange, QUEUE, Queue};
use serde::{Deserialize, Serialize};

const USER: &str = "cell";
const USER_ENV: &str = "RABBITMQ_DEFAULT_USER";
const PASS_ENV: &str = "RABBITMQ_DEFAULT_PASS";
const API_PORT: u16 = 15672;
/// The default virtual host, `/`, in a URL path.
const VHOST: &str = "%2F";

/// Exchanges and queues by name: what the code asks, what the lock says, what is live.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct State {
    exchanges: BTreeMap<String, Exchange>,
    queues: BTreeMap<String, Queue>,
}

impl State {
    fn names(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        (
            self.exchanges.keys().cloned().collect(),
            self.queues.keys().cloned().collect(),
        )
    }
}

/// The lock's shape: the declarations as lists (sorted by name).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Lock {
    exchanges: Vec<Exchange>,
    queues: Vec<Queue>,
}

fn invalid(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorKind::InvalidConfig, message)
}

fn unavailable(message: impl Into<String>) -> ErrorBody {
    ErrorBody::new(ErrorKind::Unavailable, message).with_help(
        "`cargo cell status` shows whether the rabbitmq Cell runs, `cargo cell logs rabbitmq` what it says",
    )
}

/// What the manifest's section declares, checked: every binding names a declared exchange.
fn desired(manifest: &serde_json::Value) -> Result<State, ErrorBody> {
    let list = |kind: &str| manifest.get(kind).cloned().unwrap_or(serde_json::json!([]));
    let exchanges: Vec<Exchange> = serde_json::from_value(list(EXCHANGE))
        .map_err(|e| invalid(format!("cannot read the recorded exchanges: {e}")))?;
    let queues: Vec<Queue> = serde_json::from_value(list(QUEUE))
        .map_err(|e| invalid(format!("cannot read the recorded queues: {e}")))?;
    let mut state = State::default();
    for x in exchanges {
        if let Some(other) = state.exchanges.get(&x.name)
            && *other != x
        {
            return Err(invalid(format!(
                "the exchange `{}` is declared twice, differently",
                x.name
            )));
        }
        state.exchanges.insert(x.name.clone(), x);
    }
    for q in queues {
        if let Some(other) = state.queues.get(&q.name)
            && *other != q
        {
            return Err(invalid(format!(
                "the queue `{}` is declared twice, differently",
                q.name
            )));
        }
        if let Some(b) = &q.bind
            && !state.exchanges.contains_key(&b.exchange)
        {
            return Err(invalid(format!(
                "the queue `{}` is bound to the exchange `{}`, which the code does not declare",
                q.name, b.exchange
            ))
            .with_help(format!(
                "declare it: #[RabbitMq::exchange(name = \"{}\")]",
                b.exchange
            )));
        }
        state.queues.insert(q.name.clone(), q);
    }
    Ok(state)
}

fn from_lock(lock: Option<&serde_json::Value>) -> Result<State, ErrorBody> {
    let Some(lock) = lock else {
        return Ok(State::default());
    };
    let lock: Lock = serde_json::from_value(lock.clone())
        .map_err(|e| invalid(format!("cannot read the lock: {e}")))?;
    Ok(State {
        exchanges: lock
            .exchanges
            .into_iter()
            .map(|x| (x.name.clone(), x))
            .collect(),
        queues: lock
            .queues
            .into_iter()
            .map(|q| (q.name.clone(), q))
            .collect(),
    })
}

/// The management HTTP API of one broker.
struct Api {
    base: String,
    password: String,
    client: reqwest::blocking::Client,
}

#[derive(Deserialize)]
struct LiveQueue {
    name: String,
    durable: bool,
}

#[derive(Deserialize)]
struct LiveExchange {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    durable: bool,
}

#[derive(Deserialize)]
struct LiveBinding {
    source: String,
    destination: String,
    destination_type: String,
    routing_key: String,
    properties_key: String,
}

impl Api {
    fn new(endpoint: &EndpointInfo) -> Result<Api, ErrorBody> {
        let password = endpoint
            .env
            .get(PASS_ENV)
            .cloned()
            .ok_or_else(|| unavailable(format!("the endpoint has no {PASS_ENV}")))?;
        let client = reqwest::blocking::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| unavailable(format!("cannot make an HTTP client: {e}")))?;
        Ok(Api {
            base: format!("http://127.0.0.1:{}/api", endpoint.port),
            password,
            client,
        })
    }

    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<reqwest::blocking::Response, ErrorBody> {
        let mut request = self
            .client
            .request(method.clone(), format!("{}/{path}", self.base))
            .basic_auth(USER, Some(&self.password));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .map_err(|e| unavailable(format!("{method} /api/{path}: {e}")))?;
        if !response.status().is_success() {
            let status = response.status();
            let text = response.text().unwrap_or_default();
            return Err(unavailable(format!(
                "{method} /api/{path} answered {status}: {text}"
            )));
        }
        Ok(response)
    }

    fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, ErrorBody> {
        self.send(reqwest::Method::GET, path, None)?
            .json()
            .map_err(|e| unavailable(format!("GET /api/{path}: {e}")))
    }

    /// The live exchanges, queues and bindings whose names are in `names`.
    fn state(
        &self,
        exchanges: &BTreeSet<String>,
        queues: &BTreeSet<String>,
    ) -> Result<(State, Vec<LiveBinding>), ErrorBody> {
        let mut state = State::default();
        for x in self.get::<Vec<LiveExchange>>(&format!("exchanges/{VHOST}"))? {
            if exchanges.contains(&x.name) {
                state.exchanges.insert(
                    x.name.clone(),
                    Exchange {
                        name: x.name,
                        kind: x.kind,
                        durable: x.durable,
                    },
                );
            }
        }
        let bindings: Vec<LiveBinding> = self
            .get::<Vec<LiveBinding>>(&format!("bindings/{VHOST}"))?
            .into_iter()
            .filter(|b| {
                b.destination_type == "queue"
                    && !b.source.is_empty()
                    && queues.contains(&b.destination)
            })
            .collect();
        for q in self.get::<Vec<LiveQueue>>(&format!("queues/{VHOST}"))? {
            if queues.contains(&q.name) {
                let bind = bindings
                    .iter()
                    .find(|b| b.destination == q.name)
                    .map(|b| Binding {
                        exchange: b.source.clone(),
                        routing_key: b.routing_key.clone(),
                    });
                state.queues.insert(
                    q.name.clone(),
                    Queue {
                        name: q.name,
                        durable: q.durable,
                        bind,
                    },
                );
            }
        }
        Ok((state, bindings))
    }
}

/// One step of a plan, as the API does it.
#[derive(Debug, Clone)]
enum Op {
    PutExchange(Exchange),
    DeleteExchange(String),
    PutQueue(Queue),
    DeleteQueue(String),
    Bind(String, Binding),
    Unbind(String, Binding),
}

/// From `current` to `desired`, touching only what `desired` names or `managed` (the
/// lock) says this Cell made. Exchanges first, then queues, then bindings; removals last.
fn diff(desired: &State, current: &State, managed: &State) -> Steps {
    let mut steps = Vec::new();
    for (name, x) in &desired.exchanges {
        let describe = format!(
            "exchange {name} ({}{})",
            x.kind,
            if x.durable { ", durable" } else { "" }
        );
        match current.exchanges.get(name) {
            None => steps.push((
                Change::new(Action::Create, describe),
                vec![Op::PutExchange(x.clone())],
            )),
            Some(live) if live != x => steps.push((
                Change::new(
                    Action::Replace,
                    format!(
                        "{describe}, was {}{}",
                        live.kind,
                        if live.durable { ", durable" } else { "" }
                    ),
                ),
                vec![Op::DeleteExchange(name.clone()), Op::PutExchange(x.clone())],
            )),
            Some(_) => {}
        }
    }
    for (name, q) in &desired.queues {
        let describe = format!("queue {name}{}", if q.durable { " (durable)" } else { "" });
        match current.queues.get(name) {
            None => {
                let mut ops = vec![Op::PutQueue(q.clone())];
                let mut text = describe;
                if let Some(b) = &q.bind {
                    ops.push(Op::Bind(name.clone(), b.clone()));
                    text.push_str(&format!(", bound to {} by {:?}", b.exchange, b.routing_key));
                }
                steps.push((Change::new(Action::Create, text), ops));
            }
            Some(live) if live.durable != q.durable => {
                let mut ops = vec![Op::DeleteQueue(name.clone()), Op::PutQueue(q.clone())];
                if let Some(b) = &q.bind {
                    ops.push(Op::Bind(name.clone(), b.clone()));
                }
                steps.push((
                    Change::new(
                        Action::Replace,
                        format!("{describe} (its messages are lost)"),
                    )
                    .with_safety(Safety::Destructive),
                    ops,
                ));
            }
            Some(live) if live.bind != q.bind => {
                let mut ops = Vec::new();
                if let Some(old) = &live.bind {
                    ops.push(Op::Unbind(name.clone(), old.clone()));
                }
                let text = match &q.bind {
                    Some(b) => {
                        ops.push(Op::Bind(name.clone(), b.clone()));
                        format!(
                            "queue {name}: bound to {} by {:?}",
                            b.exchange, b.routing_key
                        )
                    }
                    None => format!("queue {name}: unbound"),
                };
                steps.push((Change::new(Action::Update, text), ops));
            }
            Some(_) => {}
        }
    }
    for name in managed.queues.keys() {
        if !desired.queues.contains_key(name) && current.queues.contains_key(name) {
            steps.push((
                Change::new(
                    Action::Delete,
                    format!("queue {name} (its messages are lost)"),
                )
                .with_safety(Safety::Destructive),
                vec![Op::DeleteQueue(name.clone())],
            ));
        }
    }
    for name in managed.exchanges.keys() {
        if !desired.exchanges.contains_key(name) && current.exchanges.contains_key(name) {
            steps.push((
                Change::new(Action::Delete, format!("exchange {name}")),
                vec![Op::DeleteExchange(name.clone())],
            ));
        }
    }
    steps
}

struct RabbitMq;

/// A plan's steps: each change and the API calls that make it.
type Steps = Vec<(Change, Vec<Op>)>;
/// The live broker a plan was made against, and its bindings (for unbinding).
type Live = Option<(Api, Vec<LiveBinding>)>;

impl RabbitMq {
    /// The steps from what is (live, or the lock without an endpoint) to what the code asks.
    fn steps(&self, r: &PlanRequest) -> Result<(Steps, Live), ErrorBody> {
        let want = desired(&r.manifest)?;
        let managed = from_lock(r.lock.as_ref())?;
        match &r.endpoint {
            None => Ok((diff(&want, &managed, &managed), None)),
            Some(endpoint) => {
                let api = Api::new(endpoint)?;
                let (mut xs, mut qs) = want.names();
                let (mx, mq) = managed.names();
                xs.extend(mx);
                qs.extend(mq);
                let (live, bindings) = api.state(&xs, &qs)?;
                Ok((diff(&want, &live, &managed), Some((api, bindings))))
            }
        }
    }
}

impl Plugin for RabbitMq {
    fn name(&self) -> &str {
        "cell-rabbitmq"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn describe(&mut self, _: &DescribeRequest) -> Result<Describe, ErrorBody> {
        Ok(Describe {
            container: Container {
                image: "rabbitmq:3-management".into(),
                image_env: Some("CELL_RABBITMQ_IMAGE".into()),
                image_hint: Some(
                    "build one from Debian's rabbitmq-server with `scripts/build-rabbitmq-image` (in cargo-cell's checkout), then set CELL_RABBITMQ_IMAGE=cargo-cell/rabbitmq:3".into(),
                ),
                env: BTreeMap::from([(USER_ENV.to_string(), USER.to_string())]),
                secrets: vec![PASS_ENV.into()],
                cmd: None,
                port: API_PORT,
                data_path: "/var/lib/rabbitmq".into(),
            },
            readiness: Readiness::Http {
                path: "/api/health/checks/virtual-hosts".into(),
                status: 200,
            },
            url: format!("http://{USER}:{{env.{PASS_ENV}}}@127.0.0.1:{{port}}/"),
        })
    }

    fn plan(&mut self, r: &PlanRequest) -> Result<Plan, ErrorBody> {
        let (steps, _) = self.steps(r)?;
        Ok(Plan::new(steps.into_iter().map(|(c, _)| c).collect()))
    }

    fn apply(&mut self, r: &PlanRequest, _plan: &Plan) -> Result<serde_json::Value, ErrorBody> {
        let (steps, api) = self.steps(r)?;
        if let Some((api, bindings)) = api {
            use reqwest::Method;
            for op in steps.into_iter().flat_map(|(_, ops)| ops) {
                match op {
                    Op::PutExchange(x) => api.send(
                        Method::PUT,
                        &format!("exchanges/{VHOST}/{}", x.name),
                        Some(serde_json::json!({"type": x.kind, "durable": x.durable})),
                    )?,
                    Op::DeleteExchange(name) => {
                        api.send(Method::DELETE, &format!("exchanges/{VHOST}/{name}"), None)?
                    }
                    Op::PutQueue(q) => api.send(
                        Method::PUT,
                        &format!("queues/{VHOST}/{}", q.name),
                        Some(serde_json::json!({"durable": q.durable})),
                    )?,
                    Op::DeleteQueue(name) => {
                        api.send(Method::DELETE, &format!("queues/{VHOST}/{name}"), None)?
                    }
                    Op::Bind(queue, b) => api.send(
                        Method::POST,
                        &format!("bindings/{VHOST}/e/{}/q/{queue}", b.exchange),
                        Some(serde_json::json!({"routing_key": b.routing_key})),
                    )?,
                    Op::Unbind(queue, b) => {
                        let Some(live) = bindings.iter().find(|l| {
                            l.destination == queue
                                && l.source == b.exchange
                                && l.routing_key == b.routing_key
                        }) else {
                            continue;
                        };
                        api.send(
                            Method::DELETE,
                            &format!(
                                "bindings/{VHOST}/e/{}/q/{queue}/{}",
                                b.exchange, live.properties_key
                            ),
                            None,
                        )?
                    }
                };
            }
        }
        let want = desired(&r.manifest)?;
        Ok(serde_json::to_value(Lock {
            exchanges: want.exchanges.into_values().collect(),
            queues: want.queues.into_values().collect(),
        })
        .expect("the lock serialises"))
    }
}

fn main() {
    std::process::exit(serve(RabbitMq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn manifest() -> serde_json::Value {
        json!({
            "exchange": [{"name": "events", "kind": "topic", "durable": true}],
            "queue": [
                {"name": "audit", "durable": false},
                {"name": "orders", "durable": true, "bind": {"exchange": "events", "routing_key": "order.*"}}
            ]
        })
    }

    fn texts(steps: &[(Change, Vec<Op>)]) -> Vec<String> {
        steps
            .iter()
            .map(|(c, _)| format!("{} {}", c.action.symbol(), c.description))
            .collect()
    }

    #[test]
    fn plans_against_the_lock_and_touches_only_its_own() {
        let want = desired(&manifest()).unwrap();
        let none = State::default();
        assert_eq!(
            texts(&diff(&want, &none, &none)),
            [
                "+ exchange events (topic, durable)",
                "+ queue audit",
                "+ queue orders (durable), bound to events by \"order.*\"",
            ]
        );
        assert!(diff(&want, &want, &want).is_empty());

        let mut changed = want.clone();
        changed.queues.remove("audit");
        changed.queues.get_mut("orders").unwrap().bind = None;
        changed.exchanges.get_mut("events").unwrap().kind = "fanout".into();
        let steps = diff(&changed, &want, &want);
        assert_eq!(
            texts(&steps),
            [
                "-/+ exchange events (fanout, durable), was topic, durable",
                "~ queue orders: unbound",
                "- queue audit (its messages are lost)",
            ]
        );
        assert_eq!(steps[2].0.safety, Safety::Destructive);
        // A queue this Cell never made is never removed.
        let mut foreign = want.clone();
        foreign.queues.insert(
            "theirs".into(),
            Queue {
                name: "theirs".into(),
                durable: true,
                bind: None,
            },
        );
        assert!(diff(&want, &foreign, &want).is_empty());
    }

    #[test]
    fn a_binding_to_an_undeclared_exchange_is_invalid_config() {
        let e = desired(&json!({"queue": [{"name": "q", "durable": true, "bind": {"exchange": "nope", "routing_key": ""}}]})).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidConfig);
        assert!(
            e.help
                .unwrap()
                .contains("#[RabbitMq::exchange(name = \"nope\")]")
        );
    }
}
