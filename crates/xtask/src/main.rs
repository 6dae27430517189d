//! Developer commands: `cargo xtask <command>`.
//!
//! - `test`: everything CI runs; installs what it needs first (only what is missing).
//! - `lint`: rustfmt check and clippy, native and wasm32.
//! - `serve`: install the web tool chain if missing, then `trunk serve` the app.
//! - `dist`: the release build of the app (LTO, wasm-opt) into `dist/`, with its sizes.
//! - `bench`: Driftglass against TensorFlow.js in headless Chromium.
//! - `bench-score`: native scoring throughput against PyTorch at equal threads (and on a GPU).
//! - `bench-train`: native training throughput against PyTorch on the CPU.
//! - `soak`: drop 10,000 PNG files on the app in headless Chromium: memory, long tasks, cancel.
//! - `fixtures`: regenerate the committed test images and demo sets from the data directory.
//! - `bundle-model`: retrain the bundled model with the exact recorded command.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

mod bench_score;
mod photo_demo;
mod python;

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
        Some("wheel") => python::wheel().map(|_| ()),
        Some("fixtures") => fixtures(&data_dir()),
        Some("soak") => soak(&args[1..], &data_dir()),
        Some("extract-loader") => extract_loader(),
        Some("fuzz") => fuzz(&args[1..]),
        Some("bench") => bench(&args[1..], &data_dir()),
        Some("bench-train") => bench_train(&args[1..], &data_dir()),
        Some("bench-score") => bench_score::run(&args[1..], &data_dir()),
        Some("bench-load") => bench_load(&args[1..]),
        Some("bundle-model") => bundle_model(&data_dir()),
        Some("photo-demo") => photo_demo::run_photo_demo(&args[1..]),
        Some("bench-colour") => bench_colour(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask <command>\n\n  \
                 test          install what is missing, then lint and every test (native, browser, end to end)\n  \
                 lint          rustfmt check, clippy -D warnings on native and wasm32\n  \
                 serve         install what is missing, then serve the app at http://127.0.0.1:8080 (--release: optimised build)\n  \
                 dist          release build of the app into dist/ (wasm-opt), prints what a visitor downloads\n  \
                 wheel         build the Python package's wheel (maturin) into target/wheels and install it into target/py-venv\n  \
                 bench-load    first load from an empty cache, full speed and 10 Mbit/s (--release, --runs N)\n  \
                 soak          drop 10,000 PNG files on the app in headless Chromium (--count N, --webgpu, --release)\n  \
                 bench         Driftglass vs TensorFlow.js in headless Chromium (--release, --gpu, --count N, --batch B,B)\n  \
                 bench-score   native scoring throughput, the core's CPU engine vs PyTorch, same images and threads (--threads 1,2,.. --limit N --cuda --python P)\n  \
                 bench-train   native training throughput, `driftglass train` vs PyTorch CPU at equal threads (--limit N, --epochs E, --threads T)\n  \
                 fuzz          run the three cargo-fuzz targets, 10 minutes each (--seconds N); needs nightly\n  \
                 fixtures      regenerate tests/fixtures and web/demo from $DRIFTGLASS_DATA (default ../shared/data)\n  \
                 bundle-model  retrain crates/driftglass-core/assets/mnist-ae.dgm (about 15 min on 2 cores)\n  \
                 bench-colour  64×64 colour scoring and training in headless Chromium, CPU and WebGPU (--release, --count N, --train N, --gpu)\n  \
                 photo-demo    rebuild web/demo/photos (colour model and sets from scikit-image's photographs) and print its evaluation table (--count N, --epochs E)"
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

pub(crate) fn run(program: &str, args: &[&str]) -> Result<()> {
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

/// Run `command` with its output captured; an error with its standard error if it failed.
pub(crate) fn captured(mut command: Command, what: &str) -> Result<std::process::Output> {
    let output = command
        .output()
        .with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(output)
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

/// Headless Chromium with its WebDriver; Firefox ESR and WebKitGTK's WebDriver (with a virtual
/// X display for its browser) for the core flow in other engines; the end-to-end test's npm
/// packages.
fn browser_prerequisites() -> Result<()> {
    let mut missing = Vec::new();
    for (file, package) in [
        ("/usr/bin/chromium", "chromium"),
        ("/usr/bin/chromedriver", "chromium-driver"),
        ("/usr/bin/firefox-esr", "firefox-esr"),
        ("/usr/bin/WebKitWebDriver", "webkit2gtk-driver"),
        ("/usr/bin/xvfb-run", "xvfb"),
        ("/usr/bin/xauth", "xauth"),
    ] {
        if !Path::new(file).exists() {
            missing.push(package);
        }
    }
    apt_install(&missing)?;
    ensure_node()?;
    // Each package of tests/e2e/package.json (npm ci installs them all from the lockfile).
    if ["playwright-core", "axe-core", "puppeteer-core"]
        .iter()
        .any(|package| !Path::new("tests/e2e/node_modules").join(package).exists())
    {
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
            "driftglass-core",
            "--package",
            "driftglass-burn",
            "--package",
            "driftglass-web",
            "--package",
            "driftglass-gpu",
            "--target",
            WASM,
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The product build of the page: without the benchmark and test hooks.
    run(
        "cargo",
        &[
            "clippy",
            "--package",
            "driftglass-web",
            "--target",
            WASM,
            "--no-default-features",
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
    build_app(false, true)?;
    // The web crate's logic in headless Chromium (WebGPU on, so the fallback is tested where an
    // adapter exists), then the WebGPU module against the CPU kernels (SwiftShader).
    for package in ["driftglass-web", "driftglass-gpu"] {
        let mut browser = command(
            "cargo",
            &[
                "test",
                "--package",
                package,
                "--target",
                WASM,
                "--test",
                "browser",
            ],
        );
        browser
            .env("CHROMEDRIVER", "/usr/bin/chromedriver")
            .env("DRIFTGLASS_EXPECT_WEBGPU", "1")
            // The runner's default budget for the whole file is 20 s; training on SwiftShader's
            // WebGPU alone takes about as long.
            .env("WASM_BINDGEN_TEST_TIMEOUT", "600");
        run_command(browser)?;
    }
    // End to end: the trunk-built app in Chromium against the CLI's numbers (the binary that
    // `cargo test --workspace` built above: fresh, nothing compiles).
    build_cli()?;
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
    // The Python package (its wheel built and installed) against the same CLI.
    python::test("target/debug/driftglass", &data_dir())?;
    // The core flow in Firefox and WebKit, against the same CLI.
    let mut engines = command(
        "node",
        &[
            "engines.mjs",
            "../../dist",
            "../../target/debug/driftglass",
            "../fixtures",
        ],
    );
    engines.current_dir("tests/e2e");
    run_command(engines)?;
    eprintln!("all checks passed; screenshots in tests/artifacts/");
    Ok(())
}

/// The `driftglass` binary in target/debug, built with the feature set of `cargo test --workspace`.
/// `cargo build --package driftglass-cli` resolves features without the dev-dependencies and
/// would compile burn and its dependencies a second time (~10 min on 2 cores, cold).
fn build_cli() -> Result<()> {
    run("cargo", &["test", "--workspace", "--no-run"])
}

fn serve(release: bool) -> Result<()> {
    web_tools()?;
    // The release build is the product: without the benchmark and test hooks.
    trunk(&["serve"], release, !release)
}

/// Release build into dist/, then the sizes of what a visitor downloads (raw and gzip).
/// The first-load benchmark (`tests/e2e/load.mjs`) on the dev build, or the release build with
/// `--release` (its sizes printed first).
fn bench_load(args: &[String]) -> Result<()> {
    let release = args.iter().any(|a| a == "--release");
    web_tools()?;
    browser_prerequisites()?;
    build_app(release, false)?;
    print_sizes(Path::new("dist"))?;
    let runs = option_value(args, "--runs").unwrap_or_else(|| "5".into());
    let mut load = command("node", &["load.mjs", "../../dist", &runs]);
    load.current_dir("tests/e2e");
    run_command(load)
}

fn dist() -> Result<()> {
    web_tools()?;
    build_app(true, false)?;
    print_sizes(Path::new("dist"))
}

/// What a visitor downloads, per file (raw and gzip): first the first load (everything the page
/// needs to score on the CPU), then the WebGPU module and its worker, fetched only where the
/// browser offers a WebGPU adapter. Demo sets (`dist/demo/`) load only when clicked.
fn print_sizes(dist: &Path) -> Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dist)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let on_demand = |path: &Path| {
        path.file_name()
            .is_some_and(|n| n.to_string_lossy().contains("gpu"))
    };
    for (title, gpu) in [
        ("first load (CPU path)", false),
        ("WebGPU, fetched on demand", true),
    ] {
        eprintln!("{title}:");
        let mut total = (0, 0);
        for path in entries.iter().filter(|p| on_demand(p) == gpu) {
            let bytes = std::fs::read(path)?;
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
        eprintln!("{:>12} bytes {:>12} gzip  total", total.0, total.1);
    }
    eprintln!("(demo sets in dist/demo/ load only when clicked)");
    Ok(())
}

/// The fuzz targets (fuzz/), with their seed folders and largest input.
const FUZZ_TARGETS: [(&str, &str, &str); 3] = [
    ("preprocess", "tests/corpus/files", "1048576"),
    ("idx", "fuzz/seeds/idx", "65536"),
    ("model_file", "fuzz/seeds/model_file", "400000"),
];

/// The value after `name` in `args` (`--count 500` → `500`).
pub(crate) fn option_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Run every fuzz target for `--seconds` (default 600) each; installs cargo-fuzz if missing.
fn fuzz(args: &[String]) -> Result<()> {
    let seconds = option_value(args, "--seconds").unwrap_or_else(|| "600".into());
    let has_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_fuzz {
        run("cargo", &["install", "cargo-fuzz", "--locked"])?;
    }
    // The model-file seeds: the bundled model (format 3) and its format-2 predecessor
    // (burnpack weights), without their checksums (the target appends one).
    std::fs::create_dir_all("fuzz/seeds/model_file")?;
    for (from, to) in [
        (
            "crates/driftglass-core/assets/mnist-ae.dgm",
            "bundled-unsealed.dgm",
        ),
        (
            "crates/driftglass-core/tests/fixtures/mnist-ae-format2.dgm",
            "format2-unsealed.dgm",
        ),
    ] {
        let model = std::fs::read(from)?;
        std::fs::write(
            format!("fuzz/seeds/model_file/{to}"),
            &model[..model.len().saturating_sub(32)],
        )?;
    }
    for (target, seeds, max_len) in FUZZ_TARGETS {
        let corpus = format!("fuzz/corpus/{target}");
        std::fs::create_dir_all(&corpus)?;
        run(
            "cargo",
            &[
                "+nightly",
                "fuzz",
                "run",
                "--fuzz-dir",
                "fuzz",
                target,
                &corpus,
                seeds,
                "--",
                &format!("-max_total_time={seconds}"),
                &format!("-max_len={max_len}"),
                "-rss_limit_mb=4096",
                "-print_final_stats=1",
            ],
        )?;
    }
    Ok(())
}

/// Name of the file trunk's loader script moves to.
const LOADER_FILE: &str = "driftglass-loader.js";

/// Trunk post-build hook (Trunk.toml): move trunk's inline `<script type="module">` loader
/// into its own file, so the page's Content-Security-Policy allows scripts from its own origin
/// only (no 'unsafe-inline').
fn extract_loader() -> Result<()> {
    let staging = std::env::var_os("TRUNK_STAGING_DIR")
        .map(PathBuf::from)
        .context("TRUNK_STAGING_DIR is not set: this command is trunk's post-build hook")?;
    let public_url = std::env::var("TRUNK_PUBLIC_URL").unwrap_or_else(|_| "/".into());
    let html_path = staging.join("index.html");
    let html = std::fs::read_to_string(&html_path)
        .with_context(|| format!("reading {}", html_path.display()))?;
    const OPEN: &str = "<script type=\"module\">";
    let Some(start) = html.find(OPEN) else {
        bail!("{} has no inline module script", html_path.display());
    };
    let body_start = start + OPEN.len();
    let Some(length) = html[body_start..].find("</script>") else {
        bail!("{}: the inline script is not closed", html_path.display());
    };
    let script = &html[body_start..body_start + length];
    std::fs::write(staging.join(LOADER_FILE), script.trim())?;
    let tag = format!("<script type=\"module\" src=\"{public_url}{LOADER_FILE}\"></script>");
    let rewritten = format!(
        "{}{tag}{}",
        &html[..start],
        &html[body_start + length + "</script>".len()..]
    );
    if rewritten.contains("<script>") || rewritten.contains(OPEN) {
        bail!("{} still has an inline script", html_path.display());
    }
    std::fs::write(&html_path, rewritten)?;
    eprintln!("moved trunk's loader script to {LOADER_FILE}");
    write_service_worker(&staging)
}

/// Fill in the service worker's version and the files it keeps for offline use: every file of
/// the build the page needs to score on the CPU (not the demo sets, nor the WebGPU module and
/// its worker, which are kept once fetched). The version is a digest of every file of the
/// build.
fn write_service_worker(staging: &Path) -> Result<()> {
    use sha2::{Digest, Sha256};
    const WORKER: &str = "sw.js";
    let mut names: Vec<String> = std::fs::read_dir(staging)?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name != WORKER && !name.contains("gpu"))
        .collect();
    names.sort();
    // The version covers every file of the build (the WebGPU module and the demo sets too, which
    // the worker keeps once fetched), so any change to any of them installs a new version.
    let mut digest = Sha256::new();
    let mut everything = Vec::new();
    let mut folders = vec![staging.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)?.filter_map(|e| e.ok()) {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path.file_name().is_some_and(|n| n != WORKER) {
                everything.push(path);
            }
        }
    }
    everything.sort();
    for path in &everything {
        digest.update(
            path.strip_prefix(staging)
                .unwrap_or(path)
                .to_string_lossy()
                .as_bytes(),
        );
        digest.update(std::fs::read(path)?);
    }
    let version: String = digest.finalize()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut assets = vec!["./".to_string()];
    assets.extend(names.iter().map(|name| format!("./{name}")));
    let path = staging.join(WORKER);
    let template =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let filled = template
        .replacen(
            "const VERSION = 'unbuilt';",
            &format!("const VERSION = '{version}';"),
            1,
        )
        .replacen(
            "const ASSETS = [];",
            &format!("const ASSETS = {};", serde_json::to_string(&assets)?),
            1,
        );
    if filled == template {
        bail!(
            "{} has no VERSION / ASSETS lines to fill in",
            path.display()
        );
    }
    std::fs::write(&path, filled)?;
    eprintln!(
        "service worker version {version}: {} files kept for offline use",
        assets.len()
    );
    Ok(())
}

/// Build the app (dev, or `--release`), then time it against TensorFlow.js (tests/bench).
fn bench(args: &[String], data: &Path) -> Result<()> {
    web_tools()?;
    browser_prerequisites()?;
    build_app(args.iter().any(|a| a == "--release"), true)?;
    if !Path::new("tests/bench/node_modules/@tensorflow/tfjs").exists() {
        let mut npm = command("npm", &["ci", "--no-audit", "--no-fund"]);
        npm.current_dir("tests/bench");
        run_command(npm)?;
    }
    let mnist = std::fs::canonicalize(data.join("mnist")).unwrap_or_else(|_| data.join("mnist"));
    let photo = std::fs::canonicalize(bench_photo()?)?;
    let mut node_args = vec![
        "bench.mjs".to_string(),
        "../../dist".into(),
        mnist.to_string_lossy().into_owned(),
        "--photo".into(),
        photo.to_string_lossy().into_owned(),
    ];
    node_args.extend(args.iter().filter(|a| *a != "--release").cloned());
    let node_args: Vec<&str> = node_args.iter().map(String::as_str).collect();
    let mut node = command("node", &node_args);
    node.current_dir("tests/bench");
    run_command(node)
}

fn bench_colour(args: &[String]) -> Result<()> {
    let patches = Path::new("target/photo-demo/clean");
    if !patches.exists() {
        bail!(
            "{} is missing: run `cargo xtask photo-demo` first",
            patches.display()
        );
    }
    web_tools()?;
    browser_prerequisites()?;
    build_app(args.iter().any(|a| a == "--release"), false)?;
    let mut node_args = vec![
        "colour.mjs".to_string(),
        "../../dist".into(),
        std::fs::canonicalize(patches)?
            .to_string_lossy()
            .into_owned(),
    ];
    node_args.extend(args.iter().filter(|a| *a != "--release").cloned());
    let node_args: Vec<&str> = node_args.iter().map(String::as_str).collect();
    let mut node = command("node", &node_args);
    node.current_dir("tests/bench");
    run_command(node)
}

/// The decoding benchmark's photograph: `coffee.png` (600×400, CC0, Rachel Michetti) from
/// scikit-image's wheel on PyPI, fetched into `target/photos` once.
fn bench_photo() -> Result<PathBuf> {
    let dir = Path::new("target/photos");
    let photo = dir.join("coffee.png");
    if !photo.exists() {
        photo_demo::scikit_image_photos(dir, &["coffee.png"])?;
    }
    Ok(photo)
}

/// A Python with PyTorch for the training benchmark: `target/bench-venv`, created and filled
/// from PyPI (`torch`, `numpy`; about 1 GB with PyTorch's CUDA libraries) when missing.
pub(crate) fn torch_python() -> Result<PathBuf> {
    let venv = Path::new("target/bench-venv");
    let python = venv.join("bin/python");
    let has_torch = |python: &Path| {
        Command::new(python)
            .args(["-c", "import torch, numpy"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !has_torch(&python) {
        eprintln!("installing PyTorch (CPU use only) into {}", venv.display());
        run("python3", &["-m", "venv", &venv.to_string_lossy()])?;
        run(
            &venv.join("bin/pip").to_string_lossy(),
            &["install", "--quiet", "torch", "numpy"],
        )?;
    }
    Ok(python)
}

/// Native training throughput: `driftglass train` (burn, CPU) against PyTorch on the CPU, same
/// model, optimizer, loss, noise, batch and images; images/s of each epoch's training part and
/// the ratio of the last epochs (the first includes warm-up).
fn bench_train(args: &[String], data: &Path) -> Result<()> {
    let limit = option_value(args, "--limit").unwrap_or_else(|| "6000".into());
    let epochs = option_value(args, "--epochs").unwrap_or_else(|| "2".into());
    let batch = option_value(args, "--batch-size").unwrap_or_else(|| "128".into());
    // Both sides on the same threads: every core unless `--threads N`.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = option_value(args, "--threads").unwrap_or_else(|| cores.to_string());
    let python = torch_python()?;
    build_cli()?;
    let model = std::env::temp_dir().join("driftglass-bench-train.dgm");
    let data_arg = data.to_string_lossy().into_owned();
    // Images per second of each epoch of `driftglass train --engine <engine>`.
    let ours = |engine: &str| -> Result<Vec<f64>> {
        let train = command(
            "target/debug/driftglass",
            &[
                "--threads",
                &threads,
                "train",
                "--data",
                &data_arg,
                "--limit",
                &limit,
                "--test-limit",
                "500",
                "--epochs",
                &epochs,
                "--batch-size",
                &batch,
                "--engine",
                engine,
                "-o",
                &model.to_string_lossy(),
            ],
        );
        let output = captured(train, "driftglass train")?;
        // "epoch  2: train loss 0.2563, validation loss 0.2101, 9 s, 650 images/s"
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&output.stderr).lines())
            .filter(|l| l.trim_start().starts_with("epoch"))
            .filter_map(|l| {
                l.split(", ")
                    .last()?
                    .strip_suffix(" images/s")?
                    .parse()
                    .ok()
            })
            .collect())
    };
    let direct_rates = ours("direct")?;
    let burn_rates = ours("burn")?;
    let mnist = data.join("mnist");
    let mut peer = Command::new(&python);
    peer.args([
        "tests/bench/train_peer.py",
        "--mnist",
        &mnist.to_string_lossy(),
        "--limit",
        &limit,
        "--epochs",
        &epochs,
        "--batch-size",
        &batch,
        "--threads",
        &threads,
    ]);
    let peer = captured(peer, "the PyTorch peer (tests/bench/train_peer.py)")?;
    let peer_lines: Vec<serde_json::Value> = String::from_utf8_lossy(&peer.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let peer_rates: Vec<f64> = peer_lines
        .iter()
        .filter_map(|v| v["images_per_second"].as_f64())
        .collect();
    let torch = peer_lines
        .first()
        .map(|v| {
            format!(
                "PyTorch {} ({} threads)",
                v["torch"].as_str().unwrap_or("?"),
                v["threads"]
            )
        })
        .unwrap_or_else(|| "PyTorch".into());
    println!(
        "\ntraining throughput, {limit} MNIST training images, batch {batch}, Adadelta, BCE, noise 0.5, {threads} threads of {cores} cores"
    );
    println!("{:<44}{:<8}images/s (training part)", "engine", "epoch");
    for (name, rates) in [
        ("driftglass train (direct kernels, CPU)", &direct_rates),
        ("driftglass train --engine burn (autodiff)", &burn_rates),
        (torch.as_str(), &peer_rates),
    ] {
        for (epoch, rate) in rates.iter().enumerate() {
            println!("{name:<44}{:<8}{rate:.0}", epoch + 1);
        }
    }
    match (direct_rates.last(), burn_rates.last(), peer_rates.last()) {
        (Some(direct), Some(burn), Some(peer)) => println!(
            "last epoch: ours / PyTorch = {:.2}× (burn's autodiff: {:.2}×)",
            direct / peer,
            burn / peer
        ),
        _ => bail!(
            "no epoch figures (ours: {direct_rates:?}, burn: {burn_rates:?}, PyTorch: {peer_rates:?})"
        ),
    }
    Ok(())
}

/// `trunk build` of the app into dist/: the dev build the tests use, or the release build.
/// Build the app into dist/ (the release profile `web` with `release`). `hooks`: with the page's
/// benchmark and test exports (the web crate's default feature `hooks`); the product that
/// visitors get (`dist`, `serve --release`, `bench-load`) leaves them out.
fn build_app(release: bool, hooks: bool) -> Result<()> {
    trunk(&["build", "--dist", "dist"], release, hooks)
}

/// Run trunk with `args`, in the release profile (`web`) or the dev one, with or without the
/// page's benchmark and test hooks (the web crate's default feature).
fn trunk(args: &[&str], release: bool, hooks: bool) -> Result<()> {
    let mut args = args.to_vec();
    if release {
        args.extend(["--release", "--cargo-profile", "web"]);
    }
    if !hooks {
        args.push("--no-default-features");
    }
    let mut trunk = command("trunk", &args);
    trunk.env("PATH", path_with_tools());
    run_command(trunk)
}

/// The soak benchmark (tests/e2e/soak.mjs) on a dev build of the app (or `--release`).
fn soak(args: &[String], data: &Path) -> Result<()> {
    let count = option_value(args, "--count").unwrap_or_else(|| "10000".into());
    let path = if args.iter().any(|a| a == "--webgpu") {
        "webgpu"
    } else {
        "cpu"
    };
    web_tools()?;
    browser_prerequisites()?;
    build_app(args.iter().any(|a| a == "--release"), true)?;
    build_cli()?;
    let mut soak = command(
        "node",
        &[
            "soak.mjs",
            "../../dist",
            "../../target/debug/driftglass",
            &count,
            path,
        ],
    );
    // The CLI runs in tests/e2e: give it the data directory as an absolute path.
    let data = std::fs::canonicalize(data).unwrap_or_else(|_| data.to_path_buf());
    soak.current_dir("tests/e2e").env("DRIFTGLASS_DATA", data);
    run_command(soak)
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
            "crates/driftglass-core/assets/mnist-ae.dgm",
        ],
    )
}
