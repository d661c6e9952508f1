//! The plugin side, for Cell authors: implement [`Plugin`] and call [`serve`] from `main`.
//! `serve` writes the hello, reads one request a line, answers each, and ends at the end of
//! its input. It keeps the protocol's promises for you: unknown verbs are answered
//! `unsupported_verb`, a request that does not parse is `invalid_config`, and an `apply`
//! whose fingerprint is not the plan of the same inputs is refused `stale_plan` before your
//! [`Plugin::apply`] runs.
//!
//! ```no_run
//! use cell_external::plugin::{Plugin, serve};
//! use cell_external::protocol::*;
//!
//! struct Mine;
//! impl Plugin for Mine {
//!     fn name(&self) -> &str { "cell-mine" }
//!     fn version(&self) -> &str { env!("CARGO_PKG_VERSION") }
//!     fn describe(&mut self, _: &DescribeRequest) -> Result<Describe, ErrorBody> { todo!() }
//!     fn plan(&mut self, _: &PlanRequest) -> Result<Plan, ErrorBody> { todo!() }
//!     fn apply(&mut self, _: &PlanRequest, _: &Plan) -> Result<serde_json::Value, ErrorBody> { todo!() }
//! }
//! fn main() { std::process::exit(serve(Mine)) }
//! ```

use std::io::{BufRead, Write};

use serde::Serialize;

use crate::protocol::{
    Answer, Applied, ApplyRequest, Describe, DescribeRequest, Envelope, ErrorBody, ErrorKind,
    Hello, PLUGIN_FLAG, Plan, PlanRequest, VERSIONS, verb,
};

/// What a Cell author implements. Every method answers one request; errors are typed.
pub trait Plugin {
    /// The plugin's name, for messages (`cell-rabbitmq`).
    fn name(&self) -> &str;

    /// Its version, recorded in every lock it helps write.
    fn version(&self) -> &str;

    /// The container as data, its readiness, its URL.
    fn describe(&mut self, request: &DescribeRequest) -> Result<Describe, ErrorBody>;

    /// What the code asks against the lock and, with an endpoint, the live service. Use
    /// [`Plan::new`]: the fingerprint must be a function of the changes.
    fn plan(&mut self, request: &PlanRequest) -> Result<Plan, ErrorBody>;

    /// Makes `plan` (just computed again from `request`, and equal to the one cargo-cell
    /// showed) real; returns the lock (no secrets). After it, a plan of the same code must
    /// be empty.
    fn apply(&mut self, request: &PlanRequest, plan: &Plan)
    -> Result<serde_json::Value, ErrorBody>;

    /// How many things `lock` holds, for `status`.
    fn count(&self, lock: &serde_json::Value) -> usize {
        match lock {
            serde_json::Value::Object(m) => m
                .values()
                .map(|v| {
                    v.as_array()
                        .map_or(v.as_object().map_or(1, |o| o.len()), |a| a.len())
                })
                .sum(),
            serde_json::Value::Array(a) => a.len(),
            _ => 0,
        }
    }
}

/// Serves `plugin` on stdin and stdout; returns the exit code for `main` (0 at the end of
/// input). Run without [`PLUGIN_FLAG`] it says how it is meant to be used, and exits 2.
pub fn serve(plugin: impl Plugin) -> i32 {
    if !std::env::args().any(|a| a == PLUGIN_FLAG) {
        eprintln!(
            "{} {}: a cargo-cell Cell plugin. cargo-cell runs it (as `{} {PLUGIN_FLAG}`) and talks to it over stdin and stdout; see docs/cell-protocol.md.",
            plugin.name(),
            plugin.version(),
            std::env::args().next().unwrap_or_default()
        );
        return 2;
    }
    let stdin = std::io::stdin();
    let stdout = std::io::stdout();
    match serve_on(plugin, stdin.lock(), stdout.lock()) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cell plugin: {e}");
            1
        }
    }
}

/// [`serve`] on any input and output (tests).
pub fn serve_on(
    mut plugin: impl Plugin,
    input: impl BufRead,
    mut output: impl Write,
) -> std::io::Result<()> {
    let hello = Hello {
        v: VERSIONS.to_vec(),
        name: plugin.name().to_string(),
        version: plugin.version().to_string(),
    };
    write_line(&mut output, &hello)?;
    for line in input.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let answer = answer(&mut plugin, &line);
        output.write_all(answer.as_bytes())?;
        output.write_all(b"\n")?;
        output.flush()?;
    }
    Ok(())
}

fn write_line(output: &mut impl Write, value: &impl Serialize) -> std::io::Result<()> {
    serde_json::to_writer(&mut *output, value)?;
    output.write_all(b"\n")?;
    output.flush()
}

fn to_line<T: Serialize>(result: Result<T, ErrorBody>) -> String {
    let answer = match result {
        Ok(v) => Answer::Ok(v),
        Err(e) => Answer::Error(e),
    };
    serde_json::to_string(&answer).expect("answers serialise")
}

fn parse<T: serde::de::DeserializeOwned>(line: &str) -> Result<T, ErrorBody> {
    serde_json::from_str::<Envelope<T>>(line)
        .map(|e| e.body)
        .map_err(|e| {
            ErrorBody::new(
                ErrorKind::InvalidConfig,
                format!("cannot read the request: {e}"),
            )
        })
}

/// The answer line to one request line.
fn answer(plugin: &mut impl Plugin, line: &str) -> String {
    let head: serde_json::Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            return to_line::<()>(Err(ErrorBody::new(
                ErrorKind::InvalidConfig,
                format!("the request is not JSON: {e}"),
            )));
        }
    };
    match head.get("v").and_then(|v| v.as_u64()) {
        Some(v) if VERSIONS.contains(&(v as u32)) => {}
        other => {
            return to_line::<()>(Err(ErrorBody::new(
                ErrorKind::UnsupportedVerb,
                format!("protocol version {other:?} is not one of {VERSIONS:?}"),
            )));
        }
    }
    match head.get("verb").and_then(|v| v.as_str()).unwrap_or("") {
        verb::DESCRIBE => to_line(parse::<DescribeRequest>(line).and_then(|r| plugin.describe(&r))),
        verb::PLAN => to_line(parse::<PlanRequest>(line).and_then(|r| plugin.plan(&r))),
        verb::APPLY => to_line(parse::<ApplyRequest>(line).and_then(|r| {
            let plan = plugin.plan(&r.plan)?;
            if plan.fingerprint != r.fingerprint {
                return Err(ErrorBody::new(
                    ErrorKind::StalePlan,
                    format!(
                        "the plan changed since it was shown (shown {}, now {})",
                        r.fingerprint, plan.fingerprint
                    ),
                )
                .with_help("plan again: `cargo cell plan`, then apply"));
            }
            let lock = plugin.apply(&r.plan, &plan)?;
            Ok(Applied {
                applied: plan.fingerprint,
                count: plugin.count(&lock),
                lock,
            })
        })),
        other => to_line::<()>(Err(ErrorBody::new(
            ErrorKind::UnsupportedVerb,
            format!(
                "{} {} does not know the verb `{other}`",
                plugin.name(),
                plugin.version()
            ),
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Change, Container, Readiness};
    use cell_core::plan::Action;
    use serde_json::json;

    /// Keeps one list of names; the manifest's `item` kind is what it should be.
    #[derive(Default)]
    struct Names(Vec<String>);

    fn wanted(r: &PlanRequest) -> Vec<String> {
        r.manifest["item"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str().map(String::from))
            .collect()
    }

    impl Plugin for Names {
        fn name(&self) -> &str {
            "cell-names"
        }
        fn version(&self) -> &str {
            "0.0.1"
        }
        fn describe(&mut self, _: &DescribeRequest) -> Result<Describe, ErrorBody> {
            Ok(Describe {
                container: Container {
                    image: "img".into(),
                    image_env: None,
                    image_hint: None,
                    env: Default::default(),
                    secrets: vec![],
                    cmd: None,
                    port: 1,
                    data_path: "/d".into(),
                },
                readiness: Readiness::Tcp,
                url: "x://127.0.0.1:{port}".into(),
            })
        }
        fn plan(&mut self, r: &PlanRequest) -> Result<Plan, ErrorBody> {
            Ok(Plan::new(
                wanted(r)
                    .into_iter()
                    .filter(|n| !self.0.contains(n))
                    .map(|n| Change::new(Action::Create, format!("item {n}")))
                    .collect(),
            ))
        }
        fn apply(&mut self, r: &PlanRequest, _: &Plan) -> Result<serde_json::Value, ErrorBody> {
            self.0 = wanted(r);
            Ok(json!({"items": self.0}))
        }
    }

    fn run(lines: &[serde_json::Value]) -> Vec<serde_json::Value> {
        let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let mut out = Vec::new();
        serve_on(Names::default(), input.as_bytes(), &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn hello_then_one_answer_a_request() {
        let plan =
            json!({"v": 1, "verb": "plan", "cell": "names", "manifest": {"item": [{"name": "a"}]}});
        let out = run(&[
            json!({"v": 1, "verb": "describe", "cell": "names"}),
            plan.clone(),
        ]);
        assert_eq!(
            out[0],
            json!({"v": [1], "name": "cell-names", "version": "0.0.1"})
        );
        assert_eq!(out[1]["ok"]["readiness"], json!({"kind": "tcp"}));
        assert_eq!(out[2]["ok"]["changes"][0]["description"], "item a");
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn apply_must_carry_the_plans_fingerprint() {
        let req = json!({"cell": "names", "manifest": {"item": [{"name": "a"}]}});
        let fp = Plan::new(vec![Change::new(Action::Create, "item a")]).fingerprint;
        let mut stale = req.clone();
        stale["v"] = 1.into();
        stale["verb"] = "apply".into();
        stale["fingerprint"] = "0000".into();
        let mut good = stale.clone();
        good["fingerprint"] = fp.clone().into();
        let mut replan = req.clone();
        replan["v"] = 1.into();
        replan["verb"] = "plan".into();
        let out = run(&[stale, good, replan]);
        assert_eq!(out[1]["error"]["kind"], "stale_plan");
        assert_eq!(out[2]["ok"]["applied"], json!(fp));
        assert_eq!(out[2]["ok"]["lock"], json!({"items": ["a"]}));
        assert_eq!(out[2]["ok"]["count"], 1);
        assert_eq!(out[3]["ok"]["changes"], json!([]));
    }

    #[test]
    fn unknown_verbs_versions_and_garbage_are_typed_errors() {
        let mut out = Vec::new();
        serve_on(
            Names::default(),
            "{\"v\":1,\"verb\":\"lock\"}\n{\"v\":9,\"verb\":\"plan\"}\nnope\n{\"v\":1,\"verb\":\"plan\",\"manifest\":1}\n"
                .as_bytes(),
            &mut out,
        )
        .unwrap();
        let out: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(out[1]["error"]["kind"], "unsupported_verb");
        assert!(
            out[1]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`lock`")
        );
        assert_eq!(out[2]["error"]["kind"], "unsupported_verb");
        assert_eq!(out[3]["error"]["kind"], "invalid_config");
        assert_eq!(out[4]["error"]["kind"], "invalid_config");
    }
}
