"""Shared fixtures: real bundled data (scikit-learn's digits), split once."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

warnings.filterwarnings("ignore", message=".*fork.*")


@pytest.fixture(scope="session")
def digits():
    """Digits as (train X, test X, train y, test y); X are 64-d vectors with values 0..16."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X.astype(np.float32), y, test_size=0.3, random_state=0, stratify=y)


def as_images(X):
    return X.reshape(-1, 1, 8, 8)
