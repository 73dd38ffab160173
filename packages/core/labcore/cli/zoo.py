"""The model zoo: list, show, download, verify, publish and import weights.

    lab zoo list [--task TASK] [--codebase CODEBASE] [--source openlab|torchvision|openmmlab]
    lab zoo show NAME
    lab zoo download NAME [--verify]
    lab zoo verify [NAME] [--remote]
    lab zoo publish CHECKPOINT --name NAME --config CONFIG --dest DEST --protocol P [...]
    lab zoo import WEIGHTS --layout torchvision --family resnet --name NAME --config CONFIG --dest DEST [...]
    lab zoo docs [--output docs/model_zoo.md] [--check]
    lab zoo schema [--output model_zoo/schema.json]
    lab zoo serve DIR [--port 8000] [--allow-upload]

DEST is a folder, a file:// URL, an http(s):// base URL that accepts PUT, or mlflow[:URI].
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
from pathlib import Path

from labcore.zoo.errors import ChecksumError, ZooError

METRIC = re.compile(r"^([\w./-]+)=([-\d.eE]+)(?:\+-([\d.eE]+))?(?:@([-\d.eE]+))?$")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="zoo_command", required=True, metavar="ACTION")

    p = sub.add_parser("list", help="list the published models")
    p.add_argument("--task", help="only this task, e.g. image-classification")
    p.add_argument("--codebase", help="only this codebase, e.g. labcls")
    p.add_argument(
        "--source",
        choices=["openlab", "torchvision", "openmmlab"],
        help="only models trained by OpenLab, or imported from torchvision / OpenMMLab",
    )

    p = sub.add_parser("show", help="show one manifest entry in full")
    p.add_argument("name")

    p = sub.add_parser("download", help="download weights into the cache")
    p.add_argument("name")
    p.add_argument("--verify", action="store_true", help="hash a cached copy too")

    p = sub.add_parser("verify", help="check the sha256 of cached weights (all, or NAME)")
    p.add_argument("name", nargs="?")
    p.add_argument(
        "--remote",
        action="store_true",
        help="instead, check that every source URL serves a file of the recorded size",
    )

    for action, helptext in (
        ("publish", "publish a training checkpoint's weights"),
        ("import", "convert another project's weights to OpenLab's layout and publish them"),
    ):
        p = sub.add_parser(action, help=helptext)
        p.add_argument("checkpoint", help=".pth checkpoint or .safetensors file")
        if action == "import":
            p.add_argument("--layout", required=True, choices=["torchvision", "openmmlab"])
            p.add_argument(
                "--family", help="architecture family, e.g. resnet (torchvision: guessed)"
            )
        p.add_argument("--name", required=True, help="zoo name (lower case)")
        p.add_argument("--config", required=True, help="pkg::rel/path.py or a config file")
        p.add_argument("--dest", required=True, help="folder, file://, http(s):// or mlflow[:URI]")
        p.add_argument("--protocol", default="external", help="benchmark protocol name")
        p.add_argument("--protocol-version", type=int, default=1)
        p.add_argument(
            "--metric",
            action="append",
            default=[],
            metavar="NAME=MEAN[+-STD][@PUBLISHED]",
            help="a metric, e.g. top1=0.953+-0.004@0.957 (repeatable)",
        )
        p.add_argument("--seed", type=int, default=0, help="the published seed")
        p.add_argument("--seeds", type=int, nargs="+", help="all seeds the mean is over")
        p.add_argument("--task", help="default: from the codebase's metafile.yml")
        p.add_argument("--codebase", help="default: the config's default_scope")
        p.add_argument("--params", type=int, help="default: counted on the built model")
        p.add_argument("--flops", type=int)
        p.add_argument("--mlflow-run-id")
        p.add_argument("--license", default="Apache-2.0")
        p.add_argument("--manifest-dir", help="default: the repository's model_zoo/")
        p.add_argument("--base-url", help="public URL the destination folder is served at")

    p = sub.add_parser(
        "record-digests",
        help="fetch imported weights and write their full sha256 and size into a manifest",
    )
    p.add_argument("manifest", help="a manifest file, e.g. model_zoo/imported-torchvision.yml")
    p.add_argument("names", nargs="*", help="only these entries (default: those without one)")

    p = sub.add_parser("docs", help="generate docs/model_zoo.md from the manifests")
    p.add_argument("--output", help="default: docs/model_zoo.md beside model_zoo/")
    p.add_argument("--check", action="store_true", help="fail if the file is out of date")

    p = sub.add_parser("schema", help="write the manifests' JSON schema")
    p.add_argument("--output", help="default: model_zoo/schema.json")

    p = sub.add_parser("serve", help="serve a zoo folder over HTTP (GET with Range; PUT)")
    p.add_argument("root")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--allow-upload", action="store_true", help="accept PUT uploads")


def run(args: argparse.Namespace) -> int:
    return ACTIONS[args.zoo_command](args)


def _source(entry) -> str:
    """``openlab`` for a trained entry, else the project that published the weights."""
    return entry.source.project if entry.kind == "imported" else "openlab"


def _list_metrics(entry) -> str:
    if entry.kind == "imported":
        published = ", ".join(f"{k}={v:g}" for k, v in entry.metrics.items())
        return f"{published} ({entry.dataset}, published)"
    return ", ".join(f"{k}={m.mean:.4f}±{m.std:.4f}" for k, m in entry.metrics.items())


def _list(args) -> int:
    from labcore.zoo.client import cache_path
    from labcore.zoo.manifest import all_entries

    entries = [
        e
        for e in all_entries()
        if (not args.task or e.task == args.task)
        and (not args.codebase or e.codebase == args.codebase)
        and (not args.source or _source(e) == args.source)
    ]
    if not entries:
        print("no published models match")
        return 0
    rows = [
        ("NAME", "KIND", "SOURCE", "CODEBASE", "TASK", "PROTOCOL", "METRICS", "PARAMS", "CACHED")
    ]
    for e in sorted(entries, key=lambda e: (e.kind != "trained", e.codebase, e.name)):
        protocol = f"{e.protocol.name}@{e.protocol.version}" if e.kind == "trained" else "-"
        cached = "yes" if cache_path(e).is_file() else "no"
        rows.append(
            (
                e.name, e.kind, _source(e), e.codebase, e.task, protocol, _list_metrics(e),
                f"{e.params / 1e6:.2f}M", cached,
            )
        )  # fmt: skip
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    return 0


def _show(args) -> int:
    import yaml

    from labcore.zoo.client import cache_path, candidate_urls, resolve

    entry = resolve(args.name)
    print(yaml.safe_dump(entry.model_dump(mode="json", exclude_none=True), sort_keys=False), end="")
    path = cache_path(entry)
    print(f"# cache: {path} ({'present' if path.is_file() else 'not downloaded'})")
    print(f"# sources, in order: {', '.join(candidate_urls(entry))}")
    return 0


def _download(args) -> int:
    from labcore.zoo.client import download

    print(download(args.name, verify=args.verify))
    return 0


def _verify(args) -> int:
    from labcore.zoo.client import cache_path, verify_file
    from labcore.zoo.manifest import all_entries, find_entry

    entries = [find_entry(args.name)] if args.name else all_entries()
    if args.remote:
        return _verify_remote(entries)
    failed = 0
    for entry in entries:
        if not args.name and not cache_path(entry).is_file():
            print(f"{entry.name}: not downloaded")
            continue
        try:
            print(f"{entry.name}: OK {verify_file(entry)}")
        except ChecksumError as err:
            print(f"{entry.name}: FAILED: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def _record_digests(args) -> int:
    from labcore.zoo.digests import record_digests

    recorded, failed = record_digests(args.manifest, args.names or None)
    print(f"recorded {recorded} digest(s) in {args.manifest}; {len(failed)} failed")
    return 1 if failed else 0


def _verify_remote(entries) -> int:
    from labcore.zoo.client import candidate_urls
    from labcore.zoo.download import probe

    failed = 0
    for entry in entries:
        for url in candidate_urls(entry):
            problem = probe(url, entry.weights.size)
            if problem:
                print(f"{entry.name}: FAILED {url}: {problem}", file=sys.stderr)
                failed += 1
            else:
                print(f"{entry.name}: OK {url}")
    return 1 if failed else 0


def parse_metrics(values: list[str]):
    """``NAME=MEAN[+-STD][@PUBLISHED]`` strings -> {name: MetricSummary}."""
    from labcore.zoo.manifest import MetricSummary

    metrics = {}
    for value in values:
        match = METRIC.match(value.replace(" ", ""))
        if match is None:
            raise ZooError(
                f"--metric '{value}' is not NAME=MEAN[+-STD][@PUBLISHED], e.g. top1=0.95+-0.01@0.96"
            )
        name, mean, std, published = match.groups()
        metrics[name] = MetricSummary(
            mean=float(mean),
            std=float(std or 0),
            published=float(published) if published else float(mean) if std is None else None,
        )
    return metrics


def _publish(args) -> int:
    from labcore.zoo.publish import publish_checkpoint

    checkpoint = Path(args.checkpoint)
    with tempfile.TemporaryDirectory(prefix="openlab-import-") as tmp:
        if args.zoo_command == "import":
            checkpoint = _convert(checkpoint, args.layout, args.family, Path(tmp))
        fields = dict(
            params=args.params,
            flops=args.flops,
            mlflow_run_id=args.mlflow_run_id,
            license=args.license,
            task=args.task,
            seeds=args.seeds or [],
            manifest_dir=args.manifest_dir,
            base_url=args.base_url,
        )
        if args.codebase:
            fields["codebase"] = args.codebase
        entry = publish_checkpoint(
            checkpoint,
            name=args.name,
            config=args.config,
            dest=args.dest,
            protocol=args.protocol,
            protocol_version=args.protocol_version,
            metrics=parse_metrics(args.metric),
            seed=args.seed,
            **fields,
        )
    print(f"published {entry.name}: {entry.weights.urls[0]} sha256 {entry.weights.sha256}")
    return 0


def _convert(source: Path, layout: str, family: str | None, tmp: Path) -> Path:
    """Convert ``source`` to OpenLab's layout and stage it as safetensors in ``tmp``."""
    from labcore.engine.checkpoint import read_checkpoint
    from labcore.models.convert import convert_classifier
    from labcore.zoo.weights import save_safetensors

    weights = read_checkpoint(source).state_dict
    converted = convert_classifier(weights, source=layout, family=family)
    return save_safetensors(converted, tmp / f"{source.stem}.safetensors", {"source": layout})


def _docs(args) -> int:
    from labcore.zoo import settings
    from labcore.zoo.docs import render
    from labcore.zoo.manifest import all_entries

    output = Path(args.output) if args.output else _repo_file("docs/model_zoo.md", settings)
    text = render(all_entries())
    if args.check:
        if not output.is_file() or output.read_text() != text:
            raise ZooError(f"{output} is out of date with the manifests; run `lab zoo docs`")
        print(f"{output} is up to date")
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"wrote {output}")
    return 0


def _schema(args) -> int:
    from labcore.zoo import settings
    from labcore.zoo.manifest import json_schema

    output = Path(args.output) if args.output else _repo_file("model_zoo/schema.json", settings)
    output.write_text(json.dumps(json_schema(), indent=2) + "\n")
    print(f"wrote {output}")
    return 0


def _repo_file(relative: str, settings) -> Path:
    zoo_dir = settings.repository_model_zoo()
    if zoo_dir is None:
        raise ZooError(f"not in a source checkout: pass --output for {relative}")
    return zoo_dir.parent / relative


def _serve(args) -> int:
    from labcore.zoo.server import make_server

    server = make_server(
        args.root, host=args.host, port=args.port, allow_upload=args.allow_upload, verbose=True
    )
    mode = "read-write" if args.allow_upload else "read-only"
    print(f"serving {args.root} ({mode}) at http://{args.host}:{server.server_port}/")
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


ACTIONS = {
    "list": _list,
    "show": _show,
    "download": _download,
    "verify": _verify,
    "record-digests": _record_digests,
    "publish": _publish,
    "import": _publish,
    "docs": _docs,
    "schema": _schema,
    "serve": _serve,
}
