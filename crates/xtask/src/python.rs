//! The Python package: `cargo xtask wheel` builds the wheel of `crates/driftglass-py` with
//! maturin and installs it into `target/py-venv`; `cargo xtask test` then runs its pytest suite
//! (the package against the CLI, and a local Ray cluster scoring against the CLI).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use super::{apt_install, command, run, run_command};

const VENV: &str = "target/py-venv";
const WHEELS: &str = "target/wheels";

/// Whether `python` imports every module of `modules`.
fn imports(python: &Path, modules: &str) -> bool {
    Command::new(python)
        .args(["-c", &format!("import {modules}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `pip install --quiet ARGS` with `python`.
fn pip_install(python: &Path, args: &[&str]) -> Result<()> {
    let pip = [&["-m", "pip", "install", "--quiet"], args].concat();
    run(&python.to_string_lossy(), &pip)
}

/// `target/py-venv`, with maturin, NumPy, pytest and Ray from PyPI (created once).
fn venv() -> Result<PathBuf> {
    let python = Path::new(VENV).join("bin/python");
    if !imports(&python, "numpy, pytest, ray.data") {
        let has_venv = Command::new("python3")
            .args(["-c", "import venv, ensurepip"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !has_venv {
            apt_install(&["python3", "python3-venv"])?;
        }
        run("python3", &["-m", "venv", VENV])?;
        pip_install(
            &python,
            &[
                "maturin>=1.9,<2",
                "numpy",
                "pytest",
                // The Ray test's local cluster (Ray Data reads the files).
                "ray[data]>=2.40",
            ],
        )?;
    }
    Ok(python)
}

/// Build the wheel (release) and install it into the venv; returns the venv's Python.
pub(crate) fn wheel() -> Result<PathBuf> {
    let python = venv()?;
    let maturin = Path::new(VENV).join("bin/maturin");
    let _ = std::fs::remove_dir_all(WHEELS);
    run(
        &maturin.to_string_lossy(),
        &[
            "build",
            "--release",
            "--manifest-path",
            "crates/driftglass-py/Cargo.toml",
            "--interpreter",
            &python.to_string_lossy(),
            "--out",
            WHEELS,
        ],
    )?;
    let wheel = std::fs::read_dir(WHEELS)
        .with_context(|| format!("listing {WHEELS}"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.extension().is_some_and(|e| e == "whl"))
        .context("maturin made no wheel")?;
    pip_install(
        &python,
        &["--force-reinstall", "--no-deps", &wheel.to_string_lossy()],
    )?;
    eprintln!("installed {} into {VENV}", wheel.display());
    Ok(python)
}

/// The wheel, then its tests against `cli` (the `driftglass` binary); the Ray test's images
/// come from the MNIST files in `data`.
pub(crate) fn test(cli: &str, data: &Path) -> Result<()> {
    let python = wheel()?;
    let mut pytest = command(
        &python.to_string_lossy(),
        &[
            "-m",
            "pytest",
            "-q",
            "-s",
            "-p",
            "no:warnings",
            "crates/driftglass-py/tests",
        ],
    );
    pytest
        .env("DRIFTGLASS_CLI", cli)
        .env("DRIFTGLASS_DATA", data);
    run_command(pytest)
}
