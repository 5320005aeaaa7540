use super::moons::{hundred, yes};
use super::synthetic::{check_n_samples, check_noise, finish, linspace, rng};
use super::tensor_dataset::TensorDataset;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::f64::consts::TAU;

/// Arguments of scikit-learn's `make_circles(n_samples=100, shuffle=True, noise=None,
/// random_state=None, factor=0.8)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeCirclesConfig {
    /// Total number of points (default 100); `n_samples // 2` on the outer circle.
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
    /// Inner radius over outer radius, `0 <= factor < 1` (default 0.8).
    #[serde(default = "point_eight")]
    pub factor: f64,
}

fn point_eight() -> f64 {
    0.8
}

impl Default for MakeCirclesConfig {
    fn default() -> Self {
        Self {
            n_samples: 100,
            shuffle: true,
            noise: None,
            random_state: None,
            factor: 0.8,
        }
    }
}

impl MakeCirclesConfig {
    /// Two concentric circles: class 0 of radius 1, class 1 of radius `factor`, angles
    /// evenly spaced in `[0, 2π)`; samples are `[2]`.
    pub fn build(&self, seed: u64, split: u64) -> Result<TensorDataset> {
        check_n_samples(self.n_samples)?;
        check_noise(self.noise)?;
        if !(0.0..1.0).contains(&self.factor) {
            return Err(Error::config(
                "factor",
                format!(
                    "'factor' has to be between 0 and 1, got factor={}",
                    self.factor
                ),
            ));
        }
        let n_out = self.n_samples / 2;
        let n_in = self.n_samples - n_out;
        let mut points = Vec::with_capacity(self.n_samples);
        let mut labels = Vec::with_capacity(self.n_samples);
        for t in linspace(0.0, TAU, n_out, false) {
            points.push(vec![t.cos(), t.sin()]);
            labels.push(0);
        }
        for t in linspace(0.0, TAU, n_in, false) {
            points.push(vec![self.factor * t.cos(), self.factor * t.sin()]);
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
    fn radii_follow_the_factor() {
        let cfg = MakeCirclesConfig {
            n_samples: 3000,
            factor: 0.5,
            noise: Some(0.05),
            ..Default::default()
        };
        let p = points(&cfg.build(2, 0).unwrap());
        for (c, want) in [(0, 1.0), (1, 0.5)] {
            let r: Vec<f64> = p
                .iter()
                .filter(|(_, k)| *k == c)
                .map(|(x, _)| f64::from(x[0]).hypot(f64::from(x[1])))
                .collect();
            assert_eq!(r.len(), 1500);
            let (m, s) = mean_std(&r);
            assert!(
                (m - want).abs() < 0.01 && (s - 0.05).abs() < 0.01,
                "{c}: {m} {s}"
            );
        }
        let e = MakeCirclesConfig {
            factor: 1.0,
            ..Default::default()
        }
        .build(0, 0)
        .unwrap_err()
        .to_string();
        assert!(e.contains("factor=1"), "{e}");
    }
}
