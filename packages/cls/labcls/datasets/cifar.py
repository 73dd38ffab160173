"""CIFAR-10 and CIFAR-100, read from their published python pickle files.

CIFAR-10 ships ``data_batch_1`` .. ``data_batch_5``, ``test_batch`` and
``batches.meta`` in ``cifar-10-batches-py/``; CIFAR-100 ships ``train``, ``test`` and
``meta`` in ``cifar-100-python/``. Each data file is a pickled dict with byte-string keys:
``b'data'`` (uint8 ndarray[N, 3072], the red, green and blue 32x32 planes of each image
in turn) and ``b'labels'`` (CIFAR-10) or ``b'fine_labels'`` (CIFAR-100).

Pickles can run code while loading, so they are read with :class:`RestrictedUnpickler`,
which only allows the few functions that rebuild byte strings and numpy arrays.
"""

from __future__ import annotations

import codecs
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from mmengine.dataset import BaseDataset

from labcls.datasets.errors import DatasetError
from labcls.datasets.pipeline import build_pipeline
from labcls.registry import DATASETS

_ALLOWED_GLOBALS = {
    ("_codecs", "encode"): codecs.encode,  # byte strings in protocol-2 pickles from python 3
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy.core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): np._core.multiarray.scalar,
    ("numpy.core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
    ("numpy._core.numeric", "_frombuffer"): np._core.numeric._frombuffer,
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that builds only plain Python values, byte strings and numpy arrays.

    Any other global (a class, a function such as ``os.system``) raises
    :class:`DatasetError` instead of being imported.
    """

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED_GLOBALS:
            return _ALLOWED_GLOBALS[(module, name)]
        raise DatasetError(
            f"'{getattr(self, 'source', 'pickle')}' refers to '{module}.{name}', which a CIFAR "
            f"file never needs; refusing to load it. Download the original CIFAR files."
        )


def load_pickle(path: Path) -> dict:
    """A CIFAR pickle file as a dict with str keys (the files store byte-string keys)."""
    if not path.is_file():
        raise DatasetError(
            f"CIFAR file '{path}' does not exist. Point data_root at the folder holding "
            f"'cifar-10-batches-py' or 'cifar-100-python' (or at that folder itself)."
        )
    with path.open("rb") as f:
        unpickler = RestrictedUnpickler(f, encoding="bytes")
        unpickler.source = str(path)
        try:
            content = unpickler.load()
        except (pickle.UnpicklingError, EOFError, ValueError) as err:
            raise DatasetError(f"CIFAR file '{path}' is corrupt ({err}).") from err
    if not isinstance(content, dict):
        raise DatasetError(f"CIFAR file '{path}' holds a {type(content).__name__}, not a dict.")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in content.items()}


@DATASETS.register_module()
class CIFAR10(BaseDataset):
    """CIFAR-10: 50,000 training and 10,000 test images of 32x32 pixels, 10 classes.

    Each sample is ``dict(img=uint8 ndarray[32, 32, 3] RGB, gt_label=int)``, so the
    pipeline starts without LoadImageFromFile.

    Args:
        data_root: the folder holding ``cifar-10-batches-py`` (or that folder itself).
        split: 'train' or 'test'.
        pipeline, test_mode, lazy_init, indices, serialize_data, max_refetch: as in
            :class:`mmengine.dataset.BaseDataset`.
    """

    folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    meta_file = "batches.meta"
    meta_key = "label_names"
    label_key = "labels"

    def __init__(
        self,
        *,
        data_root: str,
        split: str = "train",
        pipeline: Sequence[dict] = (),
        test_mode: bool = False,
        lazy_init: bool = False,
        indices: int | Sequence[int] | None = None,
        serialize_data: bool = True,
        max_refetch: int = 1000,
    ):
        if split not in ("train", "test"):
            raise DatasetError(f"{type(self).__name__}.split is '{split}'; use 'train' or 'test'.")
        self.split = split
        super().__init__(
            data_root=data_root,
            pipeline=build_pipeline(pipeline),
            test_mode=test_mode,
            lazy_init=lazy_init,
            indices=indices,
            serialize_data=serialize_data,
            max_refetch=max_refetch,
        )

    def files_folder(self) -> Path:
        """The folder with the pickle files."""
        root = Path(self.data_root)
        return root / self.folder if (root / self.folder).is_dir() else root

    def load_data_list(self) -> list[dict]:
        folder = self.files_folder()
        meta = load_pickle(folder / self.meta_file)
        classes = tuple(
            name.decode() if isinstance(name, bytes) else str(name) for name in meta[self.meta_key]
        )
        self._metainfo["classes"] = classes
        data_list = []
        for name in self.train_files if self.split == "train" else self.test_files:
            batch = load_pickle(folder / name)
            if "data" not in batch or self.label_key not in batch:
                raise DatasetError(
                    f"CIFAR file '{folder / name}' lacks the keys 'data' and "
                    f"'{self.label_key}' (it has {sorted(batch)})."
                )
            images = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            images = images.transpose(0, 2, 3, 1)
            labels = batch[self.label_key]
            if len(labels) != len(images):
                raise DatasetError(
                    f"CIFAR file '{folder / name}' has {len(images)} images but "
                    f"{len(labels)} labels."
                )
            for index, (img, label) in enumerate(zip(images, labels)):
                if not 0 <= int(label) < len(classes):
                    raise DatasetError(
                        f"CIFAR file '{folder / name}', image {index}: label {label} is "
                        f"outside 0..{len(classes) - 1}."
                    )
                data_list.append(dict(img=np.ascontiguousarray(img), gt_label=int(label)))
        return data_list

    def prepare_data(self, idx: int) -> dict:
        """Run the pipeline on sample ``idx``, with ``img_shape``/``ori_shape`` set."""
        info = self.get_data_info(idx)
        info["ori_shape"] = info["img_shape"] = info["img"].shape[:2]
        return self.pipeline(info)


@DATASETS.register_module()
class CIFAR100(CIFAR10):
    """CIFAR-100: 50,000 training and 10,000 test images of 32x32 pixels, 100 classes
    (the fine labels). Arguments as :class:`CIFAR10`; data_root holds ``cifar-100-python``.
    """

    folder = "cifar-100-python"
    train_files = ("train",)
    test_files = ("test",)
    meta_file = "meta"
    meta_key = "fine_label_names"
    label_key = "fine_labels"
