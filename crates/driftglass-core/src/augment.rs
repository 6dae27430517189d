//! Augmentation: random transformations of the reference images, to choose which changes count
//! as drift. A model trained, calibrated and fitted on rotated images learns that rotations are
//! part of the reference, so a rotated batch stops being drift.
//!
//! Each image is transformed by a random affine map about its centre (rotation, scale, shift;
//! bilinear sampling, edges clamped; a shift alone moves by whole pixels, without blur) and then by a brightness gain and, for colour images, a
//! gain per channel; values are clipped to [0, 1]. Every range is symmetric about "unchanged",
//! and every draw comes from the caller's seeded generator, so a seed gives the same run.

use serde::{Deserialize, Serialize};

use crate::rng::SeededRng;

/// The ranges of the random transformations (all zero: none).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Augmentation {
    /// Largest rotation, in degrees, either way.
    #[serde(default)]
    pub rotation: f64,
    /// Largest shift, as a share of the side, in each direction.
    #[serde(default)]
    pub shift: f64,
    /// Largest change of scale, as a share (0.1: 90 % to 110 %).
    #[serde(default)]
    pub scale: f64,
    /// Largest change of brightness, as a share of each value.
    #[serde(default)]
    pub brightness: f64,
    /// Largest change of each colour channel's gain (colour images only).
    #[serde(default)]
    pub colour: f64,
    /// Largest standard deviation of Gaussian noise added to every value (each image's drawn
    /// uniformly up to it), as the evaluation's "noise" sets add it.
    #[serde(default)]
    pub noise: f64,
}

/// Why a set of ranges is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AugmentError {
    #[error("augmentation {name} must be between 0 and {most}, got {value}")]
    OutOfRange {
        name: &'static str,
        value: f64,
        most: f64,
    },
}

impl Augmentation {
    /// Whether it changes nothing.
    pub fn is_none(&self) -> bool {
        *self == Augmentation::default()
    }

    /// Whether it leaves the differences between neighbouring values as they are: nothing, or
    /// a shift alone (by whole pixels). Rotation and scale resample, brightness and colour
    /// scale the differences, noise adds its own.
    pub fn keeps_edges(&self) -> bool {
        Augmentation {
            shift: 0.0,
            ..*self
        }
        .is_none()
    }

    /// Check every range (rotation up to 180°, shift up to half the side, scale, brightness and
    /// colour up to 0.9, noise up to 1).
    pub fn validate(&self) -> Result<(), AugmentError> {
        for (name, value, most) in [
            ("rotation", self.rotation, 180.0),
            ("shift", self.shift, 0.5),
            ("scale", self.scale, 0.9),
            ("brightness", self.brightness, 0.9),
            ("colour", self.colour, 0.9),
            ("noise", self.noise, 1.0),
        ] {
            if !(0.0..=most).contains(&value) {
                return Err(AugmentError::OutOfRange { name, value, most });
            }
        }
        Ok(())
    }

    fn symmetric(rng: &mut SeededRng, range: f64) -> f64 {
        if range > 0.0 {
            (2.0 * rng.uniform() - 1.0) * range
        } else {
            0.0
        }
    }

    /// Transform one image (`channels · side²` values, channels first) in place. Draws only
    /// for the ranges that are set, in a fixed order (noise last), so adding noise to a run
    /// leaves its other draws as they were.
    pub fn apply(&self, image: &mut [f32], channels: usize, side: usize, rng: &mut SeededRng) {
        let angle = Self::symmetric(rng, self.rotation).to_radians();
        let scale = 1.0 + Self::symmetric(rng, self.scale);
        let mut shift_x = Self::symmetric(rng, self.shift) * side as f64;
        let mut shift_y = Self::symmetric(rng, self.shift) * side as f64;
        // A shift alone moves by whole pixels: a fractional one would blur every image by
        // interpolation, and the reference would then hold blur, which the user did not ask
        // for (a blurred batch would stop looking worse than it).
        if angle == 0.0 && scale == 1.0 {
            (shift_x, shift_y) = (shift_x.round(), shift_y.round());
        }
        let brightness = 1.0 + Self::symmetric(rng, self.brightness);
        let gains: Vec<f64> = (0..3)
            .map(|_| 1.0 + Self::symmetric(rng, self.colour))
            .collect();
        let plane = side * side;
        if self.is_none() || image.len() != channels * plane || side == 0 {
            return;
        }
        let geometric = angle != 0.0 || scale != 1.0 || shift_x != 0.0 || shift_y != 0.0;
        let source = image.to_vec();
        let centre = (side as f64 - 1.0) / 2.0;
        let (sin, cos) = angle.sin_cos();
        let last = (side - 1) as f64;
        for ch in 0..channels {
            let from = &source[ch * plane..(ch + 1) * plane];
            let gain = brightness * if channels == 3 { gains[ch] } else { 1.0 };
            for y in 0..side {
                for x in 0..side {
                    let value = if geometric {
                        // The output pixel's place in the source: the inverse map.
                        let (dx, dy) = (x as f64 - centre - shift_x, y as f64 - centre - shift_y);
                        let sx = ((cos * dx + sin * dy) / scale + centre).clamp(0.0, last);
                        let sy = ((-sin * dx + cos * dy) / scale + centre).clamp(0.0, last);
                        let (x0, y0) = (sx.floor() as usize, sy.floor() as usize);
                        let (x1, y1) = ((x0 + 1).min(side - 1), (y0 + 1).min(side - 1));
                        let (tx, ty) = (sx - x0 as f64, sy - y0 as f64);
                        let at = |xx: usize, yy: usize| f64::from(from[yy * side + xx]);
                        (at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx) * (1.0 - ty)
                            + (at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx) * ty
                    } else {
                        f64::from(from[y * side + x])
                    };
                    image[ch * plane + y * side + x] = (value * gain).clamp(0.0, 1.0) as f32;
                }
            }
        }
        if self.noise > 0.0 {
            let sd = rng.uniform() * self.noise;
            for value in image.iter_mut() {
                *value = (f64::from(*value) + sd * rng.normal()).clamp(0.0, 1.0) as f32;
            }
        }
    }

    /// A copy of `set` with each image transformed once (seeded): the calibration images of an
    /// augmented model, so that its baseline holds transformed images too.
    pub fn apply_to_set(&self, set: &crate::ImageSet, seed: u64) -> crate::ImageSet {
        let mut out = set.clone();
        if self.is_none() {
            return out;
        }
        let mut rng = SeededRng::new(seed);
        let len = set.channels * set.side * set.side;
        for image in out.pixels.chunks_exact_mut(len) {
            self.apply(image, set.channels, set.side, &mut rng);
        }
        out
    }
}

/// The ranges in words, e.g. "rotation ±20°, shift ±10 %" ("none" where there are none).
impl std::fmt::Display for Augmentation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts = Vec::new();
        if self.rotation > 0.0 {
            parts.push(format!("rotation ±{}°", self.rotation));
        }
        for (name, value) in [
            ("shift", self.shift),
            ("scale", self.scale),
            ("brightness", self.brightness),
            ("colour", self.colour),
        ] {
            if value > 0.0 {
                parts.push(format!("{name} ±{} %", (value * 1000.0).round() / 10.0));
            }
        }
        if self.noise > 0.0 {
            parts.push(format!("noise sd up to {}", self.noise));
        }
        if parts.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(side: usize) -> Vec<f32> {
        // A vertical bar two pixels wide in the middle.
        (0..side * side)
            .map(|i| {
                if (side / 2 - 1..=side / 2).contains(&(i % side)) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect()
    }

    #[test]
    fn only_a_shift_keeps_edges() {
        assert!(Augmentation::default().keeps_edges());
        let shift = Augmentation {
            shift: 0.15,
            ..Augmentation::default()
        };
        assert!(shift.keeps_edges());
        for changed in [
            Augmentation {
                rotation: 10.0,
                ..shift
            },
            Augmentation {
                scale: 0.1,
                ..Augmentation::default()
            },
            Augmentation {
                brightness: 0.1,
                ..Augmentation::default()
            },
            Augmentation {
                colour: 0.1,
                ..Augmentation::default()
            },
            Augmentation {
                noise: 0.1,
                ..Augmentation::default()
            },
        ] {
            assert!(!changed.keeps_edges(), "{changed:?}");
        }
    }

    #[test]
    fn none_changes_nothing_and_ranges_are_checked() {
        let mut image = bar(8);
        let before = image.clone();
        Augmentation::default().apply(&mut image, 1, 8, &mut SeededRng::new(1));
        assert_eq!(image, before);
        assert!(Augmentation::default().validate().is_ok());
        let bad = Augmentation {
            rotation: 200.0,
            ..Augmentation::default()
        };
        assert!(bad.validate().is_err());
        let negative = Augmentation {
            brightness: -0.1,
            ..Augmentation::default()
        };
        assert!(negative.validate().is_err());
        assert_eq!(Augmentation::default().to_string(), "none");
        let some = Augmentation {
            rotation: 20.0,
            shift: 0.15,
            ..Augmentation::default()
        };
        assert_eq!(some.to_string(), "rotation ±20°, shift ±15 %");
        let noisy = Augmentation {
            noise: 0.5,
            ..Augmentation::default()
        };
        assert_eq!(noisy.to_string(), "noise sd up to 0.5");
        assert!(
            Augmentation {
                noise: 1.5,
                ..Augmentation::default()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn a_quarter_turn_makes_a_vertical_bar_horizontal() {
        let side = 8;
        let mut image = bar(side);
        // Rotation drawn uniformly in ±90°: find a seed whose draw is close to a full quarter.
        let augmentation = Augmentation {
            rotation: 90.0,
            ..Augmentation::default()
        };
        let seed = (0..1000)
            .find(|s| SeededRng::new(*s).uniform() > 0.999)
            .unwrap_or_else(|| panic!("no seed"));
        augmentation.apply(&mut image, 1, side, &mut SeededRng::new(seed));
        let row_sum = |y: usize| image[y * side..(y + 1) * side].iter().sum::<f32>();
        // Mass moved from the middle columns to the middle rows: the top row, two bar pixels
        // before, is empty.
        assert!(row_sum(side / 2) > 6.0, "{image:?}");
        assert!(row_sum(0) < 0.5, "{image:?}");
    }

    #[test]
    fn shifts_move_mass_and_gains_scale_and_clip() {
        let side = 8;
        let mut image = bar(side);
        let shift = Augmentation {
            shift: 0.25,
            ..Augmentation::default()
        };
        shift.apply(&mut image, 1, side, &mut SeededRng::new(3));
        assert_ne!(image, bar(side));
        // By whole pixels: the bar moves without blurring, its values still 0 or 1.
        assert!(image.iter().all(|v| *v == 0.0 || *v == 1.0), "{image:?}");
        assert!((image.iter().sum::<f32>() - bar(side).iter().sum::<f32>()).abs() < 1e-6);
        // Brightness up to ±50 % on a half-gray colour image: every channel moves together,
        // values stay in [0, 1].
        let mut colour = vec![0.5f32; 3 * 16];
        let brighter = Augmentation {
            brightness: 0.5,
            ..Augmentation::default()
        };
        brighter.apply(&mut colour, 3, 4, &mut SeededRng::new(5));
        assert!(colour.iter().all(|v| (0.0..=1.0).contains(v)));
        assert!(colour.windows(2).all(|w| w[0] == w[1]), "{colour:?}");
        assert_ne!(colour[0], 0.5);
        // Colour jitter: channels move apart.
        let mut colour = vec![0.5f32; 3 * 16];
        let jitter = Augmentation {
            colour: 0.3,
            ..Augmentation::default()
        };
        jitter.apply(&mut colour, 3, 4, &mut SeededRng::new(5));
        assert!(colour[0] != colour[16] || colour[16] != colour[32]);
        // Noise: values scatter about where they were and stay in [0, 1]; with other ranges
        // set too, it comes after their draws and changes none of them.
        let noise = Augmentation {
            noise: 0.3,
            ..Augmentation::default()
        };
        let mut gray = vec![0.5f32; 64];
        noise.apply(&mut gray, 1, 8, &mut SeededRng::new(8));
        let mean = gray.iter().sum::<f32>() / 64.0;
        assert!(
            (mean - 0.5).abs() < 0.1 && gray.iter().any(|v| *v != 0.5),
            "{gray:?}"
        );
        assert!(gray.iter().all(|v| (0.0..=1.0).contains(v)));
        let (mut plain, mut noisy) = (bar(8), bar(8));
        let mut rng = SeededRng::new(4);
        shift.apply(&mut plain, 1, 8, &mut rng);
        let after_plain = rng.uniform();
        let mut rng = SeededRng::new(4);
        let both = Augmentation {
            noise: 0.3,
            ..shift
        };
        both.apply(&mut noisy, 1, 8, &mut rng);
        let moved_same = plain
            .iter()
            .zip(&noisy)
            .filter(|(a, _)| **a == 1.0)
            .all(|(_, b)| *b > 0.0);
        assert!(moved_same, "{plain:?} {noisy:?}");
        assert_ne!(after_plain, rng.uniform());
    }

    #[test]
    fn sets_are_transformed_once_per_image_and_seeded() {
        let set = crate::ImageSet::from_images(1, 8, [bar(8), bar(8)].iter().map(Vec::as_slice));
        let rotation = Augmentation {
            rotation: 45.0,
            ..Augmentation::default()
        };
        let a = rotation.apply_to_set(&set, 9);
        assert_eq!(a, rotation.apply_to_set(&set, 9));
        assert_ne!(a.image(0), a.image(1));
        assert_eq!(Augmentation::default().apply_to_set(&set, 9), set);
    }
}
