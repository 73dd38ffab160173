"""The sweep's publishing step: finished configs go to the sweep's local zoo
(``<work dir>/zoo``), where configs that start from them (``zoo://NAME``) find them,
through ``OPENLAB_ZOO_MANIFESTS`` (set for the workers by the sweep)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from labbench.runfolder import RunFolder
from labbench.scheduler import GroupKey
from labcore.zoo.settings import zoo_manifests_with


class LocalZoo:
    """Publishes groups of finished runs to ``root`` and remembers what became of each:
    ``None`` once published, else why it is not."""

    def __init__(self, root: Path, say: Callable[[str], None]):
        self.root = Path(root)
        self.say = say
        self.published: dict[GroupKey, str | None] = {}

    @property
    def manifests(self) -> str:
        """The ``OPENLAB_ZOO_MANIFESTS`` value that adds this zoo to the configured ones."""
        return zoo_manifests_with(self.root)

    def publish(self, key: GroupKey, folders: list[RunFolder], *, per_seed: bool = False) -> None:
        """Publish one config's finished seeds (the representative seed, with the mean and
        std over all of them), and with ``per_seed`` each seed as ``NAME.seed<i>`` too."""
        from labbench.publish import publish

        try:
            publish(folders, self.root, manifest_dir=self.root, per_seed=per_seed)
        except Exception as err:  # recorded: the runs that need it fail with this reason
            self.published[key] = f"publishing it failed ({type(err).__name__}: {err})"
            self.say(f"  {key[1]}: {self.published[key]}")
            return
        self.published[key] = None
        seeds = " and each of its seeds" if per_seed else ""
        self.say(f"  published {key[1]} ({key[0]}){seeds} to the local zoo {self.root}")

    def refuse(self, key: GroupKey, reason: str) -> None:
        self.published[key] = reason

    def upstream_error(self, upstream: tuple[GroupKey, ...]) -> str:
        """Why a run that starts from ``upstream`` cannot start ('' when all published)."""
        return "; ".join(
            f"zoo://{name} ({protocol}) was not published: {self.published[(protocol, name)]}"
            for protocol, name in upstream
            if self.published.get((protocol, name))
        )

    def write_page(self) -> int:
        """Write ``model_zoo.md`` of what is published; returns how many models it holds."""
        published = sum(reason is None for reason in self.published.values())
        if not published:
            return 0
        from labcore.zoo.docs import render
        from labcore.zoo.manifest import all_entries

        page = self.root / "model_zoo.md"
        page.write_text(render(all_entries([self.root])))
        self.say(
            f"Local zoo: {published} model(s) in {self.root} (table: {page}); use them "
            f"anywhere with\n  OPENLAB_ZOO_MANIFESTS={self.manifests} lab zoo list"
        )
        return published
