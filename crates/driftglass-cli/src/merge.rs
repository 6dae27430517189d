//! `driftglass merge`: the report of one run over all files, from the summaries that
//! `driftglass score --shard I/N --summary FILE` wrote on several machines. The shards are
//! contiguous slices of the sorted file list, so their images, put back in shard order, are the
//! whole run's, and the batch tests see exactly what one run would have given them.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use driftglass_core::scorer::join_parts;

use crate::score::{ReportArgs, SHARD_SCHEMA, ShardSummary, load_model};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shards' summary files, in any order.
    #[arg(required = true)]
    pub summaries: Vec<PathBuf>,
    /// The model the shards were scored with, and how to print the report.
    #[command(flatten)]
    pub report: ReportArgs,
}

pub fn run(args: MergeArgs) -> Result<u8> {
    let loaded = load_model(args.report.model.as_deref())?;
    let mut shards = Vec::with_capacity(args.summaries.len());
    for path in &args.summaries {
        let file =
            std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
        let summary: ShardSummary = serde_json::from_reader(std::io::BufReader::new(file))
            .with_context(|| format!("{} is not a shard summary", path.display()))?;
        if summary.schema != SHARD_SCHEMA {
            bail!(
                "{}: shard summary format {}, this driftglass reads {SHARD_SCHEMA}",
                path.display(),
                summary.schema
            );
        }
        shards.push(summary);
    }
    shards.sort_by_key(|s| s.shard.0);
    let first = &shards[0];
    let count = first.shard.1;
    let indices: Vec<usize> = shards.iter().map(|s| s.shard.0).collect();
    if shards.iter().any(|s| s.shard.1 != count) || indices != (0..count).collect::<Vec<_>>() {
        bail!(
            "the summaries are shards {indices:?} of {:?}: every shard 0..{count} is needed once",
            shards.iter().map(|s| s.shard.1).collect::<Vec<_>>()
        );
    }
    // What only shards have: the same file list and level. The rest (model, program,
    // preprocessing, flag rate) is checked by the core's join.
    if let Some(s) = shards
        .iter()
        .find(|s| s.files != first.files || s.alpha != first.alpha)
    {
        bail!(
            "shard {} was scored over other files or at another level than shard 0",
            s.shard.0
        );
    }
    if first.report.model.sha256 != loaded.sha256 {
        bail!(
            "the shards were scored with model {}, not {} (pass it with --model)",
            first.report.model.sha256,
            loaded.sha256
        );
    }
    let alpha = first.alpha;
    let mut report = join_parts(
        &loaded,
        shards.into_iter().map(|s| (s.report, s.codes)),
        alpha,
    )
    .context("joining the shards")?;
    args.report.judge(&mut report);
    let label = crate::score::model_label(args.report.model.as_deref());
    args.report.print(&report, &loaded, &label)?;
    Ok(if report.batch.failed > 0 {
        crate::EXIT_SOME_FAILED
    } else {
        crate::EXIT_OK
    })
}
