"""BBC News through the packaged all-MiniLM-L6-v2 (offline), and the reuse setting the README's table uses."""

import numpy as np

from k2v_learnware import datasets


def test_bbc_news_embeddings_are_cached_deduplicated_and_recomputed_when_damaged(tmp_path):
    texts, labels = datasets.bbc_news_texts(per_class=8)
    assert len(texts) == 40 and np.bincount(labels).tolist() == [8] * 5
    X, y = datasets.load_bbc_news(per_class=8, cache_dir=tmp_path, verbose=False)
    assert X.shape == (len(set(texts)), 384) and X.dtype == np.float32 and np.all(np.isfinite(X))
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)  # L2-normalised sentence embeddings
    # sentence embeddings tell the five classes apart far better than chance on 40 articles
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    assert cross_val_score(KNeighborsClassifier(3), X, y, cv=4).mean() > 0.6
    (cached,) = tmp_path.glob("bbc-news-minilm-l6-8.npz")
    for damage in (lambda: cached.write_bytes(b"PK\x03\x04 truncated"),  # not a readable zip
                   lambda: np.savez(cached, X=np.full((40, 384), np.nan, np.float32), y=labels),  # non-finite
                   lambda: np.savez(cached, X=np.zeros((40, 384), np.float32), y=labels[::-1])):  # other labels
        damage()
        again, y_again = datasets.load_bbc_news(per_class=8, cache_dir=tmp_path, verbose=False)
        assert np.allclose(again, X, atol=1e-5) and np.array_equal(y_again, y)
    assert [p.name for p in tmp_path.iterdir()] == [cached.name]  # no temporary file left behind


def test_the_bbc_news_setting_splits_articles_without_sharing_one(tmp_path, monkeypatch):
    from k2v_learnware.bench.settings import load_setting

    monkeypatch.setattr(datasets, "CACHE_DIR", tmp_path)
    setting = load_setting("bbc-news", quick=True, verbose=False)
    assert setting.X_train.shape[1] == setting.X_test.shape[1] == 384
    assert sorted(c for task in setting.tasks for c in task) == [0, 1, 2, 3, 4]
    assert set(np.unique(setting.y_train)) == set(np.unique(setting.y_test)) == set(range(5))
    assert not (set(map(bytes, setting.X_train)) & set(map(bytes, setting.X_test)))  # no article on both sides
    assert list(tmp_path.glob("bbc-news-minilm-l6-40.npz"))
