"""The ``k2v-learnware`` console script, driven end to end in subprocesses on digits.

Three developers (digits {0,1}, {2,3}, {4,5}) generate, pack (an SVC trained by
the CLI) and add learnwares; a user whose rows mix the first two tasks 70/30
lists, searches, reuses and compares. Every process importing ``learnware``
pays several seconds, so independent commands run side by side and the chain
is kept short. Parsing of data files and the errors that need no heavy import
are also tested in-process.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from k2v_learnware.cli import CLIError, build_parser, load_data, main

SCRIPT = Path(sys.executable).with_name("k2v-learnware")
TASKS = {"a": (0, 1), "b": (2, 3), "c": (4, 5)}
USER_MIX = {"a": 70, "b": 30}  # rows of the user's data from each task
SMALL = ["--per-class", "5", "--iterations", "30"]
MARKET = ["--market", "cli", "--root", "market"]
REQUIREMENT = ["--iterations", "30"]
# One torch thread per process: several run at once on a shared machine.
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _env():
    import os

    return {**os.environ, **ENV}


def run(cwd, *args, timeout=600):
    """Run the console script once; returns the CompletedProcess (text mode)."""
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env())


def run_together(cwd, *commands, timeout=600):
    """Run several invocations of the console script at once; results in the order given."""
    procs = [subprocess.Popen([str(SCRIPT), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=_env()) for args in commands]
    results = []
    for args, proc in zip(commands, procs):
        out, err = proc.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess([str(SCRIPT), *args], proc.returncode, out, err))
    return results


def ok(result):
    assert result.returncode == 0, f"{result.args}\nstdout:\n{result.stdout[-2000:]}\nstderr:\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    return result


def as_json(result):
    return json.loads(ok(result).stdout)  # fails if anything but one JSON document is on stdout


def failed(result, code=2):
    assert result.returncode == code, f"{result.args}: exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    assert "k2v-learnware: error:" in result.stderr
    return result.stderr


@pytest.fixture(scope="module", autouse=True)
def script_installed():
    if not SCRIPT.exists():
        pytest.fail(f"{SCRIPT} is missing: run `pip install -e . --no-deps` to create the console script")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with the developers' and the user's data files."""
    folder = tmp_path_factory.mktemp("cli")
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X.astype(np.float32), y, test_size=0.4, random_state=0, stratify=y)
    for name, classes in TASKS.items():
        rows = np.isin(ytr, classes)
        np.savez(folder / f"{name}.npz", X=Xtr[rows], y=ytr[rows])
    rng = np.random.default_rng(0)
    picks = np.concatenate([rng.choice(np.flatnonzero(np.isin(yte, TASKS[t])), n, replace=False)
                            for t, n in USER_MIX.items()])
    np.savez(folder / "user.npz", X=Xte[picks], y=yte[picks])
    np.savez(folder / "user32.npz", X=Xte[:60, :32])
    return folder


@pytest.fixture(scope="module")
def chain(work):
    """generate -> pack (--train svm) -> add, three developers side by side; the add result as JSON."""
    generated = run_together(work, *[["--json", "generate", f"{t}.npz", "-o", f"{t}.json", *SMALL] for t in TASKS])
    packed = run_together(work, *[["-q", "pack", f"{t}.json", "--train", "svm", f"{t}.npz", "-o", f"{t}.zip",
                                   "--name", f"digits {TASKS[t]}", "--json"] for t in TASKS])
    added = run(work, "--json", "add", *[f"{t}.zip" for t in TASKS], *MARKET)
    return {"generated": generated, "packed": packed, "added": added}


@pytest.fixture(scope="module")
def queries(work, chain):
    """list, search, reuse, compare and a wrong-dimension search, side by side on the market."""
    assert chain["added"].returncode == 0, chain["added"].stderr[-3000:]
    names = ["list", "search", "reuse", "compare", "search32"]
    results = run_together(
        work,
        ["--json", "list", *MARKET],
        ["search", "user.npz", *MARKET, *REQUIREMENT, "--json"],
        ["--json", "reuse", "user.npz", *MARKET, *REQUIREMENT, "-o", "pred.npy"],
        ["--json", "compare", "a.json", "b.json"],
        ["-q", "search", "user32.npz", *MARKET, *REQUIREMENT],
    )
    return dict(zip(names, results))


# ----------------------------------------------------------------- the chain
def test_generate_writes_lane_specs(work, chain):
    for t, result in zip(TASKS, chain["generated"]):
        out = as_json(result)
        assert out["type"] == "LANESpecification" and out["points"] == 10
        assert sorted(out["classes"]) == list(TASKS[t]) and out["input_shape"] == [64]
        assert (work / f"{t}.json").stat().st_size == out["bytes"]
    assert "LANE condensation" not in chain["generated"][0].stderr  # no progress bar when stderr is not a terminal


def test_pack_trains_an_svm_and_writes_a_zip(work, chain):
    import zipfile

    for t, result in zip(TASKS, chain["packed"]):
        out = as_json(result)
        assert result.stderr == ""  # --quiet: no chatter, no bars
        assert out["model"] == "SVC" and out["specifications"] == ["LANESpecification"]
        with zipfile.ZipFile(work / f"{t}.zip") as zf:
            assert {"learnware.yaml", "lane_spec.json", "model.pkl"} <= set(zf.namelist())


def test_add_submits_every_learnware(chain):
    out = as_json(chain["added"])
    assert out["rejected"] == [] and out["size"] == 3
    assert [a["status"] for a in out["added"]] == ["usable"] * 3


def test_add_reports_every_zip_when_one_cannot_be_read(work, chain, tmp_path):
    """A zip zipfile cannot read (it needs zip version 12.2: NotImplementedError) is one rejection among the
    others: the batch goes on, and the report names what was added, so a retry does not add those twice."""
    import shutil
    import struct

    data = bytearray((work / "a.zip").read_bytes())
    at = data.index(b"PK\x01\x02")
    data[at + 6:at + 8] = struct.pack("<H", 122)
    (tmp_path / "v12.zip").write_bytes(bytes(data))
    for name in ("a.zip", "b.zip"):
        shutil.copy(work / name, tmp_path / name)
    result = run(tmp_path, "--json", "add", "a.zip", "v12.zip", "b.zip", "--market", "batch", "--root", "market")
    err = failed(result)
    report = json.loads(result.stdout)
    assert [a["zip"] for a in report["added"]] == ["a.zip", "b.zip"] and report["size"] == 2
    assert [r["zip"] for r in report["rejected"]] == ["v12.zip"]
    assert "zip file version 12.2" in report["rejected"][0]["reason"] and err.count("k2v-learnware: error:") == 1


def test_list_shows_ids_names_and_spec_types(queries):
    out = as_json(queries["list"])
    rows = {r["name"]: r for r in out["learnwares"]}
    assert set(rows) == {f"digits {c}" for c in TASKS.values()}
    for r in rows.values():
        assert r["specifications"] == ["LANESpecification"] and r["input_shape"] == [64] and r["id"]


def test_list_reads_the_market_without_importing_learnware_or_torch(work, chain, queries):
    code = ("import sys; from k2v_learnware.cli import main; status = main(['--json', 'list', *sys.argv[1:]]); "
            "heavy = [m for m in ('torch', 'learnware', 'sklearn') if m in sys.modules]; "
            "assert not heavy, heavy[:5]; sys.exit(status)")
    result = subprocess.run([sys.executable, "-c", code, *MARKET], cwd=work, capture_output=True, text=True,
                            timeout=120, env=_env())
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout) == as_json(queries["list"])  # what opening the market gave before


def test_the_default_market_root_is_learnwares():
    from learnware.config import ROOT_DIRPATH

    from k2v_learnware.market.listing import default_market_root

    assert default_market_root() == Path(ROOT_DIRPATH)


def test_search_puts_the_weight_on_the_users_tasks(queries):
    out = as_json(queries["search"])
    weights = {m["name"]: m["weight"] for m in out["mixture"]["learnwares"]}
    a, b, c = (weights.get(f"digits {TASKS[t]}", 0.0) for t in "abc")
    assert a + b > 0.9 and c < 0.1, weights
    assert 0.55 < a < 0.85 and b > 0.15, weights  # the user's rows are 70% task a, 30% task b
    assert out["singles"][0]["name"] == f"digits {TASKS['a']}"
    assert out["requirement"]["rows"] == sum(USER_MIX.values())


def test_reuse_predicts_the_users_rows(work, queries):
    out = as_json(queries["reuse"])
    predictions = np.load(work / "pred.npy")
    assert out["rows"] == len(predictions) == sum(USER_MIX.values())
    assert out["accuracy"] > 0.8
    y = np.load(work / "user.npz")["y"]
    assert np.mean(predictions == y) == pytest.approx(out["accuracy"])


def test_market_commands_on_postgresql_find_what_sqlite_finds(work, chain, queries, postgres_url):
    """add, list, search and reuse (the package's JobSelectorReuser) on the session's PostgreSQL server."""
    pg = ["--market", "cli", "--root", "market-pg", "--database-url", f"{postgres_url}/k2v_cli"]
    added = as_json(run(work, "--json", "add", *[f"{t}.zip" for t in TASKS], *pg))
    assert added["rejected"] == [] and added["size"] == 3
    listed, searched, reused = run_together(
        work, ["--json", "list", *pg], ["search", "user.npz", *pg, *REQUIREMENT, "--json"],
        ["--json", "reuse", "user.npz", *pg, *REQUIREMENT, "--reuser", "job-selector", "-o", "pred-js.npy"])
    # the same ids, names and specifications as the SQLite market's
    assert as_json(listed)["learnwares"] == as_json(queries["list"])["learnwares"]
    weights = {m["name"]: m["weight"] for m in as_json(searched)["mixture"]["learnwares"]}
    assert weights == {m["name"]: m["weight"] for m in as_json(queries["search"])["mixture"]["learnwares"]}
    out = as_json(reused)
    assert out["rows"] == len(np.load(work / "pred-js.npy")) == sum(USER_MIX.values()) and out["accuracy"] > 0.8


def test_compare_two_spec_files(queries):
    out = as_json(queries["compare"])
    assert out["method"] == "lane-mmd" and out["type_a"] == out["type_b"] == "LANESpecification"
    assert out["distance"] > 0 and 0 < out["similarity"] < 1


def test_search_with_the_wrong_feature_dimension_fails_clearly(queries):
    err = failed(queries["search32"])
    assert "user32.npz has 32 features" in err and "64" in err
    assert queries["search32"].stdout == ""


def test_search_and_reuse_with_rows_all_alike_answer_or_fail_as_bad_input(work, queries):
    """All-zero rows condense into a requirement the mixture QP may not solve: a result, or exit 2 with one line."""
    np.savez(work / "zeros.npz", X=np.zeros((40, 64), dtype=np.float32))
    for result in run_together(work, ["-q", "search", "zeros.npz", *MARKET, "--iterations", "5"],
                               ["-q", "reuse", "zeros.npz", *MARKET, "--iterations", "5", "-o", "zeros.npy"]):
        if result.returncode != 0:
            assert failed(result).count("k2v-learnware: error:") == 1 and "zeros.npz" in result.stderr


def test_inspect_summarises_a_generated_spec(work, chain):
    out = as_json(run(work, "inspect", "a.json", "--json"))
    assert out["type"] == "LANESpecification" and out["format_version"] == 4 and out["valid"]
    assert out["points"] == 10 and out["points_per_class"] == {"0": 5, "1": 5}
    assert out["embedding"]["kind"] == "mlp" and out["condensation"]["iterations"] == 30
    text = ok(run(work, "inspect", "a.json")).stdout
    assert "format version 4" in text and "lane-specification.schema.json" in text
    assert out["class_mixtures"]["rank"] == 5 and len(out["class_mixtures"]["components"]) == 2
    assert "class mixtures (mimic data)" in text


# ----------------------------------------------------------------- errors (no heavy import)
def test_missing_data_file_exits_2_naming_it(tmp_path):
    err = failed(run(tmp_path, "generate", "nowhere.npz", "-o", "x.json"))
    assert "nowhere.npz" in err and "not found" in err


def test_missing_spec_file_exits_2_naming_it(tmp_path):
    np.savez(tmp_path / "d.npz", X=np.zeros((4, 3)), y=[0, 1, 0, 1])
    err = failed(run(tmp_path, "pack", "gone.json", "--train", "svm", "d.npz", "-o", "x.zip"))
    assert "gone.json" in err


def test_malformed_spec_exits_2_saying_what_is_wrong(tmp_path):
    (tmp_path / "cut.json").write_text('{"type": "LANESpecification", "format_version": 1, "z": [[1, 2')
    assert "cut.json is not valid JSON" in failed(run(tmp_path, "inspect", "cut.json"))
    (tmp_path / "short.json").write_text('{"type": "LANESpecification", "format_version": 1, "input_shape": [2]}')
    err = failed(run(tmp_path, "compare", "short.json", "short.json"))
    assert "short.json" in err and "'z' is a required property" in err
    (tmp_path / "v9.json").write_text('{"type": "LANESpecification", "format_version": 9}')
    result = run(tmp_path, "--json", "inspect", "v9.json")
    assert "format_version 9" in failed(result)
    assert json.loads(result.stdout)["exit_code"] == 2  # --json: the error as the one document on stdout


def test_help_is_fast():
    times = []
    for _ in range(3):
        start = time.perf_counter()
        result = subprocess.run([str(SCRIPT), "--help"], capture_output=True, text=True, timeout=60)
        times.append(time.perf_counter() - start)
        assert result.returncode == 0 and "generate" in result.stdout
    assert min(times) < 1.0, times
    # what makes it fast (README: "no heavy module is imported"), checked directly: numpy alone costs ~0.1 s
    code = ("import contextlib, io, sys; from k2v_learnware.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main(['--help'])\n"
            "print([m for m in ('numpy', 'scipy', 'torch', 'sklearn', 'learnware', 'sqlalchemy') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == "[]", (result.stdout, result.stderr[-2000:])


def test_help_descriptions_read_as_plain_text(capsys):
    """Descriptions are the commands' docstrings: no Sphinx roles or double backticks, and reuse's names the
    default reuser (it said the job selector assigns every row, though the class router is the default)."""
    for command in ("generate", "pack", "add", "list", "probe", "fit-proxy", "search", "reuse", "serve", "token",
                    "compare", "inspect"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "``" not in text and ":mod:" not in text, (command, text)
        if command == "reuse":
            assert "by default the class router" in " ".join(text.split())


def test_module_entry_point_and_usage_errors():
    result = subprocess.run([sys.executable, "-m", "k2v_learnware.cli", "reuse", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "PRED.npy" in result.stdout
    assert main(["frobnicate"]) == 2
    assert main([]) == 2


@pytest.mark.parametrize("command", [["add", "lw.zip"], ["list"], ["search", "user.npz"],
                                     ["reuse", "user.npz", "-o", "pred.npy"]])
def test_market_commands_take_a_database_url(command):
    url = "postgresql://postgres:secret@127.0.0.1:5432"
    args = build_parser().parse_args([*command, *MARKET, "--database-url", url])
    assert args.database_url == url and args.market == "cli"
    assert build_parser().parse_args(command).database_url is None  # default: SQLite under --root


def test_pickled_model_needs_trust(tmp_path, work, chain, capsys):
    (tmp_path / "m.pkl").write_bytes(b"not really a pickle")
    code = main(["pack", str(work / "a.json"), "--model", str(tmp_path / "m.pkl"), "-o", str(tmp_path / "x.zip")])
    err = capsys.readouterr().err
    assert code == 2 and "--trust-model" in err and "runs any code" in err


# ----------------------------------------------------------------- data files (in-process)
def test_csv_header_and_label_column(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("f1,f2,kind\n1,2,cat\n3,4.5,dog\n5,6,cat\n")
    data = load_data(path, label_column="kind")
    assert data.X.shape == (3, 2) and data.y == ["cat", "dog", "cat"]
    assert load_data(path, label_column="-1").y == ["cat", "dog", "cat"]
    path.write_text("1,2,0\n3,4,1\n")
    data = load_data(path, label_column="2")
    assert data.X.tolist() == [[1, 2], [3, 4]] and data.y == [0, 1]
    assert load_data(path).X.shape == (2, 3)


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,x\n", r"line 2, column 'b': 'x' is not a number"),
    ("a,b\n1,2\n3\n", "line 3: 1 values, expected 2"),
    ("a,b\n1,nan\n", "1 NaN or infinite"),
    ("", "is empty"),
])
def test_bad_csv_is_reported(tmp_path, content, message):
    path = tmp_path / "d.csv"
    path.write_text(content)
    with pytest.raises(CLIError, match=message):
        load_data(path)


def test_npz_and_npy_options(tmp_path):
    np.savez(tmp_path / "p.npz", feats=np.ones((4, 2)), target=[1, 2, 1, 2])
    data = load_data(tmp_path / "p.npz")  # no X / y names: first and second array
    assert data.X.shape == (4, 2) and data.y == [1, 2, 1, 2]
    assert load_data(tmp_path / "p.npz", x_key="feats", y_key="target").y == [1, 2, 1, 2]
    with pytest.raises(CLIError, match=r"--y-key 'label'.*\['feats', 'target'\]"):
        load_data(tmp_path / "p.npz", y_key="label")
    np.save(tmp_path / "x.npy", np.ones((4, 16)))
    np.save(tmp_path / "y.npy", np.arange(3))
    with pytest.raises(CLIError, match="4 rows of data but 3 labels"):
        load_data(tmp_path / "x.npy", labels=tmp_path / "y.npy")
    assert load_data(tmp_path / "x.npy", images="1,4,4").X.shape == (4, 1, 4, 4)
    with pytest.raises(CLIError, match="3x4x4 needs 48"):
        load_data(tmp_path / "x.npy", images="3,4,4")
    with pytest.raises(CLIError, match="no labels"):
        load_data(tmp_path / "x.npy", need_labels=True)
    (tmp_path / "d.txt").write_text("1")
    with pytest.raises(CLIError, match="unknown data file type '.txt'"):
        load_data(tmp_path / "d.txt")
    with pytest.raises(FileNotFoundError, match="data file not found"):
        load_data(tmp_path / "none.npz")


# ----------------------------------------------------------------- serve
def test_serve_without_root_serves_learnwares_default_market_root(tmp_path):
    """--help documents the default root ($K2V_MARKET_ROOT, else ~/.learnware): serve takes it like `add`."""
    import os
    import requests

    from tests._service_helpers import REPO, free_port

    env = {k: v for k, v in _env().items() if k != "K2V_MARKET_ROOT"}
    env["HOME"] = str(tmp_path)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "k2v_learnware.cli", "serve", "--port", str(port)], cwd=REPO,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 180
        while time.time() < deadline and proc.poll() is None:
            try:
                if requests.get(f"http://127.0.0.1:{port}/engine/semantic_specification", timeout=2).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert (tmp_path / ".learnware" / "k2v" / "learnware_pool").is_dir(), os.listdir(tmp_path)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert f"serving market 'k2v' under {tmp_path / '.learnware'} on http://127.0.0.1:{port}" in err


def test_serve_on_a_taken_port_fails_before_announcing_anything(tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([sys.executable, "-m", "k2v_learnware.cli", "--json", "serve", "--root",
                                 str(tmp_path), "--port", str(port)], capture_output=True, text=True, timeout=300,
                                env=_env(), cwd=Path(__file__).resolve().parents[1])
    err = failed(result)
    assert json.loads(result.stdout) == {"error": f"cannot listen on 127.0.0.1:{port}: Address already in use",
                                         "exit_code": 2}
    assert "serving" not in err and err.count("k2v-learnware: error:") == 1


# ----------------------------------------------------------------- search --server against a server that answers badly
@pytest.fixture
def bad_service():
    """A local HTTP server whose /engine/search_learnware answers the body queued in ``replies`` (one per call):
    what a foreign or broken service sends, which the CLI must report as that server's fault in one line."""
    import http.server
    import threading

    replies = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = replies.pop(0).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", replies
    server.shutdown()


def test_search_server_reports_a_malformed_reply_as_the_servers_fault(work, bad_service):
    url, replies = bad_service
    entry = '{"learnware_id": "00000001", "semantic_specification": {}, "matching": %s}'
    bodies = ['[1, 2]', '{"code": 0}', '{"code": 0, "data": {"learnware_list_single": [%s]}}' % (entry % '"abc"'),
              '{"code": 0, "data": {"learnware_list_single": [%s]}}' % (entry % "NaN"),
              '{"code": 0, "data": {"learnware_list_multi": [%s]}}' % (entry.replace("}", ', "weight": NaN}', 1)
                                                                      % "0.5")]
    from argparse import Namespace

    from k2v_learnware.cli.service import found_learnwares, post_search

    class Requirement:  # what post_search sends is not what this test is about
        def save(self, path):
            Path(path).write_text("{}")

    for body in bodies:  # in process: the CLI's request and its reading of the reply, for every reply
        replies.append(body)
        with pytest.raises(CLIError) as caught:
            found_learnwares(post_search(Namespace(server=url, max=5), Requirement(), {}), url)
        assert caught.value.code == 1 and f"--server {url}" in str(caught.value), (body, caught.value)
    replies.append(bodies[3])  # once end to end: one error line, exit 1, and no NaN printed
    result = run(work, "-q", "search", "user.npz", "--server", url, "--per-class", "2", "--iterations", "1")
    err = failed(result, code=1)
    assert err.count("k2v-learnware: error:") == 1 and f"--server {url}" in err and "matching" in err, err
    assert "nan" not in result.stdout.lower(), result.stdout


def test_search_server_without_a_scheme_fails_before_any_work(work):
    started = time.perf_counter()
    err = failed(run(work, "search", "user.npz", "--server", "localhost:8000"))
    assert "give the market service's URL with its scheme" in err and "condensing" not in err
    assert time.perf_counter() - started < 10
