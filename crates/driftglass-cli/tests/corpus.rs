//! The bad-input corpus (`tests/corpus`): every file gets the outcome its row in
//! `tests/corpus/expected.tsv` names: scored, or failed with a message that starts as written.
//! Two inputs are made here rather than committed: a 200 MB file (sparse) and an empty folder.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn corpus() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

/// The committed files plus the generated ones, in a fresh folder.
fn corpus_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("no temp dir: {e}"));
    let files = corpus().join("files");
    for entry in std::fs::read_dir(&files).unwrap_or_else(|e| panic!("{}: {e}", files.display())) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        let target = dir.path().join(path.file_name().unwrap_or_default());
        std::fs::copy(&path, &target).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
    let huge =
        std::fs::File::create(dir.path().join("huge-200MB.png")).unwrap_or_else(|e| panic!("{e}"));
    huge.set_len(200 * 1024 * 1024)
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir(dir.path().join("empty-folder")).unwrap_or_else(|e| panic!("{e}"));
    dir
}

struct Expected {
    name: String,
    scored: bool,
    message: String,
}

fn expected() -> Vec<Expected> {
    let path = corpus().join("expected.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next().unwrap_or_default().to_string();
            let outcome = fields.next().unwrap_or_default();
            assert!(
                outcome == "scored" || outcome == "failed",
                "bad outcome in expected.tsv: {line}"
            );
            Expected {
                name,
                scored: outcome == "scored",
                message: fields.next().unwrap_or_default().to_string(),
            }
        })
        .collect()
}

fn score(folder: &Path, extra: &[&str]) -> (i32, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_driftglass"))
        .args(["score", "--json"])
        .args(extra)
        .arg(folder)
        .output()
        .unwrap_or_else(|e| panic!("cannot start driftglass: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no JSON report ({e}); stderr: {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output.status.code().unwrap_or(-1), report)
}

#[test]
fn every_corpus_file_gets_its_expected_outcome_and_the_batch_goes_on() {
    let folder = corpus_folder();
    let (code, report) = score(folder.path(), &["--recursive"]);
    assert_eq!(code, 3, "some inputs failed: the exit status says so");
    let images = report["images"].as_array().cloned().unwrap_or_default();
    let expected = expected();
    assert!(
        expected.len() >= 40,
        "the corpus has {} rows",
        expected.len()
    );
    let base = |name: &str| {
        Path::new(name)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    // Nothing is lost: one outcome per corpus entry, no more, no fewer.
    assert_eq!(images.len(), expected.len(), "{report}");
    for want in &expected {
        let image = images
            .iter()
            .find(|i| base(i["name"].as_str().unwrap_or_default()) == want.name)
            .unwrap_or_else(|| panic!("{} has no outcome", want.name));
        if want.scored {
            assert_eq!(image["status"], "scored", "{}: {image}", want.name);
            let loss = image["loss"].as_f64().unwrap_or(f64::NAN);
            assert!(loss.is_finite() && loss >= 0.0, "{}: {image}", want.name);
        } else {
            assert_eq!(image["status"], "failed", "{}: {image}", want.name);
            let error = image["error"].as_str().unwrap_or_default();
            assert!(
                error.starts_with(&want.message),
                "{}: \"{error}\" does not start with \"{}\"",
                want.name,
                want.message
            );
            assert!(
                error.len() <= 200,
                "{}: message too long: {error}",
                want.name
            );
            assert!(
                !error.contains('{'),
                "{}: debug output in the message: {error}",
                want.name
            );
        }
    }
    let scored = expected.iter().filter(|e| e.scored).count();
    assert_eq!(report["batch"]["scored"], scored);
    assert_eq!(report["batch"]["failed"], expected.len() - scored);
}

#[test]
fn exif_orientation_is_applied_and_formats_agree() {
    let folder = corpus_folder();
    let (_, report) = score(folder.path(), &[]);
    let loss = |name: &str| {
        report["images"]
            .as_array()
            .and_then(|images| {
                images.iter().find(|i| {
                    i["name"]
                        .as_str()
                        .is_some_and(|n| n.ends_with(&format!("/{name}")))
                })
            })
            .and_then(|i| i["loss"].as_f64())
            .unwrap_or_else(|| panic!("{name} not scored: {report}"))
    };
    // The same 64×64 digit: stored upright, and stored turned with EXIF saying turn it back.
    let upright = loss("grayscale.jpg");
    let turned = loss("exif-rotated.jpg");
    assert!(
        (turned - upright).abs() < 0.05 * upright,
        "{turned} vs {upright}"
    );
    // Lossless encodings of one image score the same.
    for name in [
        "palette.png",
        "gray-16-bit.png",
        "interlaced.png",
        "valid-lossless.webp",
    ] {
        assert!((loss(name) - loss("gray-alpha.png")).abs() < 1e-4, "{name}");
    }
    assert!((loss("png-named.jpg") - loss("valid.png")).abs() < 1e-6);
    // Without --recursive a folder inside the folder is reported, not silently skipped.
    let empty = report["images"]
        .as_array()
        .and_then(|images| {
            images.iter().find(|i| {
                i["name"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("empty-folder"))
            })
        })
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(empty["status"], "failed", "{empty}");
}
