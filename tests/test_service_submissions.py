"""Submissions to the market service run the developer's code: in a process of their own, bounded, never blocking.

A real ``k2v-learnware serve`` on a free port and the stock ``LearnwareClient``.
The learnwares are digits classifiers whose ``__init__.py`` (the model's code,
imported by the market's checks) also writes its pid to a marker file, sleeps,
or allocates: the server must run it in another process, stop it at the time
limit while other requests are answered, refuse it past the memory limit, and
keep nothing of a refused learnware.
"""

import hashlib
import json
import os
import threading
import time
import zipfile

import numpy as np
import pytest
import requests
from sklearn.linear_model import LogisticRegression

from k2v_learnware import generate_lane_spec, pack_learnware
from k2v_learnware.datasets import load_digits
from k2v_learnware.packaging import read_semantic_spec
from tests._service_helpers import SERVER_PIDS, issue_token, running_server

TIMEOUT_S = 8


@pytest.fixture(scope="module")
def good_zip(tmp_path_factory):
    X, y = load_digits()
    rows = np.isin(y, (0, 1))
    spec = generate_lane_spec(X[rows], y[rows], num_per_class=3, iterations=3, verbose=False)
    model = LogisticRegression(max_iter=300).fit(X[rows], y[rows])
    return pack_learnware(model, spec, tmp_path_factory.mktemp("zips") / "good.zip", name="digits 0-1")


def with_code(good_zip, path, code: str):
    """The good learnware with ``code`` run first when its ``__init__.py`` is imported."""
    with zipfile.ZipFile(good_zip) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            dst.writestr(item.filename, code.encode() + b"\n" + data if item.filename == "__init__.py" else data)
    return path


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_submission_runs_in_a_process_of_its_own_bounded_in_time_and_memory(tmp_path, good_zip):
    from learnware.client import LearnwareClient

    token = issue_token(tmp_path, "sub", "erin@example.org")
    marker, sleeper = tmp_path / "marker.pid", tmp_path / "sleeper.pid"
    marked = with_code(good_zip, tmp_path / "marked.zip",
                       f"import os; open({str(marker)!r}, 'w').write(str(os.getpid()))")
    sleeping = with_code(good_zip, tmp_path / "sleeping.zip",
                         f"import os, time; open({str(sleeper)!r}, 'w').write(str(os.getpid())); time.sleep(120)")
    hog = with_code(good_zip, tmp_path / "hog.zip", "held = bytearray(1 << 30)")
    semantic = read_semantic_spec(good_zip)
    extra = ("--submission-timeout", str(TIMEOUT_S), "--submission-memory-mb", "256")
    with running_server(tmp_path, "sub", extra=extra) as url:
        client = LearnwareClient(host=url, timeout=300)
        client.login("erin@example.org", token)
        learnware_id = client.upload_learnware(str(marked), semantic)  # the stock client's reply, as before
        assert int(marker.read_text()) != SERVER_PIDS[url]
        assert not pid_alive(int(marker.read_text()))

        refused = {}

        def upload_sleeper():
            started = time.perf_counter()
            try:
                client.upload_learnware(str(sleeping), semantic)
            except Exception as err:  # the stock client raises with the reply
                refused["message"] = str(err)
            refused["seconds"] = time.perf_counter() - started

        thread = threading.Thread(target=upload_sleeper)
        thread.start()
        deadline = time.time() + 120
        while not sleeper.exists() and time.time() < deadline:  # its code is running (and sleeping) now
            time.sleep(0.05)
        assert sleeper.exists(), "the sleeping learnware's code never ran"
        started = time.perf_counter()
        info = requests.get(f"{url}/engine/learnware_info", params={"learnware_id": learnware_id}, timeout=30)
        assert info.json()["code"] == 0 and time.perf_counter() - started < 2, time.perf_counter() - started
        thread.join(timeout=120)
        assert f"ran longer than the market's limit of {TIMEOUT_S} s" in refused["message"], refused
        assert refused["seconds"] < TIMEOUT_S + 30
        time.sleep(0.5)
        assert not pid_alive(int(sleeper.read_text()))

        with pytest.raises(Exception, match="MemoryError"):
            client.upload_learnware(str(hog), semantic)
        assert [row["learnware_id"] for row in client.list_learnware()] == [learnware_id]  # nothing else kept


def test_concurrent_adds_of_one_upload_give_it_to_one(tmp_path, good_zip):
    """Three adds of one finished upload at once: one stores it, the others hear it is gone (no loader error)."""
    token = issue_token(tmp_path, "once", "fred@example.org")
    headers = {"Authorization": f"Bearer {token}"}
    data = good_zip.read_bytes()
    file_hash = hashlib.md5(data).hexdigest()
    body = {"file_hash": file_hash, "semantic_specification": json.dumps(read_semantic_spec(good_zip))}
    with running_server(tmp_path, "once") as url:
        sent = requests.post(f"{url}/user/chunked_upload", data={"file_hash": file_hash, "chunk_begin": 0},
                             files={"chunk_file": data}, headers=headers, timeout=60)
        assert sent.json()["code"] == 0
        replies = [None] * 3

        def add(k):
            replies[k] = requests.post(f"{url}/user/add_learnware_uploaded", json=body, headers=headers, timeout=300)

        threads = [threading.Thread(target=add, args=(k,)) for k in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = sorted(r.status_code for r in replies)
        assert codes == [200, 400, 400], [r.text for r in replies]
        for reply in replies:
            if reply.status_code == 400:
                message = reply.json()["msg"]
                assert "already submitted" in message and "Error" not in message and ".part" not in message, message
        listed = requests.post(f"{url}/user/list_learnware", json={}, headers=headers, timeout=60).json()
        assert listed["data"]["total"] == 1
        for body in ({"page": True}, {"limit": False}):  # not page 1 / a limit of 0
            refused = requests.post(f"{url}/user/list_learnware", json=body, headers=headers, timeout=60)
            assert refused.status_code == 400 and refused.json()["code"] != 0, refused.text


def test_semantic_specifications_are_checked_with_one_line_reasons(tmp_path, good_zip):
    """What learnware's semantic check would refuse with a traceback is a 400 naming the field, before any upload
    is used or any code runs; Input and Output must say a dimension and describe indices within it."""
    token = issue_token(tmp_path, "sem", "gina@example.org")
    headers = {"Authorization": f"Bearer {token}"}
    good = read_semantic_spec(good_zip)

    def changed(change):
        spec = json.loads(json.dumps(good))
        change(spec)
        return json.dumps(spec)

    cases = [(lambda s: s.pop("Name"), "semantic_specification.Name is missing"),
             (lambda s: s["Data"].update(Values=["Video"]), "Data.Values must be one of"),
             (lambda s: s["Task"].update(Values=["Segmentation"]), "is not one for Table data"),
             (lambda s: s.pop("Input"), "Input is missing"),
             (lambda s: s["Input"].update(Dimension=-1), "Input.Dimension must be an integer from 1"),
             (lambda s: s["Input"].update(Dimension=10**9), "Input.Dimension must be an integer from 1"),
             (lambda s: s["Output"].update(Description={"x": "cat"}), "Output.Description maps an index"),
             (lambda s: s["Output"].update(Description={"5": "cat"}), "Output.Description maps an index"),
             (lambda s: s["Output"].update(Dimension=1), "Classification task must have dimension > 1")]
    with running_server(tmp_path, "sem") as url:
        for change, why in cases:
            body = {"file_hash": "0" * 32, "semantic_specification": changed(change)}
            reply = requests.post(f"{url}/user/add_learnware_uploaded", json=body, headers=headers, timeout=60)
            message = reply.json()["msg"]
            assert reply.status_code == 400 and why in message and "Traceback" not in message, (why, message)
            update = requests.post(f"{url}/user/update_learnware", headers=headers, timeout=60,
                                   data={"learnware_id": "00000001", "semantic_specification": changed(change)})
            assert update.status_code == 400 and why in update.json()["msg"], (why, update.text)
        search = requests.post(f"{url}/engine/search_learnware", timeout=60,  # a user's partial spec still searches
                               data={"semantic_specification": json.dumps({"Data": good["Data"]})})
        assert search.status_code == 200, search.text


def test_rejection_messages_lose_tracebacks_and_server_paths():
    """The market's checks may explain a refusal with a traceback or a path of the server's (learnware's semantic
    checker returns ``traceback.format_exc()``): the client gets the exception line and file names only."""
    import traceback

    from k2v_learnware.service.replies import public_message

    try:
        {}["Name"]
    except KeyError:
        text = "EasySemanticChecker: " + traceback.format_exc()
    assert public_message(text) == "EasySemanticChecker: KeyError: 'Name'"
    text = ("loader: the learnware cannot be loaded: FileNotFoundError: [Errno 2] No such file or directory: "
            "'/srv/market/shop/uploads/0a1b/5d41402abc4b2a76b9719d911017c592.part'")
    assert public_message(text) == ("loader: the learnware cannot be loaded: FileNotFoundError: [Errno 2] No such "
                                    "file or directory: '5d41402abc4b2a76b9719d911017c592.part'")
    assert public_message("ratio 1/2, shape (3, 4)") == "ratio 1/2, shape (3, 4)"
