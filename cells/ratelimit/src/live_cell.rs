//! The RateLimit Cell's live side: no container of its own. Its limits are GCRA states in
//! the Redis Cell, so applying brings the Redis Cell up (on the dev target) and writes the
//! lock; `cargo cell plan` needs nothing live.

use async_trait::async_trait;

use cell_core::docker::RunningCell;
use cell_core::live::{
    Applied, ApplyOptions, BoxError, ContainerSpec, Context, Endpoint, LiveCell, Target,
};
use cell_core::lockfile::LockFile as _;
use cell_core::{CellError, CellPlan, Manifest, Workspace};

use crate::cell_impl::{RateLimitCell, cell_plan, limits, lock_path};
use crate::error::{NoContainer, RateLimitCellError};

#[async_trait]
impl LiveCell for RateLimitCell {
    fn after(&self) -> &'static [&'static str] {
        &["redis"]
    }

    /// Nothing of its own runs in Docker: the Redis Cell holds the limits.
    fn runs_locally(&self, _ws: &Workspace) -> bool {
        false
    }

    fn keeps_state(&self) -> bool {
        false
    }

    async fn container(
        &self,
        _cx: &Context<'_>,
        _existing: Option<&RunningCell>,
    ) -> Result<ContainerSpec, CellError> {
        Err(CellError::new(NoContainer))
    }

    fn waiting_for(&self) -> &'static str {
        "waiting for the Redis Cell"
    }

    fn endpoint(
        &self,
        _ws: &Workspace,
        _running: &RunningCell,
        _spec: Option<&ContainerSpec>,
    ) -> Option<Endpoint> {
        None
    }

    async fn probe(&self, _endpoint: &Endpoint) -> Result<(), BoxError> {
        Ok(())
    }

    /// The limits against the lock (nothing live); `None` without limits and without a lock.
    async fn plan(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
    ) -> Result<Option<Box<dyn CellPlan>>, CellError> {
        Ok(cell_plan(cx.ws, limits(manifest))?.map(|p| Box::new(p) as Box<dyn CellPlan>))
    }

    /// On the dev target: the Redis Cell up (the runtime finds it through its state file)
    /// and the lock written. Elsewhere nothing: that environment's Redis is configured by
    /// `CELL_REDIS_URL`.
    async fn apply(
        &self,
        cx: &Context<'_>,
        manifest: &Manifest,
        how: &ApplyOptions<'_>,
    ) -> Result<Applied, CellError> {
        if cx.target != Target::Dev {
            return Ok(Applied::default());
        }
        let declared = limits(manifest);
        let Some(plan) = cell_plan(cx.ws, declared)? else {
            return Ok(Applied::default());
        };
        if !declared.is_empty() {
            cx.up(&cell_redis::RedisCell).await?;
        }
        if !how.build && !plan.is_empty() {
            print!(
                "{}",
                plan.render(&cell_core::plan::Render {
                    style: &cell_core::plan::Plain,
                    with_sql: false,
                })
            );
        }
        let path = lock_path(cx.ws);
        let existed = path.exists();
        cell_core::lockfile::write_if_changed(&path, &plan.desired.to_bytes()).map_err(
            |source| RateLimitCellError::Write {
                path: path.clone(),
                source,
            },
        )?;
        if !plan.is_empty() {
            cx.ui
                .info(&format!("ratelimit: locked {}", plan.plan.summary()));
        }
        // The expansion checks each limit against the lock and tracks it: a crate compiled
        // before the lock existed tracks nothing, so cargo-cell recompiles once.
        Ok(Applied {
            used: true,
            lock_created: !existed,
        })
    }
}
