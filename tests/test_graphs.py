"""Graph tasks and the PyG plugin on real bundled graphs (KarateClub from PyG, networkx's
karate club and Atlas of Graphs), offline on CPU; the CUDA test skips without a GPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch_geometric")
pytest.importorskip("networkx")
import torch

import kampai
from helpers import invoke
from kampai import load_run
from kampai.plugins.pyg.framework import PyGFramework
from kampai.tasks.graphs import (
    GraphClassification,
    NodeClassification,
    atlas,
    karate_networkx,
    with_edges,
)
from kampai.testing import check_task, parametrize_with_checks

TINY = {"epochs": 5, "hidden_channels": 8}
NODE = {"task": "node-classification", "framework": "pyg", "verbose": False}
GRAPH = {"task": "graph-classification", "framework": "pyg", "verbose": False}


@pytest.fixture(autouse=True)
def _no_tracking(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAMPAI_BLOCK_PLUGINS", "mlflow")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


@parametrize_with_checks(PyGFramework(), params=TINY)
def test_pyg_conformance(check) -> None:
    check()


@pytest.mark.parametrize("task", [NodeClassification(), GraphClassification()], ids=lambda t: t.name)
def test_task_conformance(task) -> None:
    check_task(task)


def karate_csvs(tmp_path: Path, unlabelled: int = 0) -> tuple[Path, Path]:
    """networkx's karate club as a nodes CSV (numeric + categorical features) and an edges CSV."""
    nodes = karate_networkx()
    rng = np.random.default_rng(0)
    nodes["age"] = rng.normal(30, 8, len(nodes)).round(1)
    nodes["belt"] = rng.choice(["white", "brown", "black"], len(nodes))
    if unlabelled:
        nodes.loc[nodes.index[5:5 + unlabelled], "club"] = None
    edges = nodes.attrs["edges"]
    nodes.attrs = {}
    nodes.to_csv(tmp_path / "nodes.csv", index=False)
    edges.to_csv(tmp_path / "edges.csv", index=False)
    return tmp_path / "nodes.csv", tmp_path / "edges.csv"


def test_cli_train_predict_unlabelled_nodes(tmp_path: Path) -> None:
    nodes, edges = karate_csvs(tmp_path, unlabelled=6)
    code, out, err = invoke("train", "--task", "node-classification", "--framework", "pyg", "--data", str(nodes),
                            "--edges", str(edges), "--target", "club", "--json", "model.params.epochs=100")
    assert code == 0, err
    result = json.loads(out)
    assert result["metrics"]["accuracy"] >= 0.7  # Zachary's split is easy: chance is ~0.5
    run_dir = Path(result["run_dir"])
    table = pd.read_csv(run_dir / "predictions.csv")
    assert table["target"].notna().all()  # unlabelled nodes are never scored
    assert not set(table["id"]) & set(range(5, 11))
    config = json.loads((run_dir / "model" / "model.json").read_text())
    assert config["node_encoder"]["categorical"]["belt"] == ["black", "brown", "white"]
    # the nodes that had no label, from the saved training graph
    code, out, err = invoke("predict", str(run_dir), "--unlabelled")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "id,prediction,proba_Mr. Hi,proba_Officer"
    assert [int(line.split(",")[0]) for line in lines[1:]] == list(range(5, 11))
    code, out, err = invoke("predict", str(run_dir), "--nodes", "0,33")
    assert code == 0, err
    rows = out.splitlines()[1:]
    assert rows[0].startswith("0,Mr. Hi") and rows[1].startswith("33,Officer")
    code, _out, err = invoke("predict", str(run_dir), "--nodes", "0,999")
    assert code == 2 and "999" in err
    # runner evaluate scores the labelled nodes only
    code, out, err = invoke("evaluate", str(run_dir), "--data", str(nodes), "--json")
    assert code == 0, err
    assert 0.5 <= json.loads(out)["accuracy"] <= 1


def test_python_api_save_load_same_probabilities_and_seeded() -> None:
    frame = karate_networkx()
    run = kampai.train(data=frame, target="club", params={"epochs": 60}, **NODE)
    again = kampai.train(data=frame, target="club", params={"epochs": 60}, **NODE)
    assert run.metrics == again.metrics  # seeded: reproducible on CPU
    convs = [m for m in run.model.net.modules() if hasattr(m, "_cached_edge_index")]
    assert convs and not any(c.cached or c._cached_edge_index is not None for c in convs)  # cache only while fitting
    fresh = run.predict(frame)
    loaded = load_run(run.run_dir).predict(frame)
    np.testing.assert_allclose(fresh.filter(like="proba_").to_numpy(), loaded.filter(like="proba_").to_numpy(),
                               atol=1e-6)
    assert len(fresh) == 34 and {"id", "target", "prediction"} <= set(fresh.columns)
    chosen = run.predict(nodes="0,33")  # predict options as keywords, on the saved training graph
    assert list(chosen["id"]) == ["0", "33"] and list(chosen["prediction"]) == ["Mr. Hi", "Officer"]
    meta = json.loads((run.run_dir / "signature.json").read_text())
    assert meta["input_kind"] == "graph" and meta["classes"] == ["Mr. Hi", "Officer"]


@pytest.mark.parametrize("model, params", [("GraphSAGE", {"aggr": "max"}), ("GAT", {"heads": 2})])
def test_models_by_name_on_pyg_karate_kfold(model: str, params: dict) -> None:
    run = kampai.train(data="pyg:karate", model=model, params={**params, "epochs": 80},
                       split={"method": "node_kfold", "folds": 3}, **NODE)
    assert run.meta["folds"] == 3 and run.metrics["accuracy"] > 0.5  # 4 communities: chance 0.25-0.35
    assert (run.run_dir / "model" / "weights.pt").exists() and (run.run_dir / "model" / "graph.npz").exists()


def test_large_full_batch_graph_says_which_extension_helps(monkeypatch, capsys) -> None:
    from kampai.plugins.pyg import training

    monkeypatch.setattr(training, "LARGE_GRAPH_EDGES", 10)
    kampai.train(data="pyg:karate", params={"epochs": 2}, **NODE)
    err = capsys.readouterr().err
    assert "trains full-batch" in err and ("pyg-lib" in err or "batch_size" in err)


def test_neighbour_sampler_without_extensions_keeps_pyg_contract() -> None:
    from torch_geometric.data import Data
    from torch_geometric.loader import NodeLoader

    from kampai.plugins.pyg.sampler import TorchNeighborSampler

    frame = karate_networkx()
    data = NodeClassification().prepare(frame, {"target": "club"}, training=True)
    ei = torch.as_tensor(data.X.edge_index)
    n = data.X.num_nodes
    pyg = Data(x=torch.arange(n, dtype=torch.float32)[:, None], edge_index=ei, e=torch.arange(ei.shape[1]))
    sampler = TorchNeighborSampler(ei, n, [3, 2], torch.Generator().manual_seed(0))
    loader = NodeLoader(pyg, node_sampler=sampler, input_nodes=torch.arange(n), batch_size=10)
    edges = set(map(tuple, ei.t().tolist()))
    in_degree = torch.bincount(ei[1], minlength=n)
    for batch in loader:
        ids = batch.n_id
        assert torch.equal(batch.x[:, 0].long(), ids) and len(set(ids.tolist())) == len(ids)
        seeds = ids[:batch.batch_size]
        assert torch.equal(seeds, batch.input_id)  # seeds first, in order
        global_edges = list(zip(ids[batch.edge_index[0]].tolist(), ids[batch.edge_index[1]].tolist(), strict=True))
        assert set(global_edges) <= edges  # only real edges, with their own attributes
        assert [tuple(ei[:, e].tolist()) for e in batch.e.tolist()] == global_edges
        first_hop = batch.edge_index[1][:batch.num_sampled_edges[0]]
        fan_in = torch.bincount(first_hop, minlength=len(ids))[:batch.batch_size]
        assert torch.equal(fan_in, in_degree[seeds].clamp(max=3))  # min(degree, 3) neighbours each


def test_mini_batches_train_without_pyg_lib_and_say_what_would_speed_up(capsys) -> None:
    from kampai.plugins.pyg.training import _extension

    run = kampai.train(data="networkx:karate", target="club",
                       params={"epochs": 40, "batch_size": 8, "num_neighbors": [5, -1]}, **NODE)
    assert run.metrics["accuracy"] >= 0.7  # two clubs: chance ~0.5
    err = capsys.readouterr().err
    if _extension() is None:
        assert err.count("pip install pyg-lib") == 1
    again = kampai.train(data="networkx:karate", target="club",
                         params={"epochs": 40, "batch_size": 8, "num_neighbors": [5, -1]}, **NODE)
    assert again.metrics == run.metrics  # seeded sampling: reproducible on CPU
    deeper = kampai.train(data="networkx:karate", target="club", params={"epochs": 2, "batch_size": 8,
                                                                         "num_layers": 3}, **NODE)
    assert deeper.model.train["num_neighbors"] == [10, 10, 10]  # the default fan-out follows the depth


class TinyNet(torch.nn.Module):
    """A user's own module: forward(x, edge_index) gives one row per node."""

    def __init__(self, in_channels: int, out_channels: int, width: int = 8) -> None:
        from torch_geometric.nn import SAGEConv

        super().__init__()
        self.conv1, self.conv2 = SAGEConv(in_channels, width), SAGEConv(width, out_channels)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def test_custom_module_by_import_path() -> None:
    run = kampai.train(data="networkx:karate", model="test_graphs:TinyNet", params={"width": 16, "epochs": 60},
                       **NODE)
    assert run.metrics["accuracy"] >= 0.7  # two clubs: chance ~0.5
    assert load_run(run.run_dir).model.estimator == "test_graphs:TinyNet"
    with pytest.raises(kampai.plugin.ConfigError, match="widht"):
        kampai.train(data="networkx:karate", model="test_graphs:TinyNet", params={"widht": 16}, **NODE)


def test_graph_classification_train_predict_new_graphs() -> None:
    graphs = atlas(max_nodes=6)
    run = kampai.train(data=graphs, target="label", model="GIN",
                       params={"epochs": 30, "hidden_channels": 16, "train_eps": True}, **GRAPH)
    assert run.model.estimator == "GIN"
    assert run.metrics["accuracy"] > 0.8  # bipartite or not: the random-walk encoding tells
    new = with_edges(graphs.head(12).drop(columns="label"), graphs.attrs["edges"])
    new.attrs["edges"] = new.attrs["edges"][new.attrs["edges"]["graph_id"].isin(new["graph_id"])]
    fresh = run.predict(new)
    assert list(fresh.columns) == ["graph_id", "prediction", "proba_bipartite", "proba_not_bipartite"]
    loaded = load_run(run.run_dir).predict(new)
    np.testing.assert_allclose(fresh.filter(like="proba_").to_numpy(), loaded.filter(like="proba_").to_numpy(),
                               atol=1e-6)


def test_graph_classification_cli_kfold_evaluate_tune_predict(tmp_path: Path) -> None:
    graphs = atlas(max_nodes=5)
    edges = graphs.attrs["edges"]
    graphs.attrs = {}
    graphs.to_csv(tmp_path / "g.csv", index=False)
    edges.to_csv(tmp_path / "e.csv", index=False)
    data = ("--task", "graph-classification", "--framework", "pyg", "--data", str(tmp_path / "g.csv"),
            "--edges", str(tmp_path / "e.csv"), "--target", "label", "--runs-dir", str(tmp_path / "runs"))
    code, out, err = invoke("train", *data, "--json", "split.method=stratified_kfold", "split.folds=3",
                            "model.params.epochs=10")
    assert code == 0, err
    result = json.loads(out)
    assert 0.5 <= result["metrics"]["accuracy"] <= 1
    run_dir = Path(result["run_dir"])
    code, out, err = invoke("evaluate", str(run_dir), "--data", str(tmp_path / "g.csv"), "--json")
    assert code == 0, err
    assert 0.5 <= json.loads(out)["accuracy"] <= 1
    code, out, err = invoke("predict", str(run_dir), "--data", str(tmp_path / "g.csv"))
    assert code == 0, err
    assert out.splitlines()[0] == "graph_id,target,prediction,proba_bipartite,proba_not_bipartite"
    assert len(out.splitlines()) == len(graphs) + 1
    pytest.importorskip("optuna")  # the rest tunes (the tune extra)
    code, out, err = invoke("tune", *data, "--trials", "2", "model.params.epochs=5")
    assert code == 0, err


def test_graph_classification_with_node_table_and_graph_features(tmp_path: Path) -> None:
    graphs = atlas(max_nodes=5)
    edges = graphs.attrs["edges"]
    nodes = pd.concat([edges[["graph_id", "source"]].rename(columns={"source": "node_id"}),
                       edges[["graph_id", "target"]].rename(columns={"target": "node_id"})]).drop_duplicates()
    nodes["colour"] = np.where(nodes["node_id"] % 2 == 0, "red", "blue")
    graphs = graphs.assign(size=graphs["graph_id"] % 3)
    graphs.attrs = {}
    graphs.to_csv(tmp_path / "g.csv", index=False)
    edges.to_csv(tmp_path / "e.csv", index=False)
    nodes.to_csv(tmp_path / "n.csv", index=False)
    code, out, err = invoke("train", "--task", "graph-classification", "--framework", "pyg", "--data",
                            str(tmp_path / "g.csv"), "--edges", str(tmp_path / "e.csv"), "--nodes-table",
                            str(tmp_path / "n.csv"), "--target", "label", "--structural", "degree,rwpe", "--json",
                            "model.params.epochs=5", "model.params.readout=add")
    assert code == 0, err
    run_dir = Path(json.loads(out)["run_dir"])
    cfg = json.loads((run_dir / "model" / "model.json").read_text())
    assert cfg["graph_encoder"]["numeric"].keys() == {"size"} and "colour" in cfg["node_encoder"]["categorical"]


def test_edges_are_cleaned_as_documented() -> None:
    nodes = pd.DataFrame({"id": ["a", "b", "c", "d"], "y": [0, 1, 0, 1]})
    edges = pd.DataFrame({"source": ["a", "a", "b", "c", "c", "d"], "target": ["b", "b", "a", "c", "d", "a"]})
    data = NodeClassification().prepare(with_edges(nodes, edges), {"target": "y"}, training=True)
    assert data.info["self_loops_dropped"] == 1 and data.info["duplicates_merged"] == 2
    graph = data.X
    assert graph.num_edges == 6  # a-b, c-d, d-a in both directions
    assert graph.info["structural"] == ["degree", "rwpe", "laplacian"] and graph.info["pe_steps"] == 8
    from kampai.plugins.pyg.structural import structural_of  # the plugin computes them

    assert structural_of(graph, ("degree", "rwpe", "laplacian"), 8).shape == (4, 1 + 8 + 8)
    directed = NodeClassification().prepare(with_edges(nodes, edges), {"target": "y", "directed": True},
                                            training=True)
    assert directed.X.num_edges == 4  # a->b (merged), b->a, c->d, d->a


def test_node_splits_hold_out_only_labelled_nodes() -> None:
    from kampai.tasks.graphs import node_holdout, node_kfold

    frame = karate_networkx()
    frame.loc[:9, "club"] = None
    data = NodeClassification().prepare(frame, {"target": "club"}, training=True)
    [(train, test)] = node_holdout(data, {"test_size": 0.25, "seed": 0})
    assert set(range(10)) <= set(train) and not set(range(10)) & set(test) and len(test) == 6
    folds = node_kfold(data, {"folds": 4, "seed": 0})
    assert sorted(np.concatenate([te for _, te in folds])) == list(range(10, 34))


def test_tune_with_pruner_uses_per_epoch_reports() -> None:
    pytest.importorskip("optuna")  # the tune extra
    result = kampai.tune(data="networkx:karate", target="club", trials=3, pruner="median", refit=False,
                         params={"epochs": 20}, **{k: v for k, v in NODE.items()})
    assert len(result.trials) == 3 and 0 <= result.best_value <= 1
    assert {"lr", "hidden_channels"} <= set(result.best_params)


def _exit(*args: str) -> tuple[int, str]:
    code, _out, err = invoke("train", "--framework", "pyg", *args)
    return code, err


def test_bad_input_one_clear_message_exit_2(tmp_path: Path) -> None:
    nodes, _edges = karate_csvs(tmp_path)
    bad = tmp_path / "bad_edges.csv"
    pd.DataFrame({"source": [0, 1, 77, 78], "target": [1, 2, 3, 99]}).to_csv(bad, index=False)
    runs = tmp_path / "runs"
    node = ("--task", "node-classification", "--data", str(nodes), "--runs-dir", str(runs))
    code, err = _exit(*node, "--edges", str(bad), "--target", "club")
    assert code == 2 and "2 edges name 3 node ids" in err and "77" in err and "Traceback" not in err
    code, err = _exit(*node, "--edges", str(_edges), "--target", "klub")
    assert code == 2 and "klub" in err
    code, err = _exit("--task", "node-classification", "--data", "networkx:karate", "--structural", "none",
                      "--runs-dir", str(runs))
    assert code == 2 and "no node features" in err
    code, err = _exit(*node, "--edges", str(_edges), "--target", "club", "model.params.hiden_channels=8")
    assert code == 2 and "hidden_channels" in err
    # NeighborLoader settings that cannot work
    code, err = _exit(*node, "--edges", str(_edges), "--target", "club", "model.params.batch_size=8",
                      "model.params.num_neighbors=[10]")
    assert code == 2 and "num_neighbors has 1 entries but the model has 2 layers" in err
    code, err = _exit(*node, "--edges", str(_edges), "--target", "club", "model.params.batch_size=0")
    assert code == 2 and "batch_size must be a positive integer" in err
    code, err = _exit(*node, "--edges", str(_edges), "--target", "club", "model.params.batch_size=8",
                      "model.params.num_neighbors=[10,0]")
    assert code == 2 and "num_neighbors" in err and "Traceback" not in err
    graphs = atlas(max_nodes=4)
    edges = graphs.attrs["edges"].copy()
    edges.loc[0, "graph_id"] = 99999
    graphs.attrs = {}
    graphs.to_csv(tmp_path / "g.csv", index=False)
    edges.to_csv(tmp_path / "e.csv", index=False)
    code, err = _exit("--task", "graph-classification", "--data", str(tmp_path / "g.csv"), "--edges",
                      str(tmp_path / "e.csv"), "--target", "label", "--runs-dir", str(runs))
    assert code == 2 and "graph ids that the graphs table lacks" in err and "99999" in err
    assert not runs.exists() or not any(runs.iterdir())  # nothing half-written


@pytest.mark.gpu
def test_cuda_training() -> None:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    run = kampai.train(data="pyg:karate", params={"epochs": 50}, overrides=["device=cuda"], **NODE)
    assert run.model.device.startswith("cuda") and run.metrics["accuracy"] >= 0.5
    cpu = load_run(run.run_dir)
    assert len(cpu.predict("pyg:karate")) == 34


def test_training_shows_epoch_progress_unless_quiet() -> None:
    """issue 11.5: a training in epochs says how it goes (epoch, loss, ETA); --json stays clean."""
    shown = invoke("train", "--task", "node-classification", "--framework", "pyg", "--data", "pyg:karate",
                   "model.params.epochs=30")
    assert shown.code == 0, shown.stderr
    assert "epoch 1/30" in shown.stderr and "epoch 30/30" in shown.stderr and "loss" in shown.stderr
    quiet = invoke("train", "--task", "node-classification", "--framework", "pyg", "--data", "pyg:karate",
                   "model.params.epochs=30", "--json")
    assert quiet.code == 0 and "epoch 1/30" not in quiet.stderr
