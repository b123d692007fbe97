"""Learnwares made only with the learnware package's own tools, as a stock developer would submit them."""

from pathlib import Path

import numpy as np
import torch


def median_gamma(X) -> float:
    sq = ((X[:300, None] - X[None, :300]) ** 2).sum(-1)
    return float(1.0 / np.median(sq[np.triu_indices(len(X[:300]), 1)]))


def stock_rkme_zip(model, X, path: Path) -> Path:
    """A learnware made only with the learnware package's own tools (RKME spec, pickle template)."""
    import pickle
    import tempfile

    from learnware.specification import generate_rkme_table_spec
    from learnware.tests.templates import LearnwareTemplate, PickleModelTemplate, StatSpecTemplate

    np.random.seed(0), torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        rkme = generate_rkme_table_spec(X, gamma=median_gamma(X), cuda_idx=-1)
        rkme.save(f"{folder}/rkme.json")
        with open(f"{folder}/model.pkl", "wb") as f:
            pickle.dump(model, f)
        LearnwareTemplate.generate_learnware_zipfile(
            str(path), PickleModelTemplate(pickle_filepath=f"{folder}/model.pkl",
                                           model_kwargs={"input_shape": (64,), "output_shape": (1,)}),
            StatSpecTemplate(filepath=f"{folder}/rkme.json", type="RKMETableSpecification"))
    return path


def stock_semantic_spec(name: str, description: str, classes: int):
    """The semantic specification a stock developer writes for a 64-feature digits classifier (``classes``: its
    output dimension, which the stock checker requires to exceed every label)."""
    from learnware.specification import generate_semantic_spec

    return generate_semantic_spec(name=name, description=description, data_type="Table",
                                  task_type="Classification", library_type="Scikit-learn", scenarios=["Others"],
                                  license="MIT", input_description={"Dimension": 64, "Description": {}},
                                  output_description={"Dimension": classes, "Description": {}})
