"""The model loader of every learnware zip we write: its ``__init__.py``, copied verbatim by ``pack_learnware``.

It needs ``learnware`` and numpy only, not ``k2v_learnware``, so a stock market
or a Beimingwu checker can load the model of a LANE learnware without our
package. A model is code by nature (it is unpickled, as in ``learnware``'s own
``PickleModelTemplate``); specifications never are.
"""

import os
import pickle

import numpy as np
from learnware.model import BaseModel


class Model(BaseModel):
    """Any pickled object with ``predict`` (and ``predict_proba``), stored as ``model.pkl`` beside this file."""

    def __init__(self, input_shape, output_shape, model_path=None):
        super().__init__(input_shape=tuple(input_shape), output_shape=tuple(output_shape))
        if model_path is None:
            model_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.pkl")
        with open(model_path, "rb") as f:
            self.model = pickle.load(f)
        if hasattr(self.model, "classes_") and callable(getattr(self.model, "predict_proba", None)):
            self.classes_ = self.model.classes_  # lets black-box probing use the probabilities

    def _as_input(self, X):
        X = np.asarray(X, dtype=np.float32)
        if X.shape[1:] != self.input_shape and X[0].size == int(np.prod(self.input_shape)):
            X = X.reshape((len(X),) + self.input_shape)
        return X

    def fit(self, X, y):
        raise NotImplementedError("a packed learnware's model is already trained")

    def finetune(self, X, y):
        raise NotImplementedError("a packed learnware's model is not fine-tuned by the market")

    def predict(self, X):
        return np.asarray(self.model.predict(self._as_input(X)))

    def predict_proba(self, X):
        return np.asarray(self.model.predict_proba(self._as_input(X)))
