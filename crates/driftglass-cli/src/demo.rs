//! `driftglass demo-sets`: the small sets behind the web app's one-click demos, written as IDX
//! files into `web/demo/` (a few hundred images each, fetched by the page only when clicked).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use driftglass_core::idx::{ImageSet, encode_images};
use driftglass_core::rng::{SeededRng, add_gaussian_noise};

use crate::{data, letters};

#[derive(Args, Debug)]
pub struct DemoSetsArgs {
    /// Data directory holding `mnist/` and `fashion-mnist/`.
    #[arg(long, default_value_os_t = crate::default_data_dir())]
    pub data: PathBuf,
    /// Folder of fonts for the notMNIST-style letters.
    #[arg(long, default_value = "/usr/share/fonts/truetype/aenigma")]
    pub fonts: PathBuf,
    /// Folder to write `mnist.idx`, `noisy.idx`, `letters.idx` and `fashion.idx` into.
    #[arg(long, short, default_value = "web/demo")]
    pub output: PathBuf,
    /// Images per set.
    #[arg(long, default_value_t = 200)]
    pub count: usize,
    /// Seed for the choice of images and the noise.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

#[derive(Args, Debug)]
pub struct TestFixturesArgs {
    /// Data directory holding `mnist/`.
    #[arg(long, default_value_os_t = crate::default_data_dir())]
    pub data: PathBuf,
    /// Folder to write the fixtures into.
    #[arg(long, short, default_value = "tests/fixtures")]
    pub output: PathBuf,
}

#[derive(Args, Debug)]
pub struct ExportPngsArgs {
    /// Data directory holding `mnist/`.
    #[arg(long, default_value_os_t = crate::default_data_dir())]
    pub data: PathBuf,
    /// How many MNIST digits to write (more than the set holds repeat them).
    #[arg(long, default_value_t = 10_000)]
    pub count: usize,
    /// Which MNIST set to take them from: `test` (the soak benchmark) or `train` (reference
    /// images for the browser's training test).
    #[arg(long, default_value = "test")]
    pub set: String,
    /// Folder to write `digit-00000.png`, ... into (created).
    #[arg(long, short)]
    pub output: PathBuf,
}

/// MNIST digits as PNG files, for the browser soak benchmark and the training test.
pub fn export_pngs(args: ExportPngsArgs) -> Result<()> {
    let stem = match args.set.as_str() {
        "test" => "t10k-images-idx3-ubyte",
        "train" => "train-images-idx3-ubyte",
        other => anyhow::bail!("--set must be `test` or `train`, not `{other}`"),
    };
    let images = data::images(&data::mnist_dir(&args.data), stem)?;
    if images.count == 0 {
        anyhow::bail!("the MNIST {} set holds no images", args.set);
    }
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    for index in 0..args.count {
        let path = args.output.join(format!("digit-{index:05}.png"));
        data::save_gray_png(&path, images.image(index % images.count))?;
    }
    eprintln!(
        "wrote {} PNG files to {}",
        args.count,
        args.output.display()
    );
    Ok(())
}

/// The committed test inputs: MNIST test digits as PNGs (`mnist-sample/`, and 100 more in
/// `drop-100/` for the browser's timing), 64 digits as IDX, and `mixed/`: four digits among a
/// text file, an empty file and a truncated PNG.
pub fn test_fixtures(args: TestFixturesArgs) -> Result<()> {
    let images = data::images(&data::mnist_dir(&args.data), "t10k-images-idx3-ubyte")?;
    let save_png = |index: usize, path: &Path| data::save_gray_png(path, images.image(index));
    let good = args.output.join("mnist-sample");
    std::fs::create_dir_all(&good)?;
    for index in 0..12 {
        save_png(index, &good.join(format!("mnist-test-{index:02}.png")))?;
    }
    let hundred = args.output.join("drop-100");
    std::fs::create_dir_all(&hundred)?;
    for index in 100..200 {
        save_png(index, &hundred.join(format!("mnist-test-{index:03}.png")))?;
    }
    write(&args.output, "mnist-test-64.idx", &images.take(64))?;
    let mixed = args.output.join("mixed");
    std::fs::create_dir_all(&mixed)?;
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
    eprintln!("wrote {}", args.output.display());
    Ok(())
}

/// `count` images of `set`, chosen at random without replacement (seeded), in random order.
fn sample(set: &ImageSet, count: usize, rng: &mut SeededRng) -> ImageSet {
    let mut order: Vec<usize> = (0..set.count).collect();
    rng.shuffle(&mut order);
    ImageSet::from_images(
        set.channels,
        set.side,
        order.iter().take(count).map(|i| set.image(*i)),
    )
}

fn write(dir: &Path, name: &str, set: &ImageSet) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, encode_images(set))
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {} images to {}", set.count, path.display());
    Ok(())
}

pub fn run(args: DemoSetsArgs) -> Result<()> {
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let mut rng = SeededRng::new(args.seed);
    let mnist = data::images(&data::mnist_dir(&args.data), "t10k-images-idx3-ubyte")?;
    let digits = sample(&mnist, args.count, &mut rng);
    write(&args.output, "mnist.idx", &digits)?;
    // The same digits with the reference's Gaussian noise (factor 0.5, clipped to [0, 1]).
    let mut noisy = digits.clone();
    add_gaussian_noise(&mut noisy.pixels, 0.5, &mut rng);
    write(&args.output, "noisy.idx", &noisy)?;
    let (all_letters, _, _) = letters::render_all(&args.fonts, None)?;
    write(
        &args.output,
        "letters.idx",
        &sample(&all_letters, args.count, &mut rng),
    )?;
    let fashion = data::images(&args.data.join("fashion-mnist"), "t10k-images-idx3-ubyte")?;
    write(
        &args.output,
        "fashion.idx",
        &sample(&fashion, args.count, &mut rng),
    )?;
    // The lesson's training step: the first MNIST training digits, gzip-compressed (fetched
    // only when that step runs).
    let training = data::images(&data::mnist_dir(&args.data), "train-images-idx3-ubyte")?;
    let path = args.output.join(LESSON_TRAINING_FILE);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&encode_images(&training.take(LESSON_TRAINING_DIGITS)))?;
    std::fs::write(&path, gz.finish()?).with_context(|| format!("writing {}", path.display()))?;
    eprintln!(
        "wrote {LESSON_TRAINING_DIGITS} training digits to {}",
        path.display()
    );
    Ok(())
}

/// The lesson's training digits (see `driftglass-web`'s lesson).
const LESSON_TRAINING_FILE: &str = "train-2000.idx.gz";
const LESSON_TRAINING_DIGITS: usize = 2_000;
