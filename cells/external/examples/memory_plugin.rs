//! A plugin whose "service" is a set of names in its own memory: the smallest plugin built
//! on [`cell_external::plugin::serve`], for the conformance test's own tests. The manifest's
//! `item` kind lists `{"name": ...}`; plan adds the missing names and removes the others.
//!
//! `MEMORY_PLUGIN_BREAK=skip-apply` makes a broken one: its apply changes nothing, so a plan
//! right after it is not empty.

use std::collections::BTreeSet;

use cell_core::plan::{Action, Safety};
use cell_external::plugin::{Plugin, serve};
use cell_external::protocol::{
    Change, Container, Describe, DescribeRequest, ErrorBody, ErrorKind, Plan, PlanRequest,
    Readiness,
};

#[derive(Default)]
struct Memory {
    live: BTreeSet<String>,
    skip_apply: bool,
}

fn wanted(r: &PlanRequest) -> Result<BTreeSet<String>, ErrorBody> {
    let mut out = BTreeSet::new();
    for item in r
        .manifest
        .get("item")
        .and_then(|v| v.as_array())
        .into_iter()
        .flatten()
    {
        let name = item["name"].as_str().ok_or_else(|| {
            ErrorBody::new(
                ErrorKind::InvalidConfig,
                format!("an item without a name: {item}"),
            )
        })?;
        out.insert(name.to_string());
    }
    Ok(out)
}

impl Plugin for Memory {
    fn name(&self) -> &str {
        "cell-memory"
    }

    fn version(&self) -> &str {
        env!("CARGO_PKG_VERSION")
    }

    fn describe(&mut self, _: &DescribeRequest) -> Result<Describe, ErrorBody> {
        Ok(Describe {
            container: Container {
                image: "cargo-cell/debian:bookworm-slim".into(),
                image_env: None,
                image_hint: None,
                env: Default::default(),
                secrets: vec!["MEMORY_SECRET".into()],
                cmd: Some(vec!["sleep".into(), "infinity".into()]),
                port: 7,
                data_path: "/data".into(),
            },
            readiness: Readiness::Exec {
                cmd: vec!["true".into()],
            },
            url: "memory://user:{env.MEMORY_SECRET}@127.0.0.1:{port}/".into(),
        })
    }

    fn plan(&mut self, r: &PlanRequest) -> Result<Plan, ErrorBody> {
        let wanted = wanted(r)?;
        let mut changes: Vec<Change> = wanted
            .difference(&self.live)
            .map(|n| Change::new(Action::Create, format!("item {n}")))
            .collect();
        changes.extend(self.live.difference(&wanted).map(|n| {
            Change::new(Action::Delete, format!("item {n}")).with_safety(Safety::Destructive)
        }));
        Ok(Plan::new(changes))
    }

    fn apply(&mut self, r: &PlanRequest, _: &Plan) -> Result<serde_json::Value, ErrorBody> {
        let wanted = wanted(r)?;
        if !self.skip_apply {
            self.live = wanted.clone();
        }
        Ok(serde_json::json!({ "items": wanted }))
    }
}

fn main() {
    let skip_apply = std::env::var("MEMORY_PLUGIN_BREAK").is_ok_and(|v| v == "skip-apply");
    std::process::exit(serve(Memory {
        skip_apply,
        ..Memory::default()
    }))
}
