//! `driftglass demo-sets`: the small sets behind the web app's one-click demos, written as IDX
//! files into `web/demo/` (a few hundred images each, fetched by the page only when clicked).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use driftglass_model::idx::{ImageSet, encode_images};
use driftglass_model::rng::{SeededRng, add_gaussian_noise};

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

/// `count` images of `set`, chosen at random without replacement (seeded), in random order.
fn sample(set: &ImageSet, count: usize, rng: &mut SeededRng) -> ImageSet {
    let mut order: Vec<usize> = (0..set.count).collect();
    rng.shuffle(&mut order);
    ImageSet::from_images(order.iter().take(count).map(|i| set.image(*i)))
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
    Ok(())
}
