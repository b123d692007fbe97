"""Write a learnware zip in the Beimingwu layout, carrying our specifications.

A learnware zip holds ``learnware.yaml`` (which names the model class and every
statistical specification by ``module_path`` and ``class_name``), the spec JSON
files, the model and its ``__init__.py`` loader, and a semantic specification.
``learnware``'s own loader resolves our classes by importing ``k2v_learnware``.

Submission stage, kept at the top of the package on purpose: the ``__init__.py``
of learnwares packed by earlier versions imports
``k2v_learnware.packaging.PickledModel``, so this module's path is part of the
stored format and never moves. Zips written now carry
:mod:`k2v_learnware.model_loader` as their ``__init__.py``, which needs only
``learnware``.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import uuid
import zipfile
from pathlib import Path

import yaml

from .model_loader import Model as ModelLoaderModel

MODEL_FILE = "model.pkl"
SEMANTIC_FILE = "semantic_specification.json"

def _model_loader_source() -> str:
    """The ``__init__.py`` of every zip we write: :mod:`k2v_learnware.model_loader`, which needs no k2v_learnware."""
    from importlib import resources

    return resources.files("k2v_learnware").joinpath("model_loader.py").read_text(encoding="utf-8")


class PickledModel(ModelLoaderModel):
    """What the ``__init__.py`` of zips written before the standalone loader imports; kept so they still load."""

    def __init__(self, model_path: str, input_shape: tuple, output_shape: tuple):
        super().__init__(input_shape, output_shape, model_path=model_path)


def output_dimension(classes) -> int:
    """The semantic output dimension of a classifier predicting these labels.

    ``learnware`` reads a label-predicting model's outputs as indices into its
    output space, so integer labels 4 and 5 need a dimension of at least 6.
    """
    if all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in classes):
        return max(2, max(classes) + 1)
    return max(2, len(classes))


def default_semantic_spec(input_shape, classes, name: str = "learnware", description: str = "") -> dict:
    """A semantic specification the stock semantic checker accepts, for a classifier of ``classes`` on this input.

    The output dimension is :func:`output_dimension`'s, which for integer labels
    is the largest plus one; the default description counts the classes
    themselves (it said "6-class" of a model predicting labels 4 and 5).
    """
    from learnware.specification import generate_semantic_spec

    image = len(input_shape) == 3
    return generate_semantic_spec(
        name=name,
        description=description or f"{len(classes)}-class classifier packed by k2v-learnware",
        data_type="Image" if image else "Table",
        task_type="Classification",
        library_type="Scikit-learn",
        scenarios=["Others"],
        license="MIT",
        input_description=None if image else {"Dimension": int(input_shape[0]), "Description": {}},
        output_description={"Dimension": output_dimension(classes), "Description": {}},
    )


def _spec_entry(spec) -> tuple[dict, str]:
    """The learnware.yaml entry and file name for one statistical specification."""
    module = type(spec).__module__
    module_path = "k2v_learnware" if module.startswith("k2v_learnware") else "learnware.specification"
    file_name = {"LANESpecification": "lane_spec.json", "RKMETableSpecification": "rkme_spec.json"}.get(
        spec.type, f"{spec.type}.json"
    )
    return {"module_path": module_path, "class_name": spec.type, "file_name": file_name, "kwargs": {}}, file_name


def pack_learnware(model, specs, path, semantic_spec: dict | None = None, name: str | None = None,
                   overwrite: bool = False) -> Path:
    """Write a learnware zip at ``path`` and return the path.

    ``model`` is a scikit-learn estimator or any picklable object with
    ``predict``; ``specs`` is one specification or a list of them (a
    ``LANESpecification``, optionally with a ``learnware`` RKME table spec so
    stock markets can read the learnware too). Without ``semantic_spec`` a
    classification one is derived from the LANE specification. The zip is
    written under a fresh name and renamed into place; an existing ``path`` is
    replaced only with ``overwrite=True``.
    """
    from .specification.lane import LANESpecification

    if not callable(getattr(model, "predict", None)):
        raise TypeError(f"model must have a predict method, got {type(model).__name__}")
    specs = list(specs) if isinstance(specs, (list, tuple)) else [specs]
    if not specs:
        raise ValueError("specs is empty: a learnware needs at least one statistical specification")
    types = [getattr(s, "type", None) for s in specs]
    if None in types or len(set(types)) != len(types):
        raise ValueError(f"specs must be specifications of distinct types, got {types}")
    lane = next((s for s in specs if isinstance(s, LANESpecification)), None)
    if lane is None:
        raise ValueError("specs must include a LANESpecification")
    input_shape = lane.input_shape
    if semantic_spec is None:
        semantic_spec = default_semantic_spec(input_shape, lane.classes, name=name or "learnware")

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a directory; give the path of the .zip to write")
    if path.exists() and not overwrite:
        raise ValueError(f"{path} exists; pass overwrite=True to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        _write_zip(partial, model, specs, input_shape, semantic_spec)
        os.replace(partial, path)  # a failed pack leaves an existing file as it was
    finally:
        partial.unlink(missing_ok=True)
    return path


def _write_zip(path: Path, model, specs, input_shape, semantic_spec) -> None:
    """Every member of the zip, written at ``path``: a fresh name that the caller renames into place."""
    entries = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for spec in specs:
            entry, file_name = _spec_entry(spec)
            entries.append(entry)
            buffer_path = path.with_name(f"{path.name}.{file_name}")
            try:
                spec.save(str(buffer_path))
                zf.write(buffer_path, file_name)
            finally:
                buffer_path.unlink(missing_ok=True)
        config = {
            "model": {
                "class_name": "Model",
                "module_path": "__init__.py",
                # The model predicts one label per row.
                "kwargs": {"input_shape": list(input_shape), "output_shape": [1]},
            },
            "stat_specifications": entries,
            "semantic_specification": {"file_name": SEMANTIC_FILE},
        }
        zf.writestr("learnware.yaml", yaml.safe_dump(config, sort_keys=False))
        zf.writestr("__init__.py", _model_loader_source())
        zf.writestr(SEMANTIC_FILE, json.dumps(semantic_spec))
        buffer = io.BytesIO()
        pickle.dump(model, buffer)
        zf.writestr(MODEL_FILE, buffer.getvalue())
        zf.writestr("requirements.txt", "k2v-learnware\nscikit-learn\n")


def read_semantic_spec(zip_path) -> dict:
    """The semantic specification stored in a zip written by :func:`pack_learnware`."""
    with zipfile.ZipFile(zip_path) as zf:
        if SEMANTIC_FILE not in zf.namelist():
            raise ValueError(f"{zip_path} holds no {SEMANTIC_FILE}; was it written by pack_learnware?")
        return json.loads(zf.read(SEMANTIC_FILE))
