//! `driftglass merge`: the report of one run over all files, from the summaries that
//! `driftglass score --shard I/N --summary FILE` wrote on several machines. The shards are
//! contiguous slices of the sorted file list, so their images, put back in shard order, are the
//! whole run's, and the batch tests see exactly what one run would have given them.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use driftglass_core::report::{add_batch_tests, build_report};

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
    for s in &shards {
        let same = s.files == first.files
            && s.alpha == first.alpha
            && s.report.app == first.report.app
            && s.report.preprocess == first.report.preprocess
            && s.report.batch.flag_rate == first.report.batch.flag_rate
            && s.report.model.sha256 == first.report.model.sha256;
        if !same {
            bail!(
                "shard {} was scored differently from shard 0 (files, model, preprocessing, flag rate or alpha)",
                s.shard.0
            );
        }
    }
    if first.report.model.sha256 != loaded.sha256 {
        bail!(
            "the shards were scored with model {}, not {} (pass it with --model)",
            first.report.model.sha256,
            loaded.sha256
        );
    }
    let (app, preprocess, flag_rate, alpha) = (
        first.report.app.clone(),
        first.report.preprocess,
        first.report.batch.flag_rate,
        first.alpha,
    );
    let mut images = Vec::new();
    let mut codes = Vec::new();
    for shard in shards {
        images.extend(shard.report.images);
        codes.extend(shard.codes);
    }
    let mut report = build_report(&app, &loaded, preprocess, images, flag_rate);
    add_batch_tests(&mut report, &loaded, &codes, alpha);
    args.report.judge(&mut report);
    let label = crate::score::model_label(args.report.model.as_deref());
    args.report.print(&report, &loaded, &label)?;
    Ok(if report.batch.failed > 0 {
        crate::EXIT_SOME_FAILED
    } else {
        crate::EXIT_OK
    })
}
