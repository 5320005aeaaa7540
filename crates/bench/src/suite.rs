//! `wick-bench suite`: every implementation of every workload, interleaved round by
//! round so that machine noise hits them alike; a table of medians, the goals' ratios,
//! and `bench/results.json`.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where the programs and data are, and how much to run.
pub struct Suite {
    /// The `wick` binary.
    pub wick: PathBuf,
    /// A Python with torch and torchvision (`None`: the PyTorch side is skipped).
    pub python: Option<PathBuf>,
    /// Rounds of everything.
    pub rounds: usize,
    /// Workloads to run (`w1`, `w2`, `w3`).
    pub workloads: Vec<String>,
    /// Batches the W2 hand-written candle loop runs (it is slow; scaled to an epoch).
    pub w2_candle_steps: usize,
    /// The hymenoptera folder (holding `train/`).
    pub hymenoptera: PathBuf,
    /// Where results.json goes.
    pub out: PathBuf,
    /// Threads for every implementation.
    pub threads: usize,
    /// Batches W4 and W5 train (an epoch of them takes minutes; samples/s is measured
    /// on these).
    pub limit_batches: usize,
}

/// Workloads measured on part of an epoch (`limit_batches`).
fn limited(workload: &str) -> bool {
    matches!(workload, "w4" | "w5" | "w6")
}

/// One measured program.
struct Job {
    implementation: &'static str,
    workload: String,
    mode: String,
}

impl Suite {
    fn jobs(&self, workload: &str) -> Vec<Job> {
        let job = |implementation, mode: &str| Job {
            implementation,
            workload: workload.to_string(),
            mode: mode.to_string(),
        };
        let torch = self.python.is_some();
        let mut v = Vec::new();
        if workload == "w6" {
            // synthetic inputs: the model's step alone, in wick's crates and in PyTorch
            v.push(job("wick_crates_loop", "synthetic"));
            if torch {
                v.push(job("pytorch", "synthetic"));
            }
            return v;
        }
        for w in [0, 2] {
            v.push(job("wick", &format!("dataloader_w{w}")));
            if torch {
                v.push(job("pytorch", &format!("dataloader_w{w}")));
            }
        }
        if workload != "w3" {
            if torch {
                v.push(job("pytorch", "pretensorized"));
            }
            if !limited(workload) {
                v.push(job("candle_loop", "pretensorized"));
            }
            v.push(job("wick_crates_loop", "pretensorized"));
        }
        if workload == "w1" {
            v.push(job("explicit_loop", "pretensorized"));
        }
        v
    }

    fn experiment(&self, workload: &str) -> PathBuf {
        PathBuf::from(match workload {
            "w1" => "bench/w1_mlp.toml",
            "w2" => "bench/w2_cnn.toml",
            "w4" => "bench/w4_vgg.toml",
            "w5" => "experiments/fashion_resnet.toml",
            "w6" => "bench/w6_resnet18.toml",
            _ => "bench/w3_hymenoptera.toml",
        })
    }

    fn command(&self, job: &Job, scratch: &Path) -> Result<Command> {
        let workers = job.mode.strip_prefix("dataloader_w");
        let mut cmd = match job.implementation {
            "wick" => {
                let mut c = Command::new(&self.wick);
                c.arg("run")
                    .arg(self.experiment(&job.workload))
                    .arg("--set")
                    .arg(format!(
                        "data.train.num_workers={}",
                        workers.context("wick runs from files")?
                    ))
                    .arg("--runs-dir")
                    .arg(scratch)
                    .arg("--no-progress");
                if limited(&job.workload) {
                    let limit = format!("train.limit_train_batches={}", self.limit_batches);
                    c.args(["--set", &limit, "--set", "train.epochs=1"])
                        .args(["--set", "device=\"cpu\""]);
                }
                if job.workload == "w3" {
                    let parent = self.hymenoptera.parent().unwrap_or(Path::new("."));
                    c.env("WICK_DATA", parent);
                }
                c
            }
            "pytorch" => {
                let mut c = Command::new(self.python.as_ref().context("no python")?);
                c.arg("scripts/bench_torch.py")
                    .arg(&job.workload)
                    .arg("--threads")
                    .arg(self.threads.to_string())
                    .arg("--image-root")
                    .arg(&self.hymenoptera)
                    .arg("--data-dir")
                    .arg(crate::fashion::data_dir());
                match workers {
                    Some(w) => c.arg("--num-workers").arg(w),
                    None if job.mode == "synthetic" => c.arg("--synthetic"),
                    None => c.arg("--pretensorized"),
                };
                if limited(&job.workload) {
                    c.arg("--steps").arg(self.limit_batches.to_string());
                }
                c
            }
            "gemm" => {
                let mut c = Command::new(std::env::current_exe()?);
                c.arg("gemm-peak");
                c
            }
            sub => {
                let mut c = Command::new(std::env::current_exe()?);
                c.arg(sub.replace('_', "-")).arg(&job.workload);
                if sub == "wick_crates_loop" {
                    c.arg("--experiment").arg(self.experiment(&job.workload));
                }
                if sub == "candle_loop" && job.workload == "w2" {
                    c.arg("--steps").arg(self.w2_candle_steps.to_string());
                }
                if limited(&job.workload) {
                    c.arg("--steps").arg(self.limit_batches.to_string());
                }
                c
            }
        };
        cmd.env("RAYON_NUM_THREADS", self.threads.to_string())
            .env("OMP_NUM_THREADS", self.threads.to_string());
        Ok(cmd)
    }

    fn measure(&self, job: &Job, scratch: &Path) -> Result<Value> {
        let _ = std::fs::remove_dir_all(scratch);
        std::fs::create_dir_all(scratch)?;
        let out = self.command(job, scratch)?.output()?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            bail!(
                "{} {} {} failed ({}):\n{}{}",
                job.implementation,
                job.workload,
                job.mode,
                out.status,
                stdout,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if job.implementation == "wick" {
            return wick_result(job, scratch);
        }
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .context("no JSON line in the output")?;
        let mut v: Value = serde_json::from_str(line)?;
        v["implementation"] = json!(job.implementation);
        v["mode"] = json!(job.mode);
        Ok(v)
    }

    /// Runs every round and writes the results.
    pub fn run(&self) -> Result<()> {
        let scratch = std::env::temp_dir().join(format!("wick-bench-{}", std::process::id()));
        let mut results: Vec<Value> = Vec::new();
        for round in 1..=self.rounds {
            let peak = Job {
                implementation: "gemm",
                workload: "peak".into(),
                mode: "peak".into(),
            };
            let mut v = self.measure(&peak, &scratch)?;
            v["round"] = json!(round);
            eprintln!(
                "round {round} GEMM peak {:.0} GFLOP/s",
                v["gflops"].as_f64().unwrap_or(f64::NAN)
            );
            results.push(v);
            for w in &self.workloads {
                for job in self.jobs(w) {
                    let mut v = self.measure(&job, &scratch)?;
                    v["round"] = json!(round);
                    eprintln!(
                        "round {round} {:<5} {:<17} {:<14} {:>8.2} s {:>9.0} samples/s  {}  {}",
                        job.workload,
                        job.implementation,
                        job.mode,
                        v["seconds"].as_f64().unwrap_or(f64::NAN),
                        v["samples_per_sec"].as_f64().unwrap_or(f64::NAN),
                        v["peak_rss_mib"]
                            .as_f64()
                            .map(|r| format!("{r:.0} MiB"))
                            .unwrap_or_default(),
                        v["busy_cores"]
                            .as_f64()
                            .map(|b| format!("{b:.2} cores busy"))
                            .unwrap_or_default()
                    );
                    results.push(v);
                }
            }
        }
        let _ = std::fs::remove_dir_all(&scratch);
        let summary = summarize(&results, &self.workloads);
        print_table(&summary);
        let doc = json!({
            "date": chrono::Local::now().to_rfc3339(),
            "machine": machine(self.threads),
            "rounds": self.rounds,
            "summary": summary,
            "measurements": results,
        });
        if let Some(dir) = self.out.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&self.out, serde_json::to_string_pretty(&doc)? + "\n")
            .with_context(|| format!("cannot write {}", self.out.display()))?;
        println!("\nwrote {}", self.out.display());
        Ok(())
    }
}

/// A `wick run`'s figures from its run directory: the epoch row of metrics.jsonl and
/// the peak RSS in meta.json.
fn wick_result(job: &Job, scratch: &Path) -> Result<Value> {
    let run = find_run_dir(scratch, 3).context("wick wrote no run directory")?;
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl"))?;
    let epoch: Value = metrics
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["kind"] == "epoch")
        .context("no epoch row in metrics.jsonl")?;
    let meta: Value = serde_json::from_str(&std::fs::read_to_string(run.join("meta.json"))?)?;
    Ok(json!({
        "implementation": "wick",
        "workload": job.workload,
        "mode": job.mode,
        "seconds": epoch["seconds"],
        "samples_per_sec": epoch["samples_per_sec"],
        "train_loss": epoch["train_loss"],
        "test_acc": epoch["test_acc"],
        "peak_rss_mib": meta["peak_rss_mib"],
        "busy_cores": epoch["busy_cores"],
    }))
}

/// The directory holding `metrics.jsonl` under `root` (`<runs-dir>/<name>/<stamp>`).
fn find_run_dir(root: &Path, depth: usize) -> Option<PathBuf> {
    if root.join("metrics.jsonl").is_file() {
        return Some(root.to_path_buf());
    }
    if depth == 0 {
        return None;
    }
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs.iter().find_map(|d| find_run_dir(d, depth - 1))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    })
}

/// (workload, implementation, mode).
type Key = (String, String, String);

/// The median of each figure per (workload, implementation, mode).
struct Medians(BTreeMap<Key, BTreeMap<&'static str, f64>>);

/// The figures a measurement has medians of.
const FIGURES: [&str; 6] = [
    "seconds",
    "samples_per_sec",
    "peak_rss_mib",
    "busy_cores",
    "conv_gflops",
    "gflops",
];

impl Medians {
    fn new(groups: &BTreeMap<Key, Vec<&Value>>) -> Self {
        let med =
            |rows: &[&Value], k: &str| median(rows.iter().filter_map(|r| r[k].as_f64()).collect());
        Self(
            groups
                .iter()
                .map(|(k, g)| {
                    let figures = FIGURES
                        .iter()
                        .filter_map(|&f| med(g, f).map(|v| (f, v)))
                        .collect();
                    (k.clone(), figures)
                })
                .collect(),
        )
    }

    fn get(&self, w: &str, i: &str, m: &str, figure: &str) -> Option<f64> {
        self.0
            .get(&(w.into(), i.into(), m.into()))?
            .get(figure)
            .copied()
    }
}

/// The ratios against the goals, as they are added.
#[derive(Default)]
struct Ratios(Vec<Value>);

impl Ratios {
    /// `num / den` against `goal`: `at_least`, the goal is a floor (speed ratios) rather
    /// than a ceiling (costs); a negative goal marks a reference figure with no goal.
    fn add(
        &mut self,
        w: &str,
        what: &str,
        nd: (Option<f64>, Option<f64>),
        goal: f64,
        at_least: bool,
    ) {
        let (Some(n), Some(d)) = nd else { return };
        let v = n / d;
        let met = if goal < 0.0 {
            Value::Null
        } else {
            Value::Bool(if at_least { v >= goal } else { v <= goal })
        };
        self.0.push(json!({"workload": w, "ratio": what, "value": v,
            "goal": goal.max(0.0), "at_least": at_least, "met": met}));
    }
}

/// Medians per (workload, implementation, mode) and the goals' ratios.
fn summarize(results: &[Value], workloads: &[String]) -> Value {
    let mut groups: BTreeMap<Key, Vec<&Value>> = BTreeMap::new();
    for r in results.iter().filter(|r| r["workload"] != "peak") {
        let key = |k: &str| r[k].as_str().unwrap_or_default().to_string();
        groups
            .entry((key("workload"), key("implementation"), key("mode")))
            .or_default()
            .push(r);
    }
    let peak: Vec<&Value> = results.iter().filter(|r| r["workload"] == "peak").collect();
    let mut all = groups.clone();
    all.insert(("peak".into(), "gemm".into(), "peak".into()), peak);
    let med = Medians::new(&all);
    let rows: Vec<Value> = groups
        .iter()
        .map(|((w, i, m), g)| {
            let f = |k| med.get(w, i, m, k);
            json!({
                "workload": w, "implementation": i, "mode": m,
                "seconds": f("seconds"), "samples_per_sec": f("samples_per_sec"),
                "peak_rss_mib": f("peak_rss_mib"), "busy_cores": f("busy_cores"),
                "extrapolated": g.iter().any(|r| r["extrapolated"] == true),
            })
        })
        .collect();
    let mut ratios = Ratios::default();
    for w in workloads {
        if w == "w6" {
            let sps = |i: &str| med.get(w, i, "synthetic", "samples_per_sec");
            let what = "wick step / PyTorch step, synthetic (samples/s)";
            ratios.add(
                w,
                what,
                (sps("wick_crates_loop"), sps("pytorch")),
                1.0,
                true,
            );
            conv_ratio(w, &med, &mut ratios);
            continue;
        }
        conv_ratio(w, &med, &mut ratios);
        pipeline_ratios(w, &med, &mut ratios);
        if w != "w3" {
            step_ratios(w, &med, &mut ratios);
        }
    }
    let mut doc = json!({ "rows": rows, "ratios": ratios.0 });
    if let Some(p) = med.get("peak", "gemm", "peak", "gflops") {
        doc["gemm_peak_gflops"] = json!(p);
    }
    doc
}

/// The convolutions' rate in training (wick's crates loop, all three kernels) as a
/// fraction of the GEMM peak measured in the same run: at least half on W2 and W4.
fn conv_ratio(w: &str, med: &Medians, ratios: &mut Ratios) {
    let mode = if w == "w6" {
        "synthetic"
    } else {
        "pretensorized"
    };
    let conv = med.get(w, "wick_crates_loop", mode, "conv_gflops");
    let peak = med.get("peak", "gemm", "peak", "gflops");
    let goal = if matches!(w, "w2" | "w4") { 0.5 } else { -1.0 };
    let what = "conv GFLOP/s in training / GEMM peak GFLOP/s (fraction)";
    ratios.add(w, what, (conv, peak), goal, true);
}

/// Against PyTorch + DataLoader: samples/s (2× on every workload), peak RSS, busy cores.
fn pipeline_ratios(w: &str, med: &Medians, ratios: &mut Ratios) {
    let sps = |i: &str, m: &str| med.get(w, i, m, "samples_per_sec");
    for k in [0, 2] {
        let m = format!("dataloader_w{k}");
        let what = format!("wick w{k} / PyTorch DataLoader w{k} (samples/s)");
        ratios.add(w, &what, (sps("wick", &m), sps("pytorch", &m)), 2.0, true);
    }
    let w0 = |i: &str, f: &str| med.get(w, i, "dataloader_w0", f);
    let rss = (w0("wick", "peak_rss_mib"), w0("pytorch", "peak_rss_mib"));
    ratios.add(w, "peak RSS wick w0 / PyTorch w0", rss, 1.0, false);
    // the average busy cores while training (of 2): a goal on the CNNs
    let cores_goal = if matches!(w, "w2" | "w4" | "w5") {
        1.8
    } else {
        -1.0
    };
    let busy = |i| (w0(i, "busy_cores"), Some(1.0));
    ratios.add(
        w,
        "busy cores, wick w0 (CPU s / wall s)",
        busy("wick"),
        cores_goal,
        true,
    );
    ratios.add(
        w,
        "busy cores, PyTorch w0 (CPU s / wall s)",
        busy("pytorch"),
        -1.0,
        true,
    );
}

/// Against pre-built tensors: PyTorch's samples/s, and the step times of the loops
/// (a loop's samples/s over wick's).
fn step_ratios(w: &str, med: &Medians, ratios: &mut Ratios) {
    let sps = |i: &str, m: &str| med.get(w, i, m, "samples_per_sec");
    let pre = |i: &str| sps(i, "pretensorized");
    let wick = sps("wick", "dataloader_w0");
    let what = "wick w0 from files / PyTorch pre-tensorized (samples/s)";
    ratios.add(w, what, (wick, pre("pytorch")), 1.25, true);
    let what = "wick w0 step time / hand-written candle loop step time";
    ratios.add(w, what, (pre("candle_loop"), wick), 1.10, false);
    let what = "wick w0 step time / wick crates in a plain loop (runner cost)";
    ratios.add(w, what, (pre("wick_crates_loop"), wick), 1.10, false);
    // the design issue 8 weighs: candle's autograd with wick's custom ops against
    // layers with an explicit backward into preallocated buffers (W1 only)
    let what = "wick crates loop step time / explicit-backward loop step time";
    ratios.add(
        w,
        what,
        (pre("explicit_loop"), pre("wick_crates_loop")),
        -1.0,
        false,
    );
}

fn print_table(summary: &Value) {
    if let Some(p) = summary["gemm_peak_gflops"].as_f64() {
        println!("\nGEMM peak (f32, all threads): {p:.0} GFLOP/s");
    }
    println!(
        "\n{:<5} {:<17} {:<14} {:>9} {:>11} {:>10} {:>6}",
        "work", "implementation", "mode", "epoch s", "samples/s", "peak RSS", "busy"
    );
    for r in summary["rows"].as_array().into_iter().flatten() {
        println!(
            "{:<5} {:<17} {:<14} {:>9.2} {:>11.0} {:>6.0} MiB {:>6.2}{}",
            r["workload"].as_str().unwrap_or_default(),
            r["implementation"].as_str().unwrap_or_default(),
            r["mode"].as_str().unwrap_or_default(),
            r["seconds"].as_f64().unwrap_or(f64::NAN),
            r["samples_per_sec"].as_f64().unwrap_or(f64::NAN),
            r["peak_rss_mib"].as_f64().unwrap_or(f64::NAN),
            r["busy_cores"].as_f64().unwrap_or(f64::NAN),
            if r["extrapolated"] == true {
                "  (scaled from part of an epoch)"
            } else {
                ""
            }
        );
    }
    println!(
        "\n{:<5} {:<66} {:>7} {:>7}",
        "work", "ratio", "value", "goal"
    );
    for r in summary["ratios"].as_array().into_iter().flatten() {
        let goal = r["goal"].as_f64().unwrap_or(f64::NAN);
        let le = r["at_least"] == false;
        let (goal, verdict) = match r["met"].as_bool() {
            Some(met) => (
                format!("{}{goal:.2}x", if le { "<=" } else { ">=" }),
                if met { "met" } else { "NOT met" },
            ),
            None if goal > 0.0 => (format!("({goal:.2}x)"), "reference, no goal"),
            None => (String::new(), "no goal"),
        };
        println!(
            "{:<5} {:<66} {:>6.2}x {goal} {verdict}",
            r["workload"].as_str().unwrap_or_default(),
            r["ratio"].as_str().unwrap_or_default(),
            r["value"].as_f64().unwrap_or(f64::NAN),
        );
    }
}

fn machine(threads: usize) -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map(|n| n.get()).ok();
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.to_string()));
    json!({ "cpu": model, "cores": cores, "threads": threads, "memory": mem, "os": std::env::consts::OS })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary of a recorded run's measurements is the one the run wrote.
    #[test]
    fn summarizes_a_recorded_run_as_it_did() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../bench/results/2026-12-03-2cores-session8.json"
        );
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let measurements = doc["measurements"].as_array().unwrap();
        let workloads: Vec<String> = ["w1", "w2", "w3", "w4", "w5"].map(String::from).to_vec();
        assert_eq!(summarize(measurements, &workloads), doc["summary"]);
    }
}
