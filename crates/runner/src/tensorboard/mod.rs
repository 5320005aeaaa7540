//! TensorBoard event files in every run directory, so that `tensorboard --logdir runs`
//! shows wick's runs beside PyTorch's (`[log] tensorboard = false` turns them off).
//!
//! # What a run writes
//!
//! One file per `wick run` (and one more per `--resume`), holding, with `step` the
//! optimizer step (metrics.csv's `step` column):
//!
//! - `step/train_loss`, `step/lr` (scalars, at the row's step): each `step` row of
//!   metrics.csv, the running training loss and the learning rate;
//! - `epoch/<column>` (scalars, at the row's step): each number of an `epoch` row of
//!   metrics.csv, one tag per column: `epoch/train_loss`, `epoch/train_acc`,
//!   `epoch/test_loss`, `epoch/test_acc`, `epoch/lr`, `epoch/seconds`,
//!   `epoch/samples_per_sec`, then the `[metrics]` columns (`epoch/test_top5_acc`,
//!   `epoch/test_mae`, ...);
//! - `config` (text, at the start step): the resolved `config.toml`, as a fenced TOML
//!   block;
//! - `images` (images, at step 0): the first training batch after its transforms as a
//!   grid (see `image.rs`), when it is `[N, C, H, W]` with C of 1 or 3;
//! - `_hparams_/session_start_info` (hparams, at the start step): the run's `--set`
//!   overrides as hyperparameters, only for a run that has some; and
//!   `_hparams_/session_end_info` (at the last step): its status, success when the run
//!   finished (or stopped early), failure when it failed (a diverged loss).
//!
//! So the tag of a scalar is `<kind>/<column>` for metrics.csv's row `kind` and
//! `column`, at the row's `step`: a checker maps each point back to one cell (an empty
//! cell has no point; per-class accuracies, in metrics.jsonl only, have none either).
//! Scalars are `simple_value`s, 32-bit floats: a value is the CSV's rounded to the
//! nearest `f32`. The file is flushed after every logged step, epoch and checkpoint,
//! so a live TensorBoard follows the run; a write that fails is a warning (once), not
//! a failed run.
//!
//! # Resumed runs
//!
//! A resume writes a new file whose first events are the file version and a
//! `SessionLog { status: START }` at the checkpoint's step + 1 (its config and
//! hyperparameters then also sit at that step). TensorBoard's Python loader reads a
//! run's files in name order and, for files of version 2, drops on every `START` the
//! points it holds at that step or later (`_CheckForRestartAndMaybePurge`): what the
//! interrupted run wrote after its checkpoint, the rows `metrics.csv` was cut back by.
//! Its fast loader (`--load_fast`, RustBoard) ignores `SessionLog` but drops, per tag,
//! the points at or after the step of each new point, which the resumed run writes
//! again from the same steps. Every run therefore starts its files with a `START` (the
//! first one a loader sees is not a restart), and per tag its steps only grow.
//!
//! # Format
//!
//! TFRecord framing (`record.rs`: length, masked CRC-32C, data, masked CRC-32C) around
//! `Event` protocol buffers (`event.rs`, `hparams.rs`), in a file named as TensorFlow
//! names them (`writer.rs`). None of the crates wick depends on writes this format, and
//! what is needed is a handful of messages: they are encoded by hand (`proto.rs`, no
//! protobuf code generation in the build), with the field numbers of TensorBoard's
//! `.proto` files, and checked against TensorBoard's own reader by
//! `scripts/check_tensorboard.py`.

mod callback;
mod config;
mod event;
mod hparams;
pub(crate) mod image;
mod proto;
mod record;
mod writer;

pub(crate) use callback::TensorBoard;
pub use config::LogConfig;
pub use writer::FILE_PREFIX;
