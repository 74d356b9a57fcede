"""Image sizes and build times of ``runner container build`` vs a plain Dockerfile.

    eval "$(.ci/containers.sh)"; python benchmarks/containers.py

Builds, on the same base ($KAMPAI_TEST_BASE_IMAGE, a debootstrap'd Debian with python3 where no
registry is reachable; python:3.11-slim elsewhere):

* plain: the Dockerfile a user writes by hand (a venv, ``pip install kampai[tune]``, nothing removed);
* kampai's scikit-learn training image (``--framework sklearn``: kampai + the tune extra);
* kampai's serving image of an iris run (``RUN --serve``; the 500 MB budget of issue 16);
* the training image with ``--keep-bytecode``;

each cold (``--no-cache``) and then cached (the same command again, twice: podman 4.3 does not
reuse the layers of a ``--no-cache`` build, so the second is the cached one), and the start-up of
``import kampai.core.cli, sklearn.linear_model, pandas`` inside the images with and without
bytecode.  Wall seconds of the builds; CPU is not shown (the build steps run under the engine's
own processes, not this one's children).  Prints one table; asserts nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENGINE = os.environ.get("KAMPAI_TEST_ENGINE", "podman")
BASE = os.environ.get("KAMPAI_TEST_BASE_IMAGE", "python:3.11-slim")
CA = os.environ.get("KAMPAI_TEST_CA_BUNDLE")
RUNNER = [sys.executable, "-m", "kampai"]
MB = 1e6

PLAIN = """FROM {base}
COPY extra-ca.crt /etc/ssl/certs/extra-ca.crt
ENV PIP_CERT=/etc/ssl/certs/extra-ca.crt
RUN python3 -m venv /opt/venv
COPY kampai/ /build/kampai/
RUN /opt/venv/bin/pip install -q "/build/kampai[tune]"
ENV PATH=/opt/venv/bin:$PATH
ENTRYPOINT ["runner"]
"""


def timed(cmd: list[str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if r.returncode:
        sys.exit(f"failed: {' '.join(cmd)}\n{r.stderr[-2000:]}")
    return seconds, r.stdout


def size(tag: str) -> float:
    out = subprocess.run([ENGINE, "image", "inspect", "--format", "{{.Size}}", tag], capture_output=True, text=True)
    return int(out.stdout.strip()) / MB


def kampai_build(work: Path, tag: str, *args: str, no_cache: bool) -> float:
    cmd = [*RUNNER, "container", "build", *args, "-t", tag, "--base-image", BASE, "--engine", ENGINE,
           "--network", "host", "-q", "--json", "-o", str(work / tag.replace("/", "_").replace(":", "_"))]
    if CA:
        cmd += ["--ca-bundle", CA]
    if no_cache:
        cmd.append("--no-cache")
    return timed(cmd, work)[0]


def plain_build(work: Path, tag: str, no_cache: bool) -> float:
    ctx = work / "plain"
    if not ctx.exists():
        from kampai.plugins.container.cli import _kampai_source
        from kampai.plugins.container.dockerfile import _copy_source

        ctx.mkdir()
        (ctx / "Dockerfile").write_text(PLAIN.format(base=BASE))
        shutil.copy2(CA or "/etc/ssl/certs/ca-certificates.crt", ctx / "extra-ca.crt")
        _copy_source(_kampai_source()[0], ctx / "kampai")
    cmd = [ENGINE, "build", "-q", "--network", "host", "-t", tag, *(["--no-cache"] if no_cache else []), str(ctx)]
    return timed(cmd, work)[0]


def startup(tag: str, runs: int = 5) -> float:
    code = "import kampai.core.cli, sklearn.linear_model, pandas"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([ENGINE, "run", "--rm", "--network", "host", "--entrypoint", "python", tag, "-c", code],
                       capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="kampai-bench-containers-"))
    r = subprocess.run([*RUNNER, "train", "--task", "classification", "--data", "sklearn:iris", "--model",
                        "LogisticRegression", "--json"], cwd=work, capture_output=True, text=True, check=True)
    run_dir = str(work / json.loads(r.stdout)["run_dir"])
    images = [
        ("plain Dockerfile (kampai[tune], nothing removed)", "localhost/bench-plain:1",
         lambda tag, nc: plain_build(work, tag, nc)),
        ("kampai sklearn training (kampai[tune])", "localhost/bench-sklearn:1",
         lambda tag, nc: kampai_build(work, tag, "--framework", "sklearn", no_cache=nc)),
        ("kampai sklearn training --keep-bytecode", "localhost/bench-sklearn-pyc:1",
         lambda tag, nc: kampai_build(work, tag, "--framework", "sklearn", "--keep-bytecode", no_cache=nc)),
        ("kampai iris serving (RUN --serve)", "localhost/bench-serve:1",
         lambda tag, nc: kampai_build(work, tag, run_dir, "--serve", no_cache=nc)),
    ]
    rows = []
    for label, tag, build in images:
        cold = build(tag, True)
        build(tag, False)  # podman 4.3 does not reuse the layers of a --no-cache build: one build to fill the cache
        cached = build(tag, False)
        rows.append((label, tag, size(tag), cold, cached))
        print(f"{label}: {rows[-1][2]:.0f} MB, cold {cold:.1f} s, cached {cached:.1f} s", file=sys.stderr)
    start = {tag: startup(tag) for tag in ("localhost/bench-sklearn:1", "localhost/bench-sklearn-pyc:1",
                                           "localhost/bench-plain:1")}
    print(f"\nengine {ENGINE}, base {BASE} ({size(BASE):.0f} MB), load average {os.getloadavg()}")
    print(f"{'image':52} {'size MB':>8} {'cold s':>7} {'cached s':>8}")
    for label, _, mb, cold, cached in rows:
        print(f"{label:52} {mb:8.0f} {cold:7.1f} {cached:8.1f}")
    print("\nstart-up in the image (median of 5 `podman run`: import kampai.core.cli, sklearn, pandas)")
    for tag, seconds in start.items():
        print(f"  {tag:40} {seconds:5.2f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
