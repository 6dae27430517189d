//! A small seeded random number generator (xoshiro256++ seeded by SplitMix64).
//!
//! Training noise and shuffling are drawn here on the host, not by a backend's RNG, so a seed
//! gives the same run on every backend and platform.

/// Deterministic pseudo-random numbers.
#[derive(Debug, Clone)]
pub struct SeededRng {
    state: [u64; 4],
    spare_normal: Option<f64>,
}

impl SeededRng {
    /// A generator fully determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        SeededRng {
            state: [next(), next(), next(), next()],
            spare_normal: None,
        }
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.state;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in `0..bound` (`bound > 0`), without modulo bias.
    pub fn below(&mut self, bound: usize) -> usize {
        let bound = bound as u64;
        let zone = u64::MAX - (u64::MAX % bound);
        loop {
            let value = self.next_u64();
            if value < zone {
                return (value % bound) as usize;
            }
        }
    }

    /// Standard normal (Box–Muller, both values used).
    pub fn normal(&mut self) -> f64 {
        if let Some(value) = self.spare_normal.take() {
            return value;
        }
        let u1 = self.uniform().max(f64::MIN_POSITIVE);
        let u2 = self.uniform();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = 2.0 * std::f64::consts::PI * u2;
        self.spare_normal = Some(radius * angle.sin());
        radius * angle.cos()
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }

    /// Move a uniformly random choice of `count` items (without replacement, in random order)
    /// to the front of `items` (a partial Fisher–Yates shuffle: `O(count)`). Returns them.
    pub fn choose_front<'a, T>(&mut self, items: &'a mut [T], count: usize) -> &'a [T] {
        let count = count.min(items.len());
        for i in 0..count {
            let j = i + self.below(items.len() - i);
            items.swap(i, j);
        }
        &items[..count]
    }
}

/// The reference's corruption: `clip(x + factor · N(0, 1), 0, 1)`, in place.
pub fn add_gaussian_noise(pixels: &mut [f32], factor: f64, rng: &mut SeededRng) {
    for value in pixels {
        *value = (*value as f64 + factor * rng.normal()).clamp(0.0, 1.0) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let mut a = SeededRng::new(7);
        let mut b = SeededRng::new(7);
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        assert_ne!(SeededRng::new(8).next_u64(), SeededRng::new(7).next_u64());
    }

    #[test]
    fn normal_has_unit_moments() {
        let mut rng = SeededRng::new(1);
        let n = 200_000;
        let draws: Vec<f64> = (0..n).map(|_| rng.normal()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.01, "{var}");
    }

    #[test]
    fn noise_is_clipped() {
        let mut pixels = vec![0.0f32, 1.0, 0.5];
        add_gaussian_noise(&mut pixels, 5.0, &mut SeededRng::new(3));
        assert!(pixels.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}
