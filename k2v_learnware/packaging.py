"""Write a learnware zip in the Beimingwu layout, carrying our specifications.

A learnware zip holds ``learnware.yaml`` (which names the model class and every
statistical specification by ``module_path`` and ``class_name``), the spec JSON
files, the model and its ``__init__.py`` loader, and a semantic specification.
``learnware``'s own loader resolves our classes by importing ``k2v_learnware``.

Submission stage, kept at the top of the package on purpose: every stored
learnware's ``__init__.py`` imports ``k2v_learnware.packaging.PickledModel``, so
this module's path is part of the stored format and never moves.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import yaml
from learnware.model import BaseModel

MODEL_FILE = "model.pkl"
SEMANTIC_FILE = "semantic_specification.json"

# Written into every zip: the model is loaded by the learnware package from this file.
_MODEL_LOADER = '''"""Loads the pickled model of this learnware (written by k2v_learnware.pack_learnware)."""
import os

from k2v_learnware.packaging import PickledModel


class Model(PickledModel):
    def __init__(self, input_shape, output_shape):
        here = os.path.dirname(os.path.abspath(__file__))
        super().__init__(os.path.join(here, "model.pkl"), tuple(input_shape), tuple(output_shape))
'''


class PickledModel(BaseModel):
    """A ``learnware`` model wrapping any pickled object with ``predict``.

    A model is code by nature (as in ``learnware``'s own PickleModelTemplate);
    specifications, by contrast, are JSON and never unpickled.
    """

    def __init__(self, model_path: str, input_shape: tuple, output_shape: tuple):
        super().__init__(input_shape=tuple(input_shape), output_shape=tuple(output_shape))
        with open(model_path, "rb") as f:
            self.model = pickle.load(f)
        if hasattr(self.model, "classes_") and callable(getattr(self.model, "predict_proba", None)):
            self.classes_ = self.model.classes_  # lets black-box probing use the probabilities

    def _as_input(self, X):
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.input_shape and X[0].size == int(np.prod(self.input_shape)):
            X = X.reshape((len(X),) + self.input_shape)
        return X

    def predict(self, X):
        return np.asarray(self.model.predict(self._as_input(X)))

    def predict_proba(self, X):
        return np.asarray(self.model.predict_proba(self._as_input(X)))


def output_dimension(classes) -> int:
    """The semantic output dimension of a classifier predicting these labels.

    ``learnware`` reads a label-predicting model's outputs as indices into its
    output space, so integer labels 4 and 5 need a dimension of at least 6.
    """
    if all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in classes):
        return max(2, max(classes) + 1)
    return max(2, len(classes))


def default_semantic_spec(input_shape, num_classes: int, name: str = "learnware", description: str = "") -> dict:
    """A semantic specification the stock semantic checker accepts, for a classifier on this input.

    ``num_classes`` is the output dimension (see :func:`output_dimension`).
    """
    from learnware.specification import generate_semantic_spec

    image = len(input_shape) == 3
    return generate_semantic_spec(
        name=name,
        description=description or f"{num_classes}-class classifier packed by k2v-learnware",
        data_type="Image" if image else "Table",
        task_type="Classification",
        library_type="Scikit-learn",
        scenarios=["Others"],
        license="MIT",
        input_description=None if image else {"Dimension": int(input_shape[0]), "Description": {}},
        output_description={"Dimension": max(2, int(num_classes)), "Description": {}},
    )


def _spec_entry(spec) -> tuple[dict, str]:
    """The learnware.yaml entry and file name for one statistical specification."""
    module = type(spec).__module__
    module_path = "k2v_learnware" if module.startswith("k2v_learnware") else "learnware.specification"
    file_name = {"LANESpecification": "lane_spec.json", "RKMETableSpecification": "rkme_spec.json"}.get(
        spec.type, f"{spec.type}.json"
    )
    return {"module_path": module_path, "class_name": spec.type, "file_name": file_name, "kwargs": {}}, file_name


def pack_learnware(model, specs, path, semantic_spec: dict | None = None, name: str | None = None) -> Path:
    """Write a learnware zip at ``path`` and return the path.

    ``model`` is a scikit-learn estimator or any picklable object with
    ``predict``; ``specs`` is one specification or a list of them (a
    ``LANESpecification``, optionally with a ``learnware`` RKME table spec so
    stock markets can read the learnware too). Without ``semantic_spec`` a
    classification one is derived from the LANE specification.
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
        semantic_spec = default_semantic_spec(input_shape, output_dimension(lane.classes), name=name or "learnware")

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = []
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for spec in specs:
            entry, file_name = _spec_entry(spec)
            entries.append(entry)
            buffer_path = path.with_name(f".{path.name}.{file_name}")
            spec.save(str(buffer_path))
            zf.write(buffer_path, file_name)
            buffer_path.unlink()
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
        zf.writestr("__init__.py", _MODEL_LOADER)
        zf.writestr(SEMANTIC_FILE, json.dumps(semantic_spec))
        buffer = io.BytesIO()
        pickle.dump(model, buffer)
        zf.writestr(MODEL_FILE, buffer.getvalue())
        zf.writestr("requirements.txt", "k2v-learnware\nscikit-learn\n")
    return path


def read_semantic_spec(zip_path) -> dict:
    """The semantic specification stored in a zip written by :func:`pack_learnware`."""
    with zipfile.ZipFile(zip_path) as zf:
        if SEMANTIC_FILE not in zf.namelist():
            raise ValueError(f"{zip_path} holds no {SEMANTIC_FILE}; was it written by pack_learnware?")
        return json.loads(zf.read(SEMANTIC_FILE))
