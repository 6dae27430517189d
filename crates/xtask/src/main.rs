//! Developer commands: `cargo xtask <command>`.
//!
//! - `test`: everything CI runs (installs what it needs first).
//! - `fixtures`: regenerate the committed test images from the MNIST data directory.
//! - `bundle-model`: retrain the bundled model with the exact recorded command.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("fixtures") => fixtures(&data_dir()),
        Some("bundle-model") => bundle_model(&data_dir()),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  test          install prerequisites, then fmt, clippy (native + wasm32), all tests, wasm32 build\n  fixtures      regenerate tests/fixtures from $DRIFTGLASS_DATA (default ../shared/data)\n  bundle-model  retrain crates/driftglass-model/assets/mnist-ae.dgm (about 40 min on 2 cores)"
            );
            Ok(())
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn data_dir() -> PathBuf {
    std::env::var_os("DRIFTGLASS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    eprintln!("+ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .status()
        .with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("{program} {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn succeeds(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Install what the tests need and is missing: the wasm32 target, fonts for the letter
/// generator's tests. Nothing is installed when it is already there.
fn prerequisites() -> Result<()> {
    let targets = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if !targets.contains("wasm32-unknown-unknown") {
        run("rustup", &["target", "add", "wasm32-unknown-unknown"])?;
    }
    if !succeeds("rustup", &["component", "list", "--installed"])
        || !String::from_utf8_lossy(
            &Command::new("rustup")
                .args(["component", "list", "--installed"])
                .output()?
                .stdout,
        )
        .contains("clippy")
    {
        run("rustup", &["component", "add", "clippy", "rustfmt"])?;
    }
    let fonts = [
        (
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "fonts-dejavu-core",
        ),
        ("/usr/share/fonts/truetype/aenigma", "fonts-aenigma"),
    ];
    let missing: Vec<&str> = fonts
        .iter()
        .filter(|(path, _)| !Path::new(path).exists())
        .map(|(_, package)| *package)
        .collect();
    if !missing.is_empty() {
        let sudo = if succeeds("id", &["-u"])
            && String::from_utf8_lossy(&Command::new("id").arg("-u").output()?.stdout).trim() == "0"
        {
            vec![]
        } else {
            vec!["sudo"]
        };
        let mut update = sudo.clone();
        update.extend(["apt-get", "update", "-qq"]);
        run(update[0], &update[1..])?;
        let mut install = sudo;
        install.extend(["apt-get", "install", "-y", "-qq"]);
        install.extend(missing);
        run(install[0], &install[1..])?;
    }
    Ok(())
}

fn test() -> Result<()> {
    prerequisites()?;
    run("cargo", &["fmt", "--all", "--check"])?;
    run(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The model crate must build for the browser: clippy and a full build for wasm32.
    let wasm = [
        "--package",
        "driftglass-model",
        "--target",
        "wasm32-unknown-unknown",
    ];
    run(
        "cargo",
        &[&["clippy"][..], &wasm, &["--", "-D", "warnings"]].concat(),
    )?;
    run("cargo", &[&["build"][..], &wasm].concat())?;
    run("cargo", &["test", "--workspace"])?;
    eprintln!("all checks passed");
    Ok(())
}

/// Write the first `count` MNIST test digits as PNGs, plus the bad-input files.
fn fixtures(data: &Path) -> Result<()> {
    let images = driftglass_model::idx::read_images(&driftglass_model::idx::locate(
        &data.join("mnist"),
        "t10k-images-idx3-ubyte",
    )?)?;
    let save_png = |index: usize, path: &Path| -> Result<()> {
        let bytes: Vec<u8> = images
            .image(index)
            .iter()
            .map(|v| (v * 255.0).round() as u8)
            .collect();
        image::save_buffer(path, &bytes, 28, 28, image::ExtendedColorType::L8)?;
        Ok(())
    };
    let good = Path::new("tests/fixtures/mnist-sample");
    std::fs::create_dir_all(good)?;
    for index in 0..12 {
        save_png(index, &good.join(format!("mnist-test-{index:02}.png")))?;
    }
    // 100 further test digits: the browser test times a drop of 100 images.
    let hundred = Path::new("tests/fixtures/drop-100");
    std::fs::create_dir_all(hundred)?;
    for index in 100..200 {
        save_png(index, &hundred.join(format!("mnist-test-{index:03}.png")))?;
    }
    // A small IDX file of the first 64 test digits.
    let sample = images.take(64);
    std::fs::write(
        "tests/fixtures/mnist-test-64.idx",
        driftglass_model::idx::encode_images(&sample),
    )?;
    let mixed = Path::new("tests/fixtures/mixed");
    std::fs::create_dir_all(mixed)?;
    for index in 0..4 {
        std::fs::copy(
            good.join(format!("mnist-test-{index:02}.png")),
            mixed.join(format!("digit-{index}.png")),
        )?;
    }
    std::fs::write(mixed.join("notes.txt"), "these are not pixels\n")?;
    std::fs::write(mixed.join("empty.png"), b"")?;
    let png = std::fs::read(good.join("mnist-test-04.png"))?;
    std::fs::write(mixed.join("truncated.png"), &png[..png.len() / 2])?;
    eprintln!("wrote tests/fixtures");
    // The web app's demo sets.
    run(
        "cargo",
        &[
            "run",
            "--quiet",
            "--package",
            "driftglass-cli",
            "--",
            "demo-sets",
            "--data",
            &data.to_string_lossy(),
            "--output",
            "web/demo",
        ],
    )
}

fn bundle_model(data: &Path) -> Result<()> {
    let data = data.to_string_lossy().into_owned();
    run(
        "cargo",
        &[
            "run",
            "--release",
            "--package",
            "driftglass-cli",
            "--",
            "train",
            "--data",
            &data,
            "--epochs",
            "10",
            "--seed",
            "42",
            "--output",
            "crates/driftglass-model/assets/mnist-ae.dgm",
        ],
    )
}
