"""The market service against the stock ``learnware.client.LearnwareClient``, over real HTTP.

A real ``k2v-learnware serve`` runs on a free local port; accounts come from
``k2v-learnware token add``. Learnwares are told apart by content: a download
must return the very bytes that were uploaded under that id.
"""

import hashlib
import io
import json
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import requests
import torch
from sklearn.linear_model import LogisticRegression

from k2v_learnware import generate_lane_spec, pack_learnware
from k2v_learnware.datasets import load_digits
from k2v_learnware.packaging import read_semantic_spec
from tests._service_helpers import REPO, issue_token, running_server
from tests._stock_learnware import median_gamma, stock_rkme_zip, stock_semantic_spec

TASKS = [(0, 1), (2, 3), (4, 5)]


def sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits()
    train = np.arange(len(y)) % 3 != 0
    return X[train], y[train], X[~train], y[~train]


@pytest.fixture(scope="module")
def learnwares(tmp_path_factory, digits_split):
    """Three learnwares: LANE only (task 0), LANE + RKME (task 1), stock RKME only (task 2)."""
    from learnware.specification import generate_rkme_table_spec

    Xtr, ytr, _, _ = digits_split
    folder = tmp_path_factory.mktemp("service-zips")
    out = {}
    for t, classes in enumerate(TASKS):
        rows = np.isin(ytr, classes)
        model = LogisticRegression(max_iter=500).fit(Xtr[rows], ytr[rows])
        if t == 2:
            path = stock_rkme_zip(model, Xtr[rows], folder / "rkme.zip")
            semantic = stock_semantic_spec("stock-rkme", "4 vs 5", 6)
        else:
            lane = generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=10, iterations=60, verbose=False)
            specs = [lane]
            if t == 1:
                np.random.seed(0), torch.manual_seed(0)
                specs.append(generate_rkme_table_spec(Xtr[rows], gamma=median_gamma(Xtr[rows]), cuda_idx=-1))
            path = pack_learnware(model, specs, folder / f"task{t}.zip", name=f"task-{t}")
            semantic = read_semantic_spec(path)
        out[t] = (path, semantic)
    return out


def test_the_stock_client_uploads_searches_downloads_reuses_and_deletes(tmp_path, learnwares, digits_split):
    from learnware.client import LearnwareClient
    from learnware.specification import generate_rkme_table_spec

    from k2v_learnware.market import user_info
    from k2v_learnware.reuse import LANEJobSelectorReuser

    _, _, Xte, yte = digits_split
    alice = issue_token(tmp_path, "svc", "alice@example.org")
    bob = issue_token(tmp_path, "svc", "bob@example.org")
    with running_server(tmp_path, "svc") as url:
        with pytest.raises(Exception, match="login failed"):
            LearnwareClient(host=url).login("alice@example.org", bob)  # another account's token
        client = LearnwareClient(host=url)
        client.login("alice@example.org", alice)
        ids = {t: client.upload_learnware(str(path), semantic) for t, (path, semantic) in learnwares.items()}
        assert len(set(ids.values())) == 3
        assert sorted(e["learnware_id"] for e in client.list_learnware()) == sorted(ids.values())
        assert client.get_semantic_specification(ids[0])["Name"]["Values"] == "task-0"

        # a LANE user whose rows mix tasks 0 and 1, 60/40
        rows = np.concatenate([np.flatnonzero(np.isin(yte, TASKS[0]))[:90],
                               np.flatnonzero(np.isin(yte, TASKS[1]))[:60]])
        requirement = generate_lane_spec(Xte[rows], None, num_per_class=30, iterations=200, verbose=False)
        found = client.search_learnware(user_info(requirement))
        assert set(found["multiple"]["learnware_ids"]) == {ids[0], ids[1]}
        # as on Beimingwu the mixture comes with page 0 alone, and a page of one does not cut it to one
        pages = [client.search_learnware(user_info(requirement), page_size=1, page_index=k) for k in (0, 1)]
        assert set(pages[0]["multiple"]["learnware_ids"]) == {ids[0], ids[1]}
        assert pages[1]["multiple"]["learnware_ids"] == [] and len(pages[1]["single"]["learnware_ids"]) == 1
        raw = _search_raw(url, requirement)
        weights = raw["mixture_weights"]
        assert weights[ids[0]] > weights[ids[1]] > 0.2 and sum(weights.values()) == pytest.approx(1.0)

        # our command line searches a server too, and shows the weights
        np.savez(tmp_path / "user.npz", X=Xte[rows])
        cli = subprocess.run([sys.executable, "-m", "k2v_learnware.cli", "--json", "--quiet", "search",
                              str(tmp_path / "user.npz"), "--server", url, "--per-class", "30", "--iterations", "200"],
                             capture_output=True, text=True, timeout=300, cwd=REPO)
        assert cli.returncode == 0, cli.stderr[-3000:]
        shown = {m["id"]: m["weight"] for m in json.loads(cli.stdout)["mixture"]["learnwares"]}
        assert set(shown) == {ids[0], ids[1]} and shown[ids[0]] > shown[ids[1]]

        # an RKME user with task-2 rows finds the stock RKME learnware first
        task2 = Xte[np.isin(yte, TASKS[2])]
        np.random.seed(0), torch.manual_seed(0)
        rkme_user = generate_rkme_table_spec(task2, gamma=median_gamma(task2), cuda_idx=-1)
        found = client.search_learnware(user_info(rkme_user))
        assert found["single"]["learnware_ids"][0] == ids[2]

        # download, load by id and reuse what the search returned
        client.storage_path = str(tmp_path / "client")
        client.default_zip_path, client.default_unzip_path = str(tmp_path / "cz"), str(tmp_path / "cu")
        Path(client.default_zip_path).mkdir(), Path(client.default_unzip_path).mkdir()
        client.download_learnware(ids[1], str(tmp_path / "copy.zip"))
        assert sha256(tmp_path / "copy.zip") == sha256(learnwares[1][0])
        loaded = client.load_learnware(learnware_id=[ids[0], ids[1]])
        reused = LANEJobSelectorReuser(loaded, [weights[ids[0]], weights[ids[1]]]).predict(Xte[rows])
        assert np.mean(reused == yte[rows]) > 0.9

        # updates and deletes: only the owner
        other = LearnwareClient(host=url)
        other.login("bob@example.org", bob)
        with pytest.raises(Exception, match="another developer"):
            other.delete_learnware(ids[0])
        with pytest.raises(Exception, match="another developer"):
            other.update_learnware(ids[0], learnwares[0][1])
        assert other.list_learnware() == []
        semantic = json.loads(json.dumps(learnwares[0][1]))
        semantic["Description"]["Values"] = "updated by its owner"
        client.update_learnware(ids[0], semantic)
        assert client.get_semantic_specification(ids[0])["Description"]["Values"] == "updated by its owner"
        client.delete_learnware(ids[2])
        assert sorted(e["learnware_id"] for e in client.list_learnware()) == sorted([ids[0], ids[1]])
        reply = requests.get(f"{url}/engine/learnware_info", params={"learnware_id": ids[2]}, timeout=30).json()
        assert reply["code"] != 0 and ids[2] in reply["msg"]
        client.logout()
        with pytest.raises(Exception, match="Please login first"):
            client.list_learnware()
        unauthorised = requests.post(f"{url}/user/delete_learnware", json={"learnware_id": ids[0]}, timeout=30)
        assert unauthorised.status_code == 401 and unauthorised.json()["code"] != 0


def _search_raw(url, spec) -> dict:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        spec.save(f"{folder}/spec.json")
        with open(f"{folder}/spec.json", "rb") as handle:
            reply = requests.post(f"{url}/engine/search_learnware", files={"statistical_specification": handle},
                                  data={"semantic_specification": "{}", "limit": 5, "page": 0}, timeout=300).json()
    assert reply["code"] == 0, reply
    return reply["data"]


def test_bad_requests_get_a_clear_4xx_never_a_5xx(tmp_path, learnwares):
    from learnware.client import LearnwareClient

    token = issue_token(tmp_path, "svc", "carol@example.org")
    with running_server(tmp_path, "svc", extra=("--max-upload-mb", "2")) as url:
        client = LearnwareClient(host=url)
        client.login("Carol@Example.org", token)  # addresses are one account however capitalised
        broken = tmp_path / "broken.zip"
        broken.write_bytes(b"not a zip at all")
        with pytest.raises(Exception, match="not a readable zip"):
            client.upload_learnware(str(broken), learnwares[0][1])
        for name, data in unreadable_zips().items():  # zipfile's NotImplementedError, UnicodeDecodeError: 400
            (tmp_path / name).write_bytes(data)
            with pytest.raises(Exception, match="not a readable zip"):
                client.upload_learnware(str(tmp_path / name), learnwares[0][1])
        assert client.list_learnware() == []
        narrow = json.loads(json.dumps(learnwares[0][1]))
        narrow["Input"]["Dimension"] = 10  # the model and its LANE spec take 64 features; the stock checker's rule
        with pytest.raises(Exception, match="Input.Dimension 10 does not match the LANE specification's 64"):
            client.upload_learnware(str(learnwares[0][0]), narrow)
        learnware_id = client.upload_learnware(str(learnwares[0][0]), learnwares[0][1])
        with pytest.raises(Exception, match="Input.Dimension 10 does not match"):
            client.update_learnware(learnware_id, narrow)

        def search(semantic: str):
            return requests.post(f"{url}/engine/search_learnware", data={"semantic_specification": semantic},
                                 timeout=60)

        semantic_only = search(json.dumps(learnwares[0][1]))  # no statistical spec: the semantic search alone
        assert semantic_only.status_code == 200, semantic_only.text
        assert [e["learnware_id"] for e in semantic_only.json()["data"]["learnware_list_single"]] == [learnware_id]
        for bad, why in [('{"Name": {"Values": NaN}}', "non-finite"), ('{"Name": {"Values": 1e999}}', "non-finite"),
                         ("[" * 100000, "nested too deeply"), ('{"Name": 5}', "must be an object"),
                         ('{"Task": {"Values": [1]}}', "list of strings")]:
            reply = search(bad)
            assert reply.status_code == 400 and why in reply.json()["msg"], (bad[:30], reply.text)
        huge = requests.post(f"{url}/user/chunked_upload", data={"file_hash": "0" * 32, "chunk_begin": 0},
                             files={"chunk_file": b"x" * (20 << 20)}, timeout=60)  # anonymous, 20 MB
        assert huge.status_code == 413 and huge.json()["code"] != 0
        # JSON routes take what their fields hold, not the upload limit: 16 MB of [[],[],...] is refused unread
        started = time.perf_counter()
        login = requests.post(f"{url}/auth/login_by_token", data=b"[" + b"[]," * 5_500_000 + b"[]]",
                              headers={"content-type": "application/json"}, timeout=60)
        assert login.status_code == 413 and "POST /auth/login_by_token" in login.json()["msg"], login.text
        assert time.perf_counter() - started < 2

        def chunked(megabytes):  # a multipart body without Content-Length: counted as it arrives
            yield (b'--XX\r\nContent-Disposition: form-data; name="statistical_specification"; filename="s"\r\n'
                   b'\r\n')
            for _ in range(megabytes):
                yield b"x" * (1 << 20)
            yield b"\r\n--XX--\r\n"

        for path, megabytes in (("/engine/search_learnware", 20), ("/user/chunked_upload", 4)):
            cut = requests.post(f"{url}{path}", data=chunked(megabytes), timeout=60,
                                headers={"content-type": "multipart/form-data; boundary=XX",
                                         "Authorization": f"Bearer {token}"})
            assert cut.status_code == 413 and cut.json()["code"] != 0 and path in cut.json()["msg"], cut.text

        def upload_then_add(data: bytes, claimed_md5: str):
            headers = {"Authorization": f"Bearer {token}"}
            sent = requests.post(f"{url}/user/chunked_upload", data={"file_hash": claimed_md5, "chunk_begin": 0},
                                 files={"chunk_file": data}, headers=headers, timeout=60)
            assert sent.status_code == 200, sent.text
            body = {"file_hash": claimed_md5, "semantic_specification": json.dumps(learnwares[0][1])}
            return requests.post(f"{url}/user/add_learnware_uploaded", headers=headers, json=body, timeout=60)

        real = learnwares[0][0].read_bytes()
        corrupt = upload_then_add(real[:-1] + bytes([real[-1] ^ 1]), hashlib.md5(real).hexdigest())
        assert corrupt.status_code == 400 and "incomplete or corrupt" in corrupt.json()["msg"], corrupt.text
        bomb = io.BytesIO()  # 11 MB of zeros packs into ~11 kB: under the 2 MB upload limit, over 5x it unpacked
        with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("pad.bin", bytes(11 << 20))
        bomb = bomb.getvalue()
        too_big = upload_then_add(bomb, hashlib.md5(bomb).hexdigest())
        assert too_big.status_code == 413 and "more than the market's limit" in too_big.json()["msg"], too_big.text
        for name, data in unreadable_zips().items():
            update = requests.post(f"{url}/user/update_learnware", headers={"Authorization": f"Bearer {token}"},
                                   data={"learnware_id": learnware_id,
                                         "semantic_specification": json.dumps(learnwares[0][1])},
                                   files={"learnware_file": data}, timeout=60)
            assert update.status_code == 400 and "not a readable zip" in update.json()["msg"], (name, update.text)
        assert [row["learnware_id"] for row in client.list_learnware()] == [learnware_id]  # nothing else landed
        client.delete_learnware(learnware_id)
        gone = requests.get(f"{url}/engine/download_learnware", params={"learnware_id": learnware_id}, timeout=60)
        assert gone.status_code == 404 and learnware_id in gone.json()["msg"]


def unreadable_zips() -> dict:
    """Zips whose directory ``zipfile`` cannot read: one needing zip version 12.2 (NotImplementedError), one
    whose name is flagged UTF-8 but is not (UnicodeDecodeError)."""
    import struct

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("ab.txt", b"hello")
    good = buf.getvalue()
    at = good.index(b"PK\x01\x02")  # the central directory's entry
    version, name = bytearray(good), bytearray(good)
    version[at + 6:at + 8] = struct.pack("<H", 122)
    name[at + 8:at + 10] = struct.pack("<H", struct.unpack("<H", good[at + 8:at + 10])[0] | 0x800)
    name[at + 46:at + 48] = b"\xc4\x28"
    return {"version-12.2.zip": bytes(version), "bad-utf8-name.zip": bytes(name)}


@pytest.fixture(scope="module")
def forty_zips(tmp_path_factory, digits_split):
    Xtr, ytr, _, _ = digits_split
    folder = tmp_path_factory.mktemp("forty")
    pairs = [(a, b) for a in range(10) for b in range(a + 1, 10)][:40]
    out = []
    for k, (a, b) in enumerate(pairs):
        rows = np.isin(ytr, (a, b))
        model = LogisticRegression(max_iter=200).fit(Xtr[rows], ytr[rows])
        spec = generate_lane_spec(Xtr[rows], ytr[rows], num_per_class=3, iterations=3, seed=k, verbose=False)
        out.append(pack_learnware(model, spec, folder / f"pair-{a}-{b}.zip", name=f"pair-{a}-{b}"))
    return out


def test_eight_clients_uploading_at_once_through_two_workers(tmp_path, database_url, forty_zips):
    from learnware.client import LearnwareClient

    tokens = [issue_token(tmp_path, "busy", f"dev{k}@example.org", database_url) if k == 0 else None
              for k in range(8)]
    from k2v_learnware.market import instantiate_market
    from k2v_learnware.service.accounts import Accounts

    accounts = Accounts(instantiate_market("busy", root=tmp_path, database_url=database_url)
                        .learnware_organizer.store.engine)
    tokens = [tokens[0]] + [accounts.issue_token(f"dev{k}@example.org") for k in range(1, 8)]
    uploaded, errors = {}, []

    def developer(k):
        try:
            client = LearnwareClient(host=url, timeout=300)
            client.login(f"dev{k}@example.org", tokens[k])
            for path in forty_zips[k::8]:
                learnware_id = client.upload_learnware(str(path), read_semantic_spec(path))
                uploaded.setdefault(learnware_id, []).append(path)
        except Exception as err:  # reported below, with the others
            errors.append(f"dev{k}: {err}")

    with running_server(tmp_path, "busy", database_url, workers=2) as url:
        threads = [threading.Thread(target=developer, args=(k,)) for k in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=900)
        assert not errors, errors
        assert len(uploaded) == 40 and all(len(paths) == 1 for paths in uploaded.values())
        for learnware_id, (path,) in uploaded.items():  # every id holds exactly what was uploaded under it
            download = requests.get(f"{url}/engine/download_learnware", params={"learnware_id": learnware_id},
                                    timeout=60)
            assert download.status_code == 200
            assert hashlib.sha256(download.content).hexdigest() == sha256(path), learnware_id
        for k in range(8):
            mine = requests.post(f"{url}/user/list_learnware", json={"page": 0, "limit": 100}, timeout=60,
                                 headers={"Authorization": f"Bearer {tokens[k]}"}).json()["data"]["learnware_list"]
            assert len(mine) == 5


def test_abandoned_partial_uploads_expire_when_a_worker_starts(tmp_path):
    import os
    import time

    from k2v_learnware.service.replies import ServiceError
    from k2v_learnware.service.uploads import UploadArea

    area = UploadArea(tmp_path, max_bytes=10)
    assert area.write_chunk("a@b.c", "a" * 32, 0, b"12345") == 5
    with pytest.raises(ServiceError, match="gap"):
        area.write_chunk("a@b.c", "a" * 32, 7, b"x")
    with pytest.raises(ServiceError, match="limit of 10"):
        area.write_chunk("a@b.c", "a" * 32, 5, b"x" * 6)
    fresh = area.write_chunk("a@b.c", "b" * 32, 0, b"1") and next(tmp_path.glob(f"*/{'b' * 32}.part"))
    old = next(tmp_path.glob(f"*/{'a' * 32}.part"))
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    UploadArea(tmp_path, max_bytes=10)
    assert not old.exists() and fresh.exists()


def test_tokens_are_stored_only_as_their_sha256(tmp_path, database_url):
    """The accounts table (SQLite file and WAL included, or PostgreSQL) never holds a token's text."""
    from sqlalchemy import text

    from k2v_learnware.market import instantiate_market

    from k2v_learnware.service.accounts import Accounts

    engine = instantiate_market("keys", root=tmp_path, database_url=database_url).learnware_organizer.store.engine
    accounts = Accounts(engine)
    tokens = [accounts.issue_token(f"dev{k}@example.org") for k in range(2)]
    tokens.append(accounts.issue_token("Dev0@example.org"))  # a new token replaces the old one
    assert accounts.email_for(tokens[2]) == "dev0@example.org" and accounts.email_for(tokens[0]) is None
    with engine.connect() as conn:
        rows = [tuple(map(str, row)) for row in conn.execute(text("SELECT * FROM k2v_account")).all()]
    stored = " ".join(" ".join(row) for row in rows)
    assert len(rows) == 2 and not any(token in stored for token in tokens)
    assert {row[1] for row in rows} == {hashlib.sha256(t.encode()).hexdigest() for t in tokens[1:]}
    if database_url is None:  # nor anywhere in the database's files, the log of earlier writes included
        files = list((tmp_path / "database").glob("market_keys.db*"))
        assert files and not any(t.encode() in f.read_bytes() for t in tokens for f in files)


def _post_spec(url, doc_or_text) -> requests.Response:
    body = doc_or_text if isinstance(doc_or_text, str) else json.dumps(doc_or_text)
    return requests.post(f"{url}/engine/search_learnware", files={"statistical_specification": ("s.json", body)},
                         data={"semantic_specification": "{}"}, timeout=120)


def test_searches_the_market_cannot_run_get_a_clear_4xx(tmp_path, learnwares, digits_split):
    """Requirements in a network family the market does not store (any width the schema allows would be built
    and the market's class means kept in it), numbers too large for their type, and requirements the QP cannot
    solve: each a 400 naming the problem, never a 500; a requirement made with the defaults still searches."""
    _, _, Xte, yte = digits_split
    token = issue_token(tmp_path, "svc", "dana@example.org")
    requirement = generate_lane_spec(Xte[np.isin(yte, TASKS[0])], None, num_per_class=5, iterations=5,
                                     verbose=False).to_dict()
    with running_server(tmp_path, "svc") as url:
        from learnware.client import LearnwareClient

        client = LearnwareClient(host=url)
        client.login("dana@example.org", token)
        learnware_id = client.upload_learnware(str(learnwares[0][0]), learnwares[0][1])
        found = _post_spec(url, requirement)
        assert found.status_code == 200 and found.json()["data"]["learnware_list_single"][0]["learnware_id"] \
            == learnware_id, found.text

        def variant(**embedding):
            doc = json.loads(json.dumps(requirement))
            doc["embedding"].update(embedding)
            doc.pop("data_class_means", None)  # they are in the family's output space
            return doc

        convnet = variant(kind="convnet", input_shape=[1, 8, 8], width=8, depth=3)
        convnet["input_shape"] = [1, 8, 8]
        for doc in (variant(seed=1000), variant(width=4096), variant(num_nets=64, depth=16), convnet):
            reply = _post_spec(url, doc)
            assert reply.status_code == 400, reply.text[:300]
            assert "embedding family mlp width 256 depth 2, 8 networks, family seed 0" in reply.json()["msg"]

        huge = "1" + "0" * 400
        rkme = {"type": "RKMETableSpecification", "z": [[0.5] * 64, [1.0] * 64], "beta": [0.5, 0.5],
                "gamma": 0.01, "num_points": 2}
        assert _post_spec(url, rkme).status_code == 200
        query = {"type": "Know2VecQuery", "means": [[1.0] * 64, [2.0] * 64], "classes": [0, 1]}
        for text, why in [(json.dumps(rkme).replace("0.5", huge, 1), "too large"),
                          (json.dumps(rkme).replace("0.01", "1" + "0" * 30), "too large"),
                          (json.dumps(rkme).replace("0.01", "1e400"), "gamma must be a finite positive number"),
                          (json.dumps(query).replace("2.0", huge, 1), "too large"),
                          (json.dumps({**requirement, "z": [[3e38] * 64] * len(requirement["z"])}),
                           "must stay within 1.84e+19"),
                          (json.dumps({**requirement, "data_class_means": [[3e38] * 2048]}), "must stay within")]:
            reply = _post_spec(url, text)
            assert reply.status_code == 400 and why in reply.json()["msg"], (why, reply.text[:300])

        degenerate = {**requirement, "z": [[0.0] * 64] * len(requirement["z"])}  # the QP may not solve it
        degenerate.pop("data_class_means", None)
        for doc in (degenerate, {**requirement, "data_class_means": [[0.0] * 2048]}):
            reply = _post_spec(url, doc)
            assert reply.status_code in (200, 400) and (reply.status_code == 200) == (reply.json()["code"] == 0), \
                reply.text[:300]


def test_a_search_reply_never_carries_a_non_finite_number(learnwares):
    """A NaN score is refused with a clear 400 instead of a reply JSON cannot carry (a 500 when rendered)."""
    from learnware.learnware import Learnware
    from learnware.market.base import SearchResults, SingleSearchItem
    from learnware.specification import Specification

    from k2v_learnware.service.replies import ServiceError
    from k2v_learnware.service.search_endpoint import search_reply

    learnware = Learnware("00000001", model=None, specification=Specification(semantic_spec=learnwares[0][1]),
                          learnware_dirpath=str(learnwares[0][0].parent))
    fine = search_reply(SearchResults(single_results=[SingleSearchItem(learnware, 0.5)]), 0, 10)
    assert fine["learnware_list_single"][0]["matching"] == 0.5
    with pytest.raises(ServiceError, match="non-finite score"):
        search_reply(SearchResults(single_results=[SingleSearchItem(learnware, float("nan"))]), 0, 10)


def test_a_search_without_a_page_size_lists_every_learnware(tmp_path, learnwares):
    """``search_learnware(user_info, page_size=None)`` (the stock client's own way to list a whole market) sends
    no ``limit``; like Beimingwu the service then answers every result, not a page of 10."""
    from learnware.client import LearnwareClient
    from learnware.market import BaseUserInfo

    token = issue_token(tmp_path, "svc", "erin@example.org")
    with running_server(tmp_path, "svc") as url:
        client = LearnwareClient(host=url)
        client.login("erin@example.org", token)
        ids = [client.upload_learnware(str(learnwares[0][0]), learnwares[0][1]) for _ in range(11)]
        everything = client.search_learnware(BaseUserInfo(), page_size=None)
        assert sorted(everything["single"]["learnware_ids"]) == sorted(ids)
        pages = [client.search_learnware(BaseUserInfo(), page_size=10, page_index=k) for k in (0, 1)]
        assert [len(p["single"]["learnware_ids"]) for p in pages] == [10, 1]
