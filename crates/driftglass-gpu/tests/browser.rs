//! The WebGPU module in a real browser (headless Chromium with WebGPU on, through
//! wasm-bindgen-test): scoring and training on WebGPU against the core's CPU kernels on the same
//! weights and images. Run by `cargo xtask test`.
#![cfg(target_arch = "wasm32")]

use driftglass_core::direct::unpack_reconstructions;
use driftglass_core::direct_train::DirectTrainer;
use driftglass_core::loss::LossKind;
use driftglass_core::optim::OptimizerKind;
use driftglass_core::{DirectNetwork, ImageSet, Weights, model_file};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

const DIGITS_64: &[u8] = include_bytes!("../../../tests/fixtures/mnist-test-64.idx");

fn digits() -> ImageSet {
    driftglass_core::idx::parse_images(DIGITS_64.to_vec()).unwrap_or_else(|e| panic!("{e}"))
}

/// WebGPU, or `None` where this browser has none (a failure when the run expects it).
async fn started() -> Option<String> {
    match driftglass_gpu::start().await {
        Ok(adapter) => Some(adapter),
        Err(why) => {
            // `cargo xtask test` builds this with DRIFTGLASS_EXPECT_WEBGPU=1 and runs Chromium
            // with WebGPU on: then a missing adapter is a failure, not a skip.
            assert!(
                option_env!("DRIFTGLASS_EXPECT_WEBGPU") != Some("1"),
                "WebGPU was expected: {why}"
            );
            None
        }
    }
}

#[wasm_bindgen_test]
async fn scores_like_the_cpu_kernels() {
    if started().await.is_none() {
        return;
    }
    let model = model_file::decode(driftglass_core::bundled::BUNDLED_MODEL)
        .unwrap_or_else(|e| panic!("{e}"));
    let set = digits().take(16);
    driftglass_gpu::load(&model.weights.to_packed()).unwrap_or_else(|e| panic!("{e}"));
    let packed = driftglass_gpu::score(set.pixels.clone(), set.count, set.side)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let on_gpu = unpack_reconstructions(&packed, set.image_len()).unwrap_or_else(|e| panic!("{e}"));
    let network = DirectNetwork::new(&model.weights).unwrap_or_else(|e| panic!("{e}"));
    let on_cpu =
        driftglass_core::reconstruct(&network, &set, 16, |_| {}).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(on_gpu.len(), 16);
    for (g, c) in on_gpu.iter().zip(&on_cpu) {
        assert!(
            (g.bce - c.bce).abs() < 1e-4,
            "WebGPU {} vs CPU {}",
            g.bce,
            c.bce
        );
        for (x, y) in g.latent.iter().zip(&c.latent) {
            assert!((x - y).abs() < 1e-3 * y.abs().max(1.0), "latent {x} vs {y}");
        }
    }
    // Images of another size are refused, not misread.
    assert!(
        driftglass_gpu::score(vec![0.0; 2 * 64 * 64], 2, 64)
            .await
            .is_err()
    );
}

#[wasm_bindgen_test]
async fn trains_like_the_cpu_trainer() {
    if started().await.is_none() {
        return;
    }
    let set = digits();
    let (inputs, targets) = (&set.pixels[..16 * 784], &set.pixels[16 * 784..32 * 784]);
    let start = Weights::init_seeded(driftglass_core::AutoencoderConfig::new(), 3)
        .unwrap_or_else(|e| panic!("{e}"));
    driftglass_gpu::train_start(&start.to_packed(), "bce", "adadelta")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut cpu = DirectTrainer::new(&start, LossKind::Bce, OptimizerKind::Adadelta)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut losses = Vec::new();
    for _ in 0..3 {
        let on_gpu = driftglass_gpu::train_step(inputs.to_vec(), targets.to_vec(), 16, 1.0)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let on_cpu = cpu.step(inputs, targets, 1.0);
        assert!(
            (on_gpu - on_cpu).abs() < 1e-4 * on_cpu,
            "step loss: WebGPU {on_gpu} vs CPU {on_cpu}"
        );
        losses.push(on_gpu);
    }
    assert!(losses[2] < losses[0], "loss did not fall: {losses:?}");
    let trained = driftglass_gpu::train_weights()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let trained = Weights::from_packed(&trained).unwrap_or_else(|e| panic!("{e}"));
    let ours = cpu.weights().unwrap_or_else(|e| panic!("{e}"));
    for (a, b) in trained.layers().iter().zip(ours.layers()) {
        for (x, y) in a.kernel.iter().zip(&b.kernel) {
            assert!((x - y).abs() < 1e-4, "weights after 3 steps: {x} vs {y}");
        }
    }
    let packed = driftglass_gpu::train_reconstruct(inputs.to_vec(), targets.to_vec(), 16, 28)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        unpack_reconstructions(&packed, 784)
            .unwrap_or_else(|e| panic!("{e}"))
            .len(),
        16
    );
}
