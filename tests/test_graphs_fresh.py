"""Graph tasks on data of new shapes (issue 24): weighted featureless graphs whose class is
only in the edge weights, the non-GNN baselines, and node predictions on a new or grown
graph (``runner predict RUN --data nodes.csv --edges edges.csv``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch_geometric")
pytest.importorskip("networkx")

import kampai
from helpers import invoke
from kampai.tasks.graphs import (
    GraphClassification,
    NodeClassification,
    karate_networkx,
    karate_pyg,
    node_holdout,
    with_edges,
)

NODE = {"task": "node-classification", "framework": "pyg", "verbose": False}
GRAPH = {"task": "graph-classification", "framework": "pyg", "verbose": False}


@pytest.fixture(autouse=True)
def _no_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def weighted_graphs(n_graphs: int = 60, classes: int = 3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Featureless graphs of 20-35 nodes whose class is only in the edge weights: every
    class draws its topology from the same random law; the weights are gamma-distributed
    around a level that grows with the class (they overlap edge by edge)."""
    rng = np.random.default_rng(seed)
    rows, edges = [], []
    for g in range(n_graphs):
        label = g % classes
        n = int(rng.integers(20, 36))
        src, dst = np.nonzero(np.triu(rng.random((n, n)) < 0.2, 1))
        weight = rng.gamma(4.0, (1.0 + label) / 4.0, len(src))
        rows.append({"graph_id": f"g{g}", "label": f"c{label}"})
        edges.append(pd.DataFrame({"graph_id": f"g{g}", "source": src, "target": dst, "weight": weight}))
    return pd.DataFrame(rows), pd.concat(edges, ignore_index=True)


def test_weighted_featureless_graphs_default_model_learns_from_edge_weights(tmp_path: Path) -> None:
    """issue 24.3: GIN ignored edge weights and the structural features were unweighted, so
    a class carried by the weights scored chance (0.33 here); the default now uses them."""
    graphs, edges = weighted_graphs()
    run = kampai.train(data=with_edges(graphs, edges), target="label", params={"epochs": 40},
                       overrides=[f"output.runs_dir={tmp_path}"], **GRAPH)
    assert run.metrics["accuracy"] >= 0.75  # 3 balanced classes: chance is 0.33
    assert run.metrics["log_loss"] < np.log(3)  # learnt something, not the uniform guess
    assert run.model.estimator == "GraphConv" and run.model.structural == ["degree", "strength", "rwpe"]


def _split(n: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(n)
    return index[index % 4 != 0], index[index % 4 == 0]


def _accuracy(data, test: np.ndarray, prediction) -> float:
    return float(np.mean(np.asarray(prediction.y).astype(str) == data.y.iloc[test].astype(str).to_numpy()))


def test_graph_baseline_is_a_linear_model_on_graph_statistics_and_edge_weights() -> None:
    task = GraphClassification()
    graphs, edges = weighted_graphs()
    data = task.prepare(with_edges(graphs, edges), {"target": "label"}, training=True)
    train, test = _split(len(graphs))
    what, prediction = task.baseline(data.take(train), data.take(test), seed=0)
    assert what == "logistic regression on graph statistics and edge weights"
    assert prediction.proba.shape == (len(test), 3) and prediction.classes == ["c0", "c1", "c2"]
    np.testing.assert_allclose(prediction.proba.sum(axis=1), 1)
    assert _accuracy(data, test, prediction) >= 0.9  # the weight level tells the class
    # brain-like graphs: the same 12 nodes in every graph, all graphs with nearly the same weight
    # statistics; the class moves weight between two chosen edges: only the edge-weight
    # vector tells it (the connectomes: logistic regression on those vectors)
    rng = np.random.default_rng(1)
    src, dst = np.nonzero(np.triu(np.ones((12, 12)), 1))
    rows, parts = [], []
    for g in range(48):
        label = g % 2
        weight = rng.permutation(np.linspace(0.1, 1.0, len(src)))
        hot, cold = (0, 1) if label else (1, 0)
        weight[[hot, cold]] = 1.5, 0.05
        rows.append({"scan": f"s{g}", "group": ["control", "patient"][label]})
        parts.append(pd.DataFrame({"scan": f"s{g}", "source": src, "target": dst, "weight": weight}))
    brains = task.prepare(with_edges(pd.DataFrame(rows), pd.concat(parts)), {"target": "group", "graph_id": "scan"},
                          training=True)
    train, test = _split(48)
    what, prediction = task.baseline(brains.take(train), brains.take(test), seed=0)
    assert what == "logistic regression on graph statistics and edge-weight vectors"
    assert _accuracy(brains, test, prediction) == 1.0
    one_class = data.take(np.flatnonzero(data.y.to_numpy() == "c0"))
    assert task.baseline(one_class, data.take(test), seed=0) is None


def test_graph_baseline_of_an_integer_target_scores_every_metric() -> None:
    """Digits 3/5/8 as graph labels: the baseline's labels stay integers, so accuracy is
    defined (an object array of ints made scikit-learn call it a 'mix of label types': NaN)."""
    from kampai.plugin.experiments import compute_metrics, resolve_metrics

    task = GraphClassification()
    graphs, edges = weighted_graphs()
    graphs = graphs.assign(label=graphs["label"].map({"c0": 3, "c1": 5, "c2": 8}))
    data = task.prepare(with_edges(graphs, edges), {"target": "label"}, training=True)
    train, test = _split(len(graphs))
    _, prediction = task.baseline(data.take(train), data.take(test), seed=0)
    assert prediction.y.dtype.kind == "i", prediction.y.dtype
    scores = compute_metrics(resolve_metrics(task, ["accuracy", "f1_macro"]), data.take(test).y, prediction,
                             data.take(test).X)
    assert scores["accuracy"] >= 0.9 and scores["f1_macro"] == scores["f1_macro"], scores


def test_node_baseline_spreads_labels_over_the_edges() -> None:
    task = NodeClassification()
    frame = karate_networkx()
    frame.loc[[2, 3], "club"] = None  # unlabelled nodes stay on the train side, never spread from
    data = task.prepare(frame, {"target": "club"}, training=True)
    [(train, test)] = node_holdout(data, {"test_size": 0.3, "seed": 0})
    what, prediction = task.baseline(data.take(train), data.take(test), seed=0)
    assert what == "label spreading over the edges"
    assert prediction.classes == ["Mr. Hi", "Officer"] and prediction.proba.shape == (len(test), 2)
    assert _accuracy(data, test, prediction) >= 0.8  # Zachary's split follows the edges
    four = task.prepare(karate_pyg(), {"target": "label"}, training=True)
    [(train, test)] = node_holdout(four, {"test_size": 0.3, "seed": 0})
    _what, prediction = task.baseline(four.take(train), four.take(test), seed=0)
    assert _accuracy(four, test, prediction) >= 0.6  # 4 communities: chance ~0.3


def digits_graph(n: int, k: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The first ``n`` of scikit-learn's handwritten digits as a k-nearest-neighbour graph:
    a nodes table (id, 16 pixel-block features, label) and an edges table; a larger ``n``
    is the same graph grown by new nodes."""
    from sklearn.datasets import load_digits
    from sklearn.neighbors import NearestNeighbors

    digits = load_digits()
    pixels = digits.images[:n].reshape(n, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(n, 16)  # 4x4 blocks
    nodes = pd.DataFrame(pixels, columns=[f"p{i}" for i in range(16)])
    nodes.insert(0, "id", [f"d{i}" for i in range(n)])
    nodes["label"] = digits.target[:n]
    _, near = NearestNeighbors(n_neighbors=k + 1).fit(pixels).kneighbors(pixels)
    edges = pd.DataFrame({"source": nodes["id"].to_numpy()[near[:, :1].repeat(k, 1).ravel()],
                          "target": nodes["id"].to_numpy()[near[:, 1:].ravel()]})
    return nodes, edges


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """GraphSAGE trained on the 300-digit graph; the folder also holds the grown graph."""
    tmp_path = tmp_path_factory.mktemp("digits")
    small, small_edges = digits_graph(300)
    grown, grown_edges = digits_graph(450)
    small.to_csv(tmp_path / "nodes.csv", index=False)
    small_edges.to_csv(tmp_path / "edges.csv", index=False)
    grown.to_csv(tmp_path / "grown_labels.csv", index=False)
    grown.drop(columns="label").to_csv(tmp_path / "grown.csv", index=False)
    grown_edges.to_csv(tmp_path / "grown_edges.csv", index=False)
    with pytest.MonkeyPatch.context() as env:  # module scope: the autouse fixture is not on yet
        env.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow")
        code, out, err = invoke("train", "--task", "node-classification", "--framework", "pyg", "--model",
                                "GraphSAGE", "--data", str(tmp_path / "nodes.csv"), "--edges",
                                str(tmp_path / "edges.csv"), "--target", "label", "--runs-dir",
                                str(tmp_path / "runs"), "--json", "model.params.epochs=60")
    assert code == 0, err
    return tmp_path, json.loads(out)["run_dir"]


def test_node_predict_on_a_grown_graph_with_its_edges(digits_run: tuple[Path, str]) -> None:
    """issue 24.8: ``runner predict RUN --data nodes.csv --edges edges.csv`` predicts every
    node of the graph it is given (inductive GraphSAGE on node features); the same through
    ``load_run(run).predict(nodes, edges=...)``."""
    tmp_path, run_dir = digits_run
    grown = pd.read_csv(tmp_path / "grown_labels.csv")
    code, _out, err = invoke("predict", run_dir, "--data", str(tmp_path / "grown.csv"), "--edges",
                             str(tmp_path / "grown_edges.csv"), "-o", str(tmp_path / "p.csv"))
    assert code == 0, err
    table = pd.read_csv(tmp_path / "p.csv")
    assert list(table["id"]) == list(grown["id"])  # every node of the grown graph
    new = table["id"].isin(grown["id"][300:])
    accuracy = float((table["prediction"][new] == grown["label"][300:].to_numpy()).mean())
    assert accuracy >= 0.6  # 150 digits the model never saw, 10 classes: chance 0.1
    nodes, edges = pd.read_csv(tmp_path / "grown.csv"), pd.read_csv(tmp_path / "grown_edges.csv")
    again = kampai.load_run(run_dir).predict(nodes, edges=edges)
    np.testing.assert_allclose(again.filter(like="proba_").to_numpy(), table.filter(like="proba_").to_numpy(),
                               atol=1e-5)
    code, _out, err = invoke("predict", run_dir, "--edges", str(tmp_path / "grown_edges.csv"))
    assert code == 2 and "pass --data as well" in err
    with pytest.raises(kampai.plugin.DataError, match="give the table itself"):
        kampai.load_run(run_dir).predict(nodes, edges=str(tmp_path / "grown_edges.csv"))  # inline only


@pytest.mark.slow  # a server process that imports torch_geometric: 41 s at load 12
def test_serve_predicts_a_new_graph_given_inline(digits_run: tuple[Path, str]) -> None:
    """``runner serve``: ``{"records": nodes, "options": {"edges": edge records}}``; a path
    in place of the edges is refused (a client must not name files on the server)."""
    pytest.importorskip("fastapi")
    from test_serve import server

    tmp_path, run_dir = digits_run
    nodes, edges = pd.read_csv(tmp_path / "grown.csv"), pd.read_csv(tmp_path / "grown_edges.csv")
    expected = kampai.load_run(run_dir).predict(nodes, edges=edges)
    env = {"PYTHONPATH": str(Path(__file__).parent.parent / "src"), "KAMPAI_BLOCK_PLUGINS": "mlflow"}
    with server(run_dir, env=env) as (client, _proc):
        r = client.post("/predict", json={"records": nodes.to_dict("records"),
                                          "options": {"edges": edges.to_dict("records")}})
        assert r.status_code == 200, r.text
        got = r.json()
        rows = got["predictions"] if isinstance(got, dict) else got
        assert [row["prediction"] for row in rows] == expected["prediction"].tolist()
        r = client.post("/predict", json={"records": nodes.to_dict("records"),
                                          "options": {"edges": str(tmp_path / "grown_edges.csv")}})
        assert r.status_code == 400 and "give the table itself" in r.text


def test_transductive_model_says_it_cannot_predict_a_new_graph(tmp_path: Path) -> None:
    """Laplacian eigenvectors (part of ``auto`` for a featureless graph) describe the
    training graph only: predicting another graph stops with one line (exit 2); trained on
    the inductive structural features, the same graph's growth is predicted."""
    nodes = karate_networkx()
    edges = nodes.attrs["edges"]
    nodes.attrs = {}
    keep = nodes["id"] < 28  # the club before six members joined
    nodes[keep].to_csv(tmp_path / "nodes.csv", index=False)
    edges[(edges["source"] < 28) & (edges["target"] < 28)].to_csv(tmp_path / "edges.csv", index=False)
    nodes.to_csv(tmp_path / "all.csv", index=False)
    edges.to_csv(tmp_path / "all_edges.csv", index=False)
    data = ("--task", "node-classification", "--framework", "pyg", "--data", str(tmp_path / "nodes.csv"),
            "--edges", str(tmp_path / "edges.csv"), "--target", "club", "--runs-dir", str(tmp_path / "runs"),
            "--json", "model.params.epochs=20")
    grown = ("--data", str(tmp_path / "all.csv"), "--edges", str(tmp_path / "all_edges.csv"))
    code, out, err = invoke("train", *data)
    assert code == 0, err
    transductive = json.loads(out)["run_dir"]
    code, _out, err = invoke("predict", transductive, *grown)
    assert code == 2 and "transductive" in err and "laplacian" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = invoke("predict", transductive, "--nodes", "0,27")  # its own graph: fine
    assert code == 0, err
    code, out, err = invoke("train", *data, "--model", "GIN", "--structural", "degree,strength,rwpe")
    assert code == 0, err
    code, out, err = invoke("predict", json.loads(out)["run_dir"], *grown)
    assert code == 0, err
    table = pd.read_csv(__import__("io").StringIO(out))
    assert len(table) == 34 and set(table["prediction"]) <= {"Mr. Hi", "Officer"}
    np.testing.assert_allclose(table.filter(like="proba_").sum(axis=1), 1, atol=1e-6)
