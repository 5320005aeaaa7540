#!/usr/bin/env python3
"""Checks the TensorBoard event files of wick run directories with TensorBoard's own
readers (the `tensorboard` package: `pip install tensorboard`).

    python3 scripts/check_tensorboard.py RUN_DIR [RUN_DIR ...]

For each run directory, with `EventAccumulator` (the loader `tensorboard --logdir`
uses without its fast path, restarts purged as it purges them):
  - every number of metrics.csv is a scalar point `<kind>/<column>` at the row's step
    with the value rounded to float32, and there is no other scalar point;
  - the `images` tag holds one PNG of make_grid's size for the first batch (8 images a
    row, 2 pixels of padding) when the model's input is [C, H, W] with C of 1 or 3;
  - the `config` text is the run's config.toml;
  - when meta.json lists `--set` overrides, the hparams plugin's session start holds
    them and its session end a status.
Then TensorBoard's hparams plugin lists the session groups of all the runs (the
HParams tab's table), over their common parent directory.

Prints a summary per run; exits 1 on the first mismatch.
"""
import csv
import json
import math
import os
import struct
import sys
import tomllib

from tensorboard.backend.event_processing import event_accumulator as ea
from tensorboard.util import tensor_util


def f32(x):
    """x rounded to the nearest float32, as a `simple_value` holds it."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def load(run_dir):
    acc = ea.EventAccumulator(
        run_dir,
        size_guidance={ea.SCALARS: 0, ea.IMAGES: 0, ea.TENSORS: 0},
    )
    acc.Reload()
    return acc


def csv_points(run_dir):
    """{(tag, step): value} of every non-empty number of metrics.csv."""
    points = {}
    with open(os.path.join(run_dir, "metrics.csv"), newline="") as f:
        rows = csv.reader(f)
        header = next(rows)
        for row in rows:
            kind, step = row[0], int(row[2])
            for col, cell in zip(header[4:], row[4:]):
                if cell != "":
                    points[(f"{kind}/{col}", step)] = f32(float(cell))
    return points


def check_scalars(acc, run_dir):
    want = csv_points(run_dir)
    got = {}
    for tag in acc.Tags()["scalars"]:
        for e in acc.Scalars(tag):
            if (tag, e.step) in got:
                fail(f"{tag} has two points at step {e.step}")
            got[(tag, e.step)] = e.value
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing or extra:
        fail(f"not in the events: {missing[:5]}; not in metrics.csv: {extra[:5]}")
    for key, v in want.items():
        g = got[key]
        if not (g == v or (math.isnan(g) and math.isnan(v))):
            fail(f"{key}: {g} in the events, {v} in metrics.csv")
    tags = sorted({t for t, _ in want})
    return f"{len(want)} scalar points in {len(tags)} tags ({', '.join(tags)})"


def grid_size(config):
    """The (width, height) of make_grid of the first batch, or None (no image)."""
    shape = config["model"].get("input")
    if not shape or len(shape) != 3 or shape[0] not in (1, 3):
        return None
    n = min(config["data"]["train"]["batch_size"], 64)
    cols = min(n, 8)
    rows = -(-n // cols)
    return cols * (shape[2] + 2) + 2, rows * (shape[1] + 2) + 2


def check_image(acc, config):
    want = grid_size(config)
    tags = acc.Tags()["images"]
    if want is None:
        if tags:
            fail(f"images {tags} for an input that is not an image")
        return "no image (the input is not [1 or 3, H, W])"
    if tags != ["images"]:
        fail(f"image tags {tags}")
    events = acc.Images("images")
    if len(events) != 1 or events[0].step != 0:
        fail(f"{len(events)} images, steps {[e.step for e in events]}")
    e = events[0]
    png = e.encoded_image_string
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        fail("the image is not a PNG")
    size = struct.unpack(">II", png[16:24])
    if size != want or (e.width, e.height) != want:
        fail(f"image {size}, fields {(e.width, e.height)}, make_grid makes {want}")
    return f"images: one PNG of {size[0]}x{size[1]} at step 0 ({len(png)} bytes)"


def check_config(acc, run_dir):
    if "config" not in acc.Tags()["tensors"]:
        fail("no config text")
    plugin = acc.SummaryMetadata("config").plugin_data.plugin_name
    last = acc.Tensors("config")[-1]
    text = tensor_util.make_ndarray(last.tensor_proto).item().decode()
    with open(os.path.join(run_dir, "config.toml")) as f:
        written = f.read()
    if plugin != "text" or text != f"```toml\n{written.rstrip()}\n```":
        fail(f"the config text ({plugin}) is not config.toml")
    return f"config: the resolved config.toml as text ({len(written)} chars, step {last.step})"


def check_hparams(acc, run_dir):
    from tensorboard.plugins.hparams import metadata

    with open(os.path.join(run_dir, "meta.json")) as f:
        overrides = json.load(f).get("overrides") or []
    tags = [t for t in acc.Tags()["tensors"] if t.startswith("_hparams_/")]
    if not overrides:
        if tags:
            fail(f"hparams {tags} without overrides")
        return "hparams: none (no --set overrides)"
    content = acc.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    start = metadata.parse_session_start_info_plugin_data(content)
    keys = dict(o.split("=", 1) for o in overrides)
    if sorted(start.hparams) != sorted(k.strip() for k in keys):
        fail(f"hparams {sorted(start.hparams)}, overrides {overrides}")
    if metadata.SESSION_END_INFO_TAG not in tags:
        return f"hparams: {dict(start.hparams)} (no session end: interrupted or running)"
    content = acc.SummaryMetadata(metadata.SESSION_END_INFO_TAG).plugin_data.content
    end = metadata.parse_session_end_info_plugin_data(content)
    values = {k: v.WhichOneof("kind") for k, v in start.hparams.items()}
    return f"hparams: {values}, status {end.status}"


def session_groups(logdir):
    """The HParams tab's table: TensorBoard's hparams plugin over `logdir`."""
    from tensorboard import context
    from tensorboard.backend.event_processing import data_provider
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, backend_context, list_session_groups

    mux = pem.EventMultiplexer()
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    tb = base_plugin.TBContext(
        logdir=logdir,
        multiplexer=mux,
        data_provider=data_provider.MultiplexerDataProvider(mux, logdir),
    )
    request = api_pb2.ListSessionGroupsRequest(
        start_index=0,
        slice_size=100,
        # what the tab asks for: sessions of every status
        allowed_statuses=list(api_pb2.Status.values()),
    )
    handler = list_session_groups.Handler(
        context.RequestContext(), backend_context.Context(tb), "", request
    )
    return handler.run()


def main(run_dirs):
    for run_dir in run_dirs:
        print(run_dir)
        files = sorted(f for f in os.listdir(run_dir) if "tfevents" in f)
        if not files:
            fail("no event file")
        print(f"  {len(files)} event file(s): {', '.join(files)}")
        acc = load(run_dir)
        with open(os.path.join(run_dir, "config.toml"), "rb") as f:
            config = tomllib.load(f)
        for check in (
            lambda: check_scalars(acc, run_dir),
            lambda: check_image(acc, config),
            lambda: check_config(acc, run_dir),
            lambda: check_hparams(acc, run_dir),
        ):
            print(f"  ok  {check()}")
    parents = {os.path.dirname(os.path.abspath(d)) for d in run_dirs}
    logdir = os.path.commonpath(sorted(parents))
    groups = session_groups(logdir)
    print(f"HParams tab over {logdir}: {groups.total_size} session group(s)")
    for g in groups.session_groups:
        hp = {k: json.loads(json_value(v)) for k, v in g.hparams.items()}
        metrics = {m.name.tag: round(m.value, 4) for m in g.metric_values}
        status = [s.status for s in g.sessions]
        shown = {k: metrics[k] for k in sorted(metrics) if k.startswith("epoch/test")}
        print(f"  {g.name}: hparams {hp}, status {status}, {len(metrics)} metrics {shown}")
    print("all checks passed")


def json_value(v):
    from google.protobuf import json_format

    return json_format.MessageToJson(v)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
