"""The synthetic shapes classification set, in its ImageNet-style folder layout."""

from __future__ import annotations

from collections.abc import Sequence

from labcls.datasets.errors import DatasetError
from labcls.datasets.image_folder import CustomDataset
from labcls.registry import DATASETS


@DATASETS.register_module()
class ShapesDataset(CustomDataset):
    """Synthetic shapes for classification (labcore.datasets.synthetic, task 'cls').

    The set's layout is ``classes.txt``, ``meta/{train,val}.txt`` and images under
    ``train/`` and ``val/``. Give ``data_root`` for an existing copy, or ``generate``
    to have it made (once, under a file lock) by
    ``labcore.datasets.synthetic.ensure_shapes(task='cls', root=data_root, **generate)``.

    Args:
        split: 'train' or 'val'.
        data_root: the set's folder; with ``generate``, the root under which sets are
            cached (None: ``$OPENLAB_DATA`` or ``~/.cache/openlab/data``).
        generate: ensure_shapes keyword arguments (seed, version, num_train, num_val,
            image_size), or None to use ``data_root`` as it is.
        pipeline, test_mode, lazy_init, indices, serialize_data, max_refetch: as in
            :class:`mmengine.dataset.BaseDataset`.
    """

    def __init__(
        self,
        *,
        split: str = "train",
        data_root: str | None = None,
        generate: dict | None = None,
        pipeline: Sequence[dict] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        indices: int | Sequence[int] | None = None,
        serialize_data: bool = True,
        max_refetch: int = 1000,
    ):
        if split not in ("train", "val"):
            raise DatasetError(f"ShapesDataset.split is '{split}'; use 'train' or 'val'.")
        if generate is not None:
            from labcore.datasets.synthetic import ensure_shapes

            data_root = str(ensure_shapes("cls", root=data_root, **dict(generate)))
        elif not data_root:
            raise DatasetError(
                "ShapesDataset needs data_root (an existing shapes set) or generate=dict(...) "
                "to create one."
            )
        super().__init__(
            data_root=data_root,
            ann_file=f"meta/{split}.txt",
            data_prefix=split,
            classes=f"{data_root}/classes.txt",
            pipeline=pipeline,
            test_mode=test_mode,
            lazy_init=lazy_init,
            indices=indices,
            serialize_data=serialize_data,
            max_refetch=max_refetch,
        )
