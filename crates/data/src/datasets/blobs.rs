use super::moons::{hundred, yes};
use super::synthetic::{check_n_samples, finish, normal, rng};
use super::tensor_dataset::TensorDataset;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// `centers`: how many random centers, or the centers themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Centers {
    /// Draw this many centers uniformly in `center_box`.
    Count(usize),
    /// These centers (each `n_features` long).
    Points(Vec<Vec<f64>>),
}

/// `cluster_std`: one standard deviation for all clusters, or one per cluster.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ClusterStd {
    /// The same for every cluster.
    One(f64),
    /// One per center.
    PerCenter(Vec<f64>),
}

/// Arguments of scikit-learn's `make_blobs(n_samples=100, n_features=2, centers=None,
/// cluster_std=1.0, center_box=(-10.0, 10.0), shuffle=True, random_state=None)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MakeBlobsConfig {
    /// Total number of points, split evenly over the centers (default 100).
    #[serde(default = "hundred")]
    pub n_samples: usize,
    /// Coordinates per point (default 2; taken from the centers when they are given).
    #[serde(default = "two")]
    pub n_features: usize,
    /// Number of centers or the centers (default 3 random centers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centers: Option<Centers>,
    /// Standard deviation of the clusters (default 1.0).
    #[serde(default = "one")]
    pub cluster_std: ClusterStd,
    /// The box random centers are drawn in (default `[-10.0, 10.0]`).
    #[serde(default = "center_box")]
    pub center_box: (f64, f64),
    /// Shuffle the points (default `true`).
    #[serde(default = "yes")]
    pub shuffle: bool,
    /// Seed of the generator (default: derived from the run seed and the split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_state: Option<u64>,
}

fn two() -> usize {
    2
}
fn one() -> ClusterStd {
    ClusterStd::One(1.0)
}
fn center_box() -> (f64, f64) {
    (-10.0, 10.0)
}

impl Default for MakeBlobsConfig {
    fn default() -> Self {
        Self {
            n_samples: 100,
            n_features: 2,
            centers: None,
            cluster_std: one(),
            center_box: center_box(),
            shuffle: true,
            random_state: None,
        }
    }
}

impl MakeBlobsConfig {
    /// Isotropic Gaussian blobs; class `k` is drawn around center `k` with standard
    /// deviation `cluster_std[k]`; the first `n_samples % k` centers get one point
    /// more. Samples are `[n_features]`.
    pub fn build(&self, seed: u64, split: u64) -> Result<TensorDataset> {
        check_n_samples(self.n_samples)?;
        let mut rng = rng(self.random_state, seed, split);
        let (lo, hi) = self.center_box;
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(Error::config(
                "center_box",
                format!("center_box = ({lo}, {hi}): expected finite low <= high"),
            ));
        }
        let centers: Vec<Vec<f64>> = match &self.centers {
            None | Some(Centers::Count(_)) => {
                let k = match &self.centers {
                    Some(Centers::Count(k)) => *k,
                    _ => 3,
                };
                if k == 0 || self.n_features == 0 {
                    return Err(Error::config(
                        "centers",
                        "centers and n_features must be positive",
                    ));
                }
                (0..k)
                    .map(|_| (0..self.n_features).map(|_| rng.uniform(lo, hi)).collect())
                    .collect()
            }
            Some(Centers::Points(p)) => {
                let d = p.first().map_or(0, Vec::len);
                if p.is_empty() || d == 0 || p.iter().any(|c| c.len() != d) {
                    return Err(Error::config(
                        "centers",
                        "centers must be a non-empty list of points of one dimension",
                    ));
                }
                p.clone()
            }
        };
        let k = centers.len();
        let stds = match &self.cluster_std {
            ClusterStd::One(s) => vec![*s; k],
            ClusterStd::PerCenter(v) if v.len() == k => v.clone(),
            ClusterStd::PerCenter(v) => {
                return Err(Error::config(
                    "cluster_std",
                    format!(
                        "Length of `clusters_std` not consistent with number of centers. \
                         Got centers = {k} and cluster_std = {}",
                        v.len()
                    ),
                ))
            }
        };
        if let Some(s) = stds.iter().find(|s| !(s.is_finite() && **s >= 0.0)) {
            return Err(Error::config(
                "cluster_std",
                format!("cluster_std = {s}: expected finite values >= 0"),
            ));
        }
        let mut points = Vec::with_capacity(self.n_samples);
        let mut labels = Vec::with_capacity(self.n_samples);
        for (c, (center, std)) in centers.iter().zip(&stds).enumerate() {
            let n = self.n_samples / k + usize::from(c < self.n_samples % k);
            for _ in 0..n {
                points.push(center.iter().map(|m| m + std * normal(&mut rng)).collect());
                labels.push(c as u32);
            }
        }
        finish(points, labels, k, self.shuffle, None, &mut rng)
    }
}

#[cfg(test)]
mod tests {
    use super::super::synthetic::stats::{mean_std, points};
    use super::*;
    use crate::Dataset;

    #[test]
    fn clusters_have_their_centers_and_spreads() {
        let cfg: MakeBlobsConfig = toml::from_str(
            "n_samples = 3001\ncenters = [[0.0, 0.0], [5.0, -5.0]]\ncluster_std = [0.5, 2.0]",
        )
        .unwrap();
        let p = points(&cfg.build(0, 0).unwrap());
        for (c, (cx, cy, s)) in [(0.0, 0.0, 0.5), (5.0, -5.0, 2.0)].into_iter().enumerate() {
            let pts: Vec<_> = p.iter().filter(|(_, k)| *k == c as u32).collect();
            assert_eq!(pts.len(), if c == 0 { 1501 } else { 1500 });
            let xs: Vec<f64> = pts.iter().map(|(x, _)| f64::from(x[0])).collect();
            let ys: Vec<f64> = pts.iter().map(|(x, _)| f64::from(x[1])).collect();
            let (mx, sx) = mean_std(&xs);
            let (my, sy) = mean_std(&ys);
            assert!(
                (mx - cx).abs() < 0.15 && (my - cy).abs() < 0.15,
                "{mx} {my}"
            );
            assert!(
                (sx / s - 1.0).abs() < 0.08 && (sy / s - 1.0).abs() < 0.08,
                "{sx} {sy}"
            );
        }
    }

    #[test]
    fn random_centers_in_the_box() {
        let cfg = MakeBlobsConfig {
            n_features: 3,
            centers: Some(Centers::Count(4)),
            cluster_std: ClusterStd::One(0.0),
            center_box: (1.0, 2.0),
            ..Default::default()
        };
        let ds = cfg.build(3, 0).unwrap();
        assert_eq!(ds.feature_shape(), &[3]);
        assert_eq!(ds.classes().len(), 4);
        assert!(ds.features().iter().all(|v| (1.0..2.0).contains(v)));
        let e = MakeBlobsConfig {
            centers: Some(Centers::Count(2)),
            cluster_std: ClusterStd::PerCenter(vec![1.0]),
            ..Default::default()
        }
        .build(0, 0)
        .unwrap_err()
        .to_string();
        assert!(e.contains("centers = 2 and cluster_std = 1"), "{e}");
    }
}
