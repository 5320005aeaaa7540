use super::synthetic::{check_n_samples, check_noise, finish, linspace, rng};
use super::tensor_dataset::TensorDataset;
use crate::Result;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Arguments of scikit-learn's `make_moons(n_samples=100, shuffle=True, noise=None,
/// random_state=None)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeMoonsConfig {
    /// Total number of points (default 100); `n_samples // 2` in the outer moon.
    #[serde(default = "hundred")]
    pub n_samples: usize,
    /// Shuffle the points (default `true`).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Standard deviation of the Gaussian noise added to every coordinate (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub noise: Option<f64>,
    /// Seed of the generator (default: derived from the run seed and the split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_state: Option<u64>,
}

pub(crate) fn hundred() -> usize {
    100
}
pub(crate) fn yes() -> bool {
    true
}

impl Default for MakeMoonsConfig {
    fn default() -> Self {
        Self {
            n_samples: 100,
            shuffle: true,
            noise: None,
            random_state: None,
        }
    }
}

impl MakeMoonsConfig {
    /// Two interleaving half circles: class 0 is `(cos t, sin t)`, class 1 is
    /// `(1 − cos t, 0.5 − sin t)`, `t` evenly spaced in `[0, π]`; samples are `[2]`.
    /// `seed`/`split` pick the stream when `random_state` is not set.
    pub fn build(&self, seed: u64, split: u64) -> Result<TensorDataset> {
        check_n_samples(self.n_samples)?;
        check_noise(self.noise)?;
        let n_out = self.n_samples / 2;
        let n_in = self.n_samples - n_out;
        let mut points = Vec::with_capacity(self.n_samples);
        let mut labels = Vec::with_capacity(self.n_samples);
        for t in linspace(0.0, PI, n_out, true) {
            points.push(vec![t.cos(), t.sin()]);
            labels.push(0);
        }
        for t in linspace(0.0, PI, n_in, true) {
            points.push(vec![1.0 - t.cos(), 1.0 - t.sin() - 0.5]);
            labels.push(1);
        }
        let mut rng = rng(self.random_state, seed, split);
        finish(points, labels, 2, self.shuffle, self.noise, &mut rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::synthetic::stats::{mean_std, points};
    use super::*;

    #[test]
    fn points_lie_on_the_two_moons() {
        let ds = MakeMoonsConfig {
            n_samples: 101,
            ..Default::default()
        }
        .build(0, 0)
        .unwrap();
        let p = points(&ds);
        assert_eq!(p.len(), 101);
        assert_eq!(p.iter().filter(|(_, c)| *c == 0).count(), 50);
        for (x, c) in &p {
            let (cx, cy) = if *c == 0 { (0.0, 0.0) } else { (1.0, 0.5) };
            let r = ((x[0] - cx).powi(2) + (x[1] - cy).powi(2)).sqrt();
            assert!((r - 1.0).abs() < 1e-5, "{x:?} {c}");
            assert!(if *c == 0 {
                x[1] >= -1e-6
            } else {
                x[1] <= 0.5 + 1e-6
            });
        }
        // shuffled: the classes are mixed in the first half
        assert!(p[..50].iter().any(|(_, c)| *c == 1));
    }

    #[test]
    fn noise_has_the_given_spread_and_seeds_reproduce() {
        let cfg = MakeMoonsConfig {
            n_samples: 4000,
            noise: Some(0.1),
            random_state: Some(7),
            ..Default::default()
        };
        let ds = cfg.build(0, 0).unwrap();
        let p = points(&ds);
        let radial: Vec<f64> = p
            .iter()
            .map(|(x, c)| {
                let (cx, cy) = if *c == 0 { (0.0, 0.0) } else { (1.0, 0.5) };
                (f64::from(x[0]) - cx).hypot(f64::from(x[1]) - cy) - 1.0
            })
            .collect();
        let (m, s) = mean_std(&radial);
        assert!(m.abs() < 0.01 && (s - 0.1).abs() < 0.01, "{m} {s}");
        assert_eq!(
            cfg.build(5, 1).unwrap(),
            ds,
            "random_state overrides the run seed"
        );
        let a = MakeMoonsConfig::default().build(1, 0).unwrap();
        assert_eq!(a, MakeMoonsConfig::default().build(1, 0).unwrap());
        assert_ne!(a, MakeMoonsConfig::default().build(1, 1).unwrap());
        assert!(MakeMoonsConfig {
            noise: Some(-1.0),
            ..Default::default()
        }
        .build(0, 0)
        .is_err());
    }
}
