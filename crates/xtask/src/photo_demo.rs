//! `cargo xtask photo-demo`: the colour photo demo, built from photographs in scikit-image's
//! wheel on PyPI (downloaded once into `target/photos/`; their licences are in the README):
//! patches cut by `driftglass photo-sets`, a 64×64 colour model trained on the reference
//! patches with `driftglass train --images --color`, the first `PHOTO_DEMO_COUNT` files of
//! each set copied into `web/demo/photos/`, the whole photographs in six formats into
//! `tests/fixtures/photo-formats/`, and the evaluation table of every set against the clean
//! patches (`driftglass eval --control --drift`) printed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::run;

/// The wheel the photographs come from.
const WHEEL: &str =
    "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl";
/// Colour photographs of everyday scenes in it, all public domain or CC0 (see the README).
const PHOTOS: [&str; 4] = ["astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg"];
/// Files per set served with the page (the page's `PHOTO_DEMO_COUNT`).
const SERVED: usize = 40;
/// The sets, as `driftglass photo-sets` names them.
const SETS: [&str; 7] = [
    "clean",
    "cast",
    "darker",
    "blurred",
    "jpeg",
    "gray",
    "illustrations",
];

pub fn run_photo_demo(args: &[String]) -> Result<()> {
    let root = crate::workspace_root();
    let sources = root.join("target/photos/sources");
    scikit_image_photos(&sources, &PHOTOS)?;

    run(
        "cargo",
        &[
            "build",
            "--release",
            "--quiet",
            "--package",
            "driftglass-cli",
        ],
    )?;
    let cli = root.join("target/release/driftglass");
    let cli = cli.to_string_lossy();
    let sets = root.join("target/photo-demo");
    let _ = std::fs::remove_dir_all(&sets);
    let count = flag(args, "--count").unwrap_or("400");
    run(
        &cli,
        &[
            "photo-sets",
            "--photos",
            &sources.to_string_lossy(),
            "--output",
            &sets.to_string_lossy(),
            "--reference",
            flag(args, "--reference").unwrap_or("1500"),
            "--count",
            count,
        ],
    )?;
    let served = root.join("web/demo/photos");
    let _ = std::fs::remove_dir_all(&served);
    std::fs::create_dir_all(&served)?;
    let model = served.join("model.dgm");
    let mut train = vec![
        "train",
        "--images",
        "target/photo-demo/reference",
        "--color",
        "--side",
        "64",
        "--seed",
        "42",
        "--output",
    ];
    let model_arg = model.to_string_lossy().into_owned();
    train.push(&model_arg);
    if let Some(epochs) = flag(args, "--epochs") {
        train.extend(["--epochs", epochs]);
    }
    run(&cli, &train)?;
    for set in SETS {
        copy_first(&sets.join(set), &served.join(set), SERVED)?;
    }
    // The end-to-end test's colour drop: photographs of several sizes and formats.
    let formats = root.join("tests/fixtures/photo-formats");
    let _ = std::fs::remove_dir_all(&formats);
    copy_first(&sets.join("formats"), &formats, 6)?;
    let mut eval = vec![
        "eval".to_string(),
        "--model".into(),
        model_arg.clone(),
        "--control".into(),
        sets.join("clean").to_string_lossy().into_owned(),
        "--batches".into(),
        flag(args, "--batches").unwrap_or("200").into(),
    ];
    for set in &SETS[1..] {
        eval.push("--drift".into());
        eval.push(format!("{set}={}", sets.join(set).display()));
    }
    run(&cli, &eval.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Extract `names` from `skimage/data/` of scikit-image's wheel into `into`, downloading the
/// wheel from PyPI into `target/photos/` the first time.
pub fn scikit_image_photos(into: &Path, names: &[&str]) -> Result<()> {
    let photos = crate::workspace_root().join("target/photos");
    let wheel = photos.join(WHEEL);
    if !wheel.exists() {
        std::fs::create_dir_all(&photos)?;
        run(
            "python3",
            &[
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary=:all:",
                "--python-version",
                "3.11",
                "--platform",
                "manylinux_2_28_x86_64",
                "scikit-image==0.26.0",
                "-d",
                &photos.to_string_lossy(),
            ],
        )
        .context("downloading scikit-image's wheel from PyPI (for its photographs)")?;
    }
    std::fs::create_dir_all(into)?;
    let extract = "import zipfile, sys\nz = zipfile.ZipFile(sys.argv[1])\nfor name in sys.argv[3:]:\n    open(sys.argv[2] + '/' + name, 'wb').write(z.read('skimage/data/' + name))\n";
    let (wheel, into) = (wheel.to_string_lossy(), into.to_string_lossy());
    let mut args = vec!["-c", extract, &wheel, &into];
    args.extend(names);
    run("python3", &args)
}

/// The value after `name` in `args`.
fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// The first `count` files of `from` (by name) into `to`.
fn copy_first(from: &Path, to: &Path, count: usize) -> Result<()> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(from)
        .with_context(|| format!("reading {}", from.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    if files.len() < count {
        bail!(
            "{} holds {} files, fewer than {count}",
            from.display(),
            files.len()
        );
    }
    std::fs::create_dir_all(to)?;
    for file in &files[..count] {
        let name = file.file_name().unwrap_or_default();
        std::fs::copy(file, to.join(name))?;
    }
    Ok(())
}
