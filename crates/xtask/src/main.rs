//! Developer commands: `cargo xtask <command>`.
//!
//! - `test`: everything CI runs; installs what it needs first (only what is missing).
//! - `lint`: rustfmt check and clippy, native and wasm32.
//! - `serve`: install the web tool chain if missing, then `trunk serve` the app.
//! - `dist`: the release build of the app (LTO, wasm-opt) into `dist/`, with its sizes.
//! - `fixtures`: regenerate the committed test images and demo sets from the data directory.
//! - `bundle-model`: retrain the bundled model with the exact recorded command.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

/// trunk's version; installed with `cargo install --debug` (it only orchestrates the build,
/// and a debug build of it compiles in a third of the time).
const TRUNK_VERSION: &str = "0.21.14";
/// binaryen from npm: a wasm build of wasm-opt (Debian's binaryen 108 is too old).
const BINARYEN: &str = "binaryen@132";
/// Where npm tools (binaryen) are installed: ignored by git.
const TOOLS_DIR: &str = "target/tools";
const WASM: &str = "wasm32-unknown-unknown";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    let started = Instant::now();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(),
        Some("lint") => lint(),
        Some("serve") => serve(args.iter().any(|a| a == "--release")),
        Some("dist") => dist(),
        Some("fixtures") => fixtures(&data_dir()),
        Some("bundle-model") => bundle_model(&data_dir()),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  \
                 test          install what is missing, then lint and every test (native, browser, end to end)\n  \
                 lint          rustfmt check, clippy -D warnings on native and wasm32\n  \
                 serve         install what is missing, then serve the app at http://127.0.0.1:8080 (--release: optimised build)\n  \
                 dist          release build of the app into dist/ (LTO + wasm-opt), prints its sizes\n  \
                 fixtures      regenerate tests/fixtures and web/demo from $DRIFTGLASS_DATA (default ../shared/data)\n  \
                 bundle-model  retrain crates/driftglass-model/assets/mnist-ae.dgm (about 40 min on 2 cores)"
            );
            return Ok(());
        }
    };
    eprintln!("xtask finished in {:.0} s", started.elapsed().as_secs_f64());
    result
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

fn command(program: &str, args: &[&str]) -> Command {
    eprintln!("+ {program} {}", args.join(" "));
    let mut command = Command::new(program);
    command.args(args);
    command
}

fn run(program: &str, args: &[&str]) -> Result<()> {
    run_command(command(program, args))
}

fn run_command(mut command: Command) -> Result<()> {
    let started = Instant::now();
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    eprintln!("  ({:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}

/// Standard output of a command, if it ran and succeeded.
fn output(program: &str, args: &[&str]) -> Option<String> {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

fn apt_install(packages: &[&str]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    let root = output("id", &["-u"]).is_some_and(|id| id.trim() == "0");
    let sudo: &[&str] = if root { &[] } else { &["sudo"] };
    let update = [sudo, &["apt-get", "update", "-qq"]].concat();
    run(update[0], &update[1..])?;
    let install = [
        sudo,
        &["apt-get", "install", "-y", "-qq", "--no-install-recommends"],
        packages,
    ]
    .concat();
    let mut command = command(install[0], &install[1..]);
    command.env("DEBIAN_FRONTEND", "noninteractive");
    run_command(command)
}

/// The Rust side: wasm32 target, clippy and rustfmt; fonts for the letter generator's tests.
fn rust_prerequisites() -> Result<()> {
    let targets = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !targets.contains(WASM) {
        run("rustup", &["target", "add", WASM])?;
    }
    let components = output("rustup", &["component", "list", "--installed"]).unwrap_or_default();
    if !components.contains("clippy") || !components.contains("rustfmt") {
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
    apt_install(&missing)
}

/// The wasm-bindgen version in Cargo.lock: wasm-bindgen-cli must match it exactly.
fn locked_wasm_bindgen() -> Result<String> {
    let lock = std::fs::read_to_string("Cargo.lock").context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == r#"name = "wasm-bindgen""#
            && let Some(version) = lines
                .next()
                .and_then(|l| l.strip_prefix(r#"version = ""#))
                .and_then(|l| l.strip_suffix('"'))
        {
            return Ok(version.to_string());
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

fn cargo_install(name: &str, version: &str, extra: &[&str]) -> Result<()> {
    let spec = format!("{name}@{version}");
    run("cargo", &[&["install", spec.as_str()][..], extra].concat())
}

/// The web tool chain: wasm-bindgen-cli at the lock's version, trunk, and (for release builds)
/// binaryen's wasm-opt. Each is installed only when missing.
fn web_tools() -> Result<()> {
    rust_prerequisites()?;
    let bindgen = locked_wasm_bindgen()?;
    if output("wasm-bindgen", &["--version"]).is_none_or(|v| !v.contains(&bindgen)) {
        // Not --locked: the CLI's own lock pins a webpki-roots the registry no longer has.
        cargo_install("wasm-bindgen-cli", &bindgen, &[])?;
    }
    if output("trunk", &["--version"]).is_none_or(|v| !v.contains(TRUNK_VERSION)) {
        cargo_install("trunk", TRUNK_VERSION, &["--locked", "--debug"])?;
    }
    let trunk_toml = std::fs::read_to_string("Trunk.toml")?;
    if !trunk_toml.contains(&format!(r#"wasm_bindgen = "{bindgen}""#)) {
        bail!("Trunk.toml's [tools] wasm_bindgen must be the lock's version {bindgen}");
    }
    // wasm-opt runs in release builds only, but costs a second to install.
    ensure_node()?;
    if !Path::new(TOOLS_DIR)
        .join("node_modules/.bin/wasm-opt")
        .exists()
    {
        std::fs::create_dir_all(TOOLS_DIR)?;
        run(
            "npm",
            &[
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                TOOLS_DIR,
                BINARYEN,
            ],
        )?;
    }
    // Trunk runs offline (no downloads): the registry sources must be there.
    run("cargo", &["fetch", "--target", WASM])
}

fn ensure_node() -> Result<()> {
    if output("node", &["--version"]).is_none() || output("npm", &["--version"]).is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    Ok(())
}

/// Headless Chromium with its WebDriver, and the end-to-end test's npm packages.
fn browser_prerequisites() -> Result<()> {
    let mut missing = Vec::new();
    if !Path::new("/usr/bin/chromium").exists() {
        missing.push("chromium");
    }
    if !Path::new("/usr/bin/chromedriver").exists() {
        missing.push("chromium-driver");
    }
    apt_install(&missing)?;
    ensure_node()?;
    if !Path::new("tests/e2e/node_modules/playwright-core").exists() {
        let mut npm = command("npm", &["ci", "--no-audit", "--no-fund"]);
        npm.current_dir("tests/e2e");
        run_command(npm)?;
    }
    Ok(())
}

/// PATH with the npm tools (wasm-opt) in front.
fn path_with_tools() -> std::ffi::OsString {
    let tools = std::env::current_dir()
        .unwrap_or_default()
        .join(TOOLS_DIR)
        .join("node_modules/.bin");
    let mut paths = vec![tools];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_default()
}

fn lint() -> Result<()> {
    rust_prerequisites()?;
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
    run(
        "cargo",
        &[
            "clippy",
            "--package",
            "driftglass-model",
            "--package",
            "driftglass-web",
            "--target",
            WASM,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )
}

fn test() -> Result<()> {
    let skip_lint = std::env::var("DRIFTGLASS_SKIP_LINT").is_ok_and(|v| v == "1");
    if skip_lint {
        rust_prerequisites()?;
        run("cargo", &["fmt", "--all", "--check"])?;
    } else {
        lint()?;
    }
    // Native: model, CLI (end to end on the built binary), web view state, xtask.
    run("cargo", &["test", "--workspace"])?;
    web_tools()?;
    browser_prerequisites()?;
    // The app, built by trunk (dev profile; dependencies are optimised, see Cargo.toml).
    run("trunk", &["build", "--dist", "dist"])?;
    // The web crate's logic in headless Chromium, WebGPU on (SwiftShader) and the CPU path.
    let mut browser = command(
        "cargo",
        &[
            "test",
            "--package",
            "driftglass-web",
            "--target",
            WASM,
            "--test",
            "browser",
        ],
    );
    browser
        .env("CHROMEDRIVER", "/usr/bin/chromedriver")
        .env("DRIFTGLASS_EXPECT_WEBGPU", "1");
    run_command(browser)?;
    // End to end: the trunk-built app in Chromium against the CLI's numbers.
    run("cargo", &["build", "--package", "driftglass-cli"])?;
    let mut e2e = command(
        "node",
        &[
            "run.mjs",
            "../../dist",
            "../../target/debug/driftglass",
            "../fixtures",
        ],
    );
    e2e.current_dir("tests/e2e");
    run_command(e2e)?;
    eprintln!("all checks passed; screenshots in tests/artifacts/");
    Ok(())
}

fn serve(release: bool) -> Result<()> {
    web_tools()?;
    let mut args = vec!["serve"];
    if release {
        args.extend(["--release", "--cargo-profile", "web"]);
    }
    let mut trunk = command("trunk", &args);
    trunk.env("PATH", path_with_tools());
    run_command(trunk)
}

/// Release build into dist/, then the sizes of what a visitor downloads (raw and gzip).
fn dist() -> Result<()> {
    web_tools()?;
    let mut trunk = command(
        "trunk",
        &[
            "build",
            "--release",
            "--cargo-profile",
            "web",
            "--dist",
            "dist",
        ],
    );
    trunk.env("PATH", path_with_tools());
    run_command(trunk)?;
    let mut total = (0, 0);
    let mut entries: Vec<PathBuf> = std::fs::read_dir("dist")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    for path in entries {
        let bytes = std::fs::read(&path)?;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes)?;
        let gzipped = gz.finish()?.len();
        total = (total.0 + bytes.len(), total.1 + gzipped);
        eprintln!(
            "{:>12} bytes {:>12} gzip  {}",
            bytes.len(),
            gzipped,
            path.display()
        );
    }
    eprintln!(
        "{:>12} bytes {:>12} gzip  total (demo sets in dist/demo/ load only when clicked)",
        total.0, total.1
    );
    Ok(())
}

/// Write the first `count` MNIST test digits as PNGs, plus the bad-input files.
fn fixtures(data: &Path) -> Result<()> {
    let data = data.to_string_lossy().into_owned();
    // The CLI writes them (it has the IDX reader and the image encoder; xtask stays free of
    // burn, so `cargo xtask` builds in seconds).
    for (command, output) in [
        ("test-fixtures", "tests/fixtures"),
        ("demo-sets", "web/demo"),
    ] {
        run(
            "cargo",
            &[
                "run",
                "--quiet",
                "--package",
                "driftglass-cli",
                "--",
                command,
                "--data",
                &data,
                "--output",
                output,
            ],
        )?;
    }
    Ok(())
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
