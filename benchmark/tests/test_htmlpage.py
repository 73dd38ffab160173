"""The leaderboard page in a real browser: Debian's headless Chromium loads it from an
HTTP server on 127.0.0.1 at a 1280 px window, and the page must not scroll sideways, and
every link must resolve. The screenshot it takes is the one the docs show
(``OPENLAB_UPDATE_SCREENSHOT=1`` writes it to docs/_static/leaderboard.png)."""

from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import urllib.request
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from labbench.leaderboard import write_leaderboard
from labbench.protocol import load_protocol

DOCS = Path(__file__).resolve().parents[2] / "docs"
SCREENSHOT = DOCS / "_static" / "leaderboard.png"
CHROMIUM = shutil.which("chromium")
MLFLOW_UI = "http://127.0.0.1:5000"

# (paper title, URL, metric per seed, GFLOPs, params (M), expected band) per config, with
# the names, papers and bands of the shapes-tiny metafiles; the detectors of equal FLOPs.
SWEEP = {
    "det-shapes-tiny": {
        "retinanet_r18_fpn_shapes": ("Focal Loss for Dense Object Detection", "https://arxiv.org/abs/1708.02002", [0.354, 0.381, 0.327], 0.02008, 12.1, [0.30, 0.41]),
        "fcos_r18_fpn_shapes": ("FCOS: Fully Convolutional One-Stage Object Detection", "https://arxiv.org/abs/1904.01355", [0.472, 0.489, 0.455], 0.02008, 11.9, [0.42, 0.52]),
        "atss_r18_fpn_shapes": ("Bridging the Gap Between Anchor-based and Anchor-free Detection via Adaptive Training Sample Selection", "https://arxiv.org/abs/1912.02424", [0.522, 0.498, 0.531], 0.02016, 11.9, [0.42, 0.62]),
        "gfl_r18_fpn_shapes": ("Generalized Focal Loss: Learning Qualified and Distributed Bounding Boxes for Dense Object Detection", "https://arxiv.org/abs/2006.04388", [0.401, 0.415, 0.392], 0.02016, 12.0, [0.46, 0.66]),
        "cascade-mask-rcnn_r18_fpn_shapes": ("Cascade R-CNN: Delving into High Quality Object Detection", "https://arxiv.org/abs/1712.00726", [0.612, 0.633, 0.598], 0.0612, 43.6, [0.40, 0.80]),
    },
    "cls-shapes-tiny": {
        "resnet18_tiny_shapes": ("Deep Residual Learning for Image Recognition", "https://arxiv.org/abs/1512.03385", [0.935, 0.9425, 0.9075], 0.0371, 11.2, [0.88, 0.97]),
        "resnet34_tiny_shapes": ("Deep Residual Learning for Image Recognition", "https://arxiv.org/abs/1512.03385", [0.9575, 0.95, 0.965], 0.0749, 21.3, [0.55, 0.95]),
        "mobilenet-v2_1.0x_tiny_shapes": ("MobileNetV2: Inverted Residuals and Linear Bottlenecks", "https://arxiv.org/abs/1801.04381", [0.861, 0.874, 0.849], 0.0061, 2.2, None),
    },
}  # fmt: skip


def sweep_records(make_records) -> tuple[pd.DataFrame, dict]:
    """Per-seed records of a default sweep of two shapes-tiny protocols logged to an
    MLflow server: 32-hex run ids, a parent run per config, the metafiles' papers, train
    times that grow with the FLOPs, and falling loss curves."""
    frames, protocols = [], {}
    for experiment, (name, configs) in enumerate(SWEEP.items(), start=1):
        protocols[name] = protocol = load_protocol(name)
        records = make_records(name, {config: spec[2] for config, spec in configs.items()})
        spec = records["config"].map(configs)
        gflops = spec.str[3]
        records = records.assign(
            paper_title=spec.str[0], paper_url=spec.str[1], flops=gflops * 1e9,
            params=spec.str[4] * 1e6, train_time_s=40.0 + 2000 * gflops + records["seed"],
            peak_memory_mb=300.0 + 2000 * gflops, tracking_uri=MLFLOW_UI,
            experiment_id=str(experiment),
            run_id=[_hex(f"{c}-{s}") for c, s in zip(records["config"], records["seed"])],
            parent_run_id=[_hex(c) for c in records["config"]],
            expected=[{protocol.metric.name: s[5]} if s[5] else {} for s in spec],
            codebase="labdet" if name.startswith("det") else "labcls",
            curve=[
                [(step, 0.3 + 2.0 * 0.5 ** (step / (40 + 400 * f)) + 0.01 * seed) for step in range(0, 201, 10)]
                for f, seed in zip(gflops, records["seed"])
            ],
        )  # fmt: skip
        frames.append(records)
    return pd.concat(frames, ignore_index=True), protocols


def _hex(text: str) -> str:
    """A 32-hex id like MLflow's run ids."""
    return hashlib.md5(text.encode()).hexdigest()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@pytest.fixture
def served_board(tmp_path, make_records):
    """The leaderboard written to a folder that an HTTP server on 127.0.0.1 serves."""
    records, protocols = sweep_records(make_records)
    board = tmp_path / "board"
    write_leaderboard(records, protocols, board)
    handler = functools.partial(_QuietHandler, directory=str(board))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield board, f"http://127.0.0.1:{server.server_address[1]}", records
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def chromium(url: str, profile: Path, *args: str) -> str:
    """Headless Chromium at a 1280x900 window on ``url``; its stdout."""
    sandbox = ["--no-sandbox"] if os.geteuid() == 0 else []  # Chromium's sandbox refuses root
    command = [
        CHROMIUM, "--headless", "--disable-gpu", "--no-first-run", "--disable-extensions",
        "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900",
        *sandbox, *args, url,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


# Measures the laid-out page once it has loaded and writes the result into the DOM, where
# --dump-dom shows it.
MEASURE = """<script>
addEventListener("load", () => {
  const root = document.documentElement;
  const links = [...document.querySelectorAll("a[href]")].map(a => (
    {href: a.href, raw: a.getAttribute("href"), title: a.title, text: a.textContent}));
  const result = {
    innerWidth: window.innerWidth, scrollWidth: root.scrollWidth, clientWidth: root.clientWidth,
    tableRight: Math.max(...[...document.querySelectorAll("table")].map(
      t => t.getBoundingClientRect().right)),
    images: [...document.images].map(i => i.naturalWidth > 0 && i.getBoundingClientRect().right),
    links, missingTargets: links.filter(l => l.raw.startsWith("#"))
      .filter(l => !document.getElementById(l.raw.slice(1))).map(l => l.raw),
  };
  const out = document.createElement("pre");
  out.id = "measured";
  out.textContent = JSON.stringify(result);
  document.body.append(out);
});
</script>"""


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium is not installed: apt-get install chromium (.ci/run does)",
)
def test_the_page_fits_1280px_and_every_link_resolves(served_board, tmp_path):
    board, server, records = served_board
    page = (board / "leaderboard.html").read_text()
    (board / "measure.html").write_text(page.replace("</body>", MEASURE + "</body>"))
    dom = chromium(f"{server}/measure.html", tmp_path / "profile", "--dump-dom")
    found = re.search(r'<pre id="measured">(.*?)</pre>', dom, re.S)
    assert found, f"the measuring script did not run: {dom[-500:]}"
    measured = json.loads(html.unescape(found.group(1)))

    assert measured["innerWidth"] == 1280  # the window; clientWidth is less the scroll bar
    assert measured["scrollWidth"] <= measured["clientWidth"], measured
    assert measured["tableRight"] <= measured["clientWidth"], measured
    assert len(measured["images"]) == 6 and all(
        0 < right <= measured["clientWidth"] for right in measured["images"]
    ), measured["images"]
    assert not measured["missingTargets"]

    links = measured["links"]
    local = [link for link in links if link["href"].startswith(server)]
    mlflow = [link for link in links if link["href"].startswith(MLFLOW_UI + "/#")]
    papers = [link for link in links if link not in local + mlflow]
    assert {link["raw"] for link in local} >= {
        "leaderboard.csv", "leaderboard.md", "leaderboard.tex", "#cls-shapes-tiny", "#det-shapes-tiny"
    }  # fmt: skip
    for link in local:
        with urllib.request.urlopen(link["href"].split("#")[0], timeout=10) as response:
            assert response.status == 200, link
    parents = set(zip(records["experiment_id"], records["parent_run_id"]))
    assert len(mlflow) == len(parents) == 8
    for link in mlflow:
        run = re.fullmatch(r"http://127\.0\.0\.1:5000/#/experiments/(\d+)/runs/([0-9a-f]{32})", link["href"])  # fmt: skip
        assert run and run.groups() in parents, link
    titles = dict(zip(records["paper_url"], records["paper_title"]))
    assert len(papers) == 8 + 1  # a paper per config, and the MLflow server itself
    for link in papers:
        if link["href"].rstrip("/") == MLFLOW_UI:
            continue
        assert titles[link["href"]] == link["title"] and len(link["text"]) <= 24, link

    shot = tmp_path / "leaderboard.png"
    chromium(f"{server}/leaderboard.html", tmp_path / "profile", f"--screenshot={shot}", "--hide-scrollbars")  # fmt: skip
    assert _png_size(shot) == (1280, 900) and shot.stat().st_size < 300_000
    if os.environ.get("OPENLAB_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, SCREENSHOT)


def test_the_docs_show_the_screenshot():
    assert _png_size(SCREENSHOT) == (1280, 900) and SCREENSHOT.stat().st_size < 300_000
    assert "_static/leaderboard.png" in (DOCS / "protocols.md").read_text()
