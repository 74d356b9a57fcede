"""``runner container``: build images, run runner commands in them, write Kubernetes manifests."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import typer

container_app = typer.Typer(help="Container images (Docker/Podman) and Kubernetes manifests for train, tune, serve.",
                            no_args_is_help=True)
k8s_app = typer.Typer(help="Kubernetes manifests (YAML) for training Jobs, tuning workers and serving.",
                      no_args_is_help=True)
container_app.add_typer(k8s_app, name="k8s")

Engine = typer.Option(None, "--engine", help="docker | podman | a path (default: $KAMPAI_CONTAINER_ENGINE, "
                      "else podman or docker, whichever is installed).")
Network = typer.Option(None, "--network", help="Network mode for the build/run (e.g. host).")
DEFAULT_TAG = "kampai:latest"


def _kampai_source() -> tuple[Path | None, str]:
    """kampai's source tree, and its version: the tree the running kampai is imported from when
    it is one (a checkout, an editable install: the image gets the code that runs here), else
    the local path it was installed from; None = install ``kampai==VERSION`` from the index."""
    from importlib.metadata import PackageNotFoundError, distribution

    import kampai

    try:
        dist = distribution("kampai")
        version, text = dist.version, dist.read_text("direct_url.json")
    except PackageNotFoundError:
        version, text = getattr(kampai, "__version__", ""), None
    here = Path(kampai.__file__).resolve().parent.parent.parent  # <root>/src/kampai/__init__.py
    if (here / "pyproject.toml").is_file() and (here / "src" / "kampai").is_dir():
        return here, version
    if text:
        url = json.loads(text).get("url", "")
        if url.startswith("file://"):
            path = Path(url[len("file://"):])
            if (path / "pyproject.toml").exists() and (path / "src").is_dir():
                return path, version
    return None, version


def _serializer_extras(config: dict[str, Any]) -> list[str]:
    from kampai.plugin.experiments import registry_of

    name = (config.get("output") or {}).get("serializer")
    extra = getattr(registry_of("serializers").get(name), "extra", None) if name else None
    return [extra] if extra else []


def _extras_for(framework: str, pip: list[str]) -> list[str]:
    from kampai.plugin import ConfigError, did_you_mean
    from kampai.plugin.experiments import registry_of

    frameworks = registry_of("frameworks")
    if framework not in frameworks:
        names = list(frameworks)
        raise ConfigError(f"Unknown framework '{framework}'{did_you_mean(framework, names)} "
                          f"(known: {', '.join(names)}).")
    fw = frameworks.get(framework)
    extra = getattr(fw, "extra", None)
    if extra:
        return [extra]
    module = type(fw).__module__ if not isinstance(fw, type) else fw.__module__
    if not module.startswith("kampai.") and not pip:
        raise ConfigError(f"Framework '{framework}' has no kampai extra (it comes from {module.split('.')[0]}): "
                          "pass the package that provides it with --pip PACKAGE.")
    return []


_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _extra_requirements(source: Path | None) -> dict[str, list[str]] | None:
    """Each kampai extra's requirement strings: from the source tree's pyproject.toml, else from
    the installed distribution's metadata; None when neither can be read."""
    if source is not None:
        import tomllib

        data = tomllib.loads((source / "pyproject.toml").read_text())
        return {k: list(v) for k, v in data.get("project", {}).get("optional-dependencies", {}).items()}
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        requires = distribution("kampai").requires or []
    except PackageNotFoundError:
        return None
    extras: dict[str, list[str]] = {}
    for req in requires:
        requirement, _, marker = req.partition(";")
        match = _EXTRA_MARKER.search(marker)
        if match:
            extras.setdefault(match.group(1), []).append(requirement.strip())
    return extras


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[;@ ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


# a serving image runs `runner serve` only: not `runner app`'s Streamlit UI, not the tests' client
SERVE_IMAGE_SKIPS = {"streamlit", "httpx"}


def _served_pins(run_dir: Path) -> dict[str, str]:
    """The package versions the run recorded (signature.json), pinned in its serving image."""
    try:
        packages = json.loads((run_dir / "signature.json").read_text()).get("packages") or {}
    except (OSError, ValueError):
        return {}
    # a local label (torch 2.14.1+cu130 on a GPU host) is the build's flavour, not its version:
    # ==2.14.1 lets the image take the CPU or CUDA wheel its index has
    return {name: str(v).split("+")[0] for name, v in packages.items() if name not in ("python", "kampai") and v}


def _resign(copy: Path, key: str) -> None:
    """Re-sign the run copied into the build context with the image's own key (the host's key
    never enters an image; the copy was verified with the host's key first)."""
    from kampai.plugin import RunError

    env = {**os.environ, "KAMPAI_SECRET_KEY": key}
    r = subprocess.run([sys.executable, "-m", "kampai", "runs", "trust", str(copy), "--yes"], env=env,
                       capture_output=True, text=True)
    if r.returncode:
        raise RunError(f"Could not sign the run copied into the image: {(r.stderr or r.stdout).strip()[-500:]}")


@container_app.command("build")
def build_cmd(
    run: str = typer.Argument(None, help="With --serve: the run folder or NAME@stage to put in the image."),
    framework: str = typer.Option(None, "--framework", help="Framework whose extra the image needs (runner "
                                  "frameworks list); with --serve, the run's framework."),
    serve: bool = typer.Option(False, "--serve", help="A serving image of RUN: `runner serve` on 0.0.0.0, auth "
                               "required (KAMPAI_SERVE_TOKEN), HEALTHCHECK on /ready."),
    gpu: bool = typer.Option(False, "--gpu", help="A CUDA image (nvidia/cuda base; torch's CUDA wheels)."),
    tag: str = typer.Option(None, "--tag", "-t", help="Image tag (default kampai-FRAMEWORK[-gpu]:VERSION)."),
    base_image: str = typer.Option(None, "--base-image", help="Base image (default python:3.11-slim; "
                                   "GPU: nvidia/cuda:12.8.1-base-ubuntu24.04); e.g. your registry's mirror."),
    extra: list[str] = typer.Option([], "--extra", help="More kampai extras (e.g. mlflow, tune)."),
    pip: list[str] = typer.Option([], "--pip", help="More pip requirements (e.g. a third-party kampai plugin)."),
    ca_bundle: Path = typer.Option(None, "--ca-bundle", help="Extra CA bundle pip trusts inside the build "
                                   "(a TLS-inspecting proxy)."),
    build_arg: list[str] = typer.Option([], "--build-arg", help="KEY=VALUE passed to the build "
                                        "(PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, ...)."),
    constraints: Path = typer.Option(None, "--constraints", help="pip constraints (default: the project's "
                                     "constraints.txt)."),
    output: Path = typer.Option(None, "--output", "-o", help="Folder for the Dockerfile and build context "
                                "(default .kampai/container/<tag>)."),
    dockerfile_only: bool = typer.Option(False, "--dockerfile-only", help="Write the Dockerfile and context, "
                                         "do not build."),
    torch_index: str = typer.Option(None, "--torch-index", help="CPU images of torch frameworks: the index "
                                    "with torch's CPU wheels (default PyTorch's; 'none' = PyPI only)."),
    keep_bytecode: bool = typer.Option(False, "--keep-bytecode", help="Keep the venv's __pycache__: a bigger "
                                       "image, each process starts ~3 s of CPU sooner."),
    no_strip: bool = typer.Option(False, "--no-strip", help="Do not strip the shared libraries' symbols "
                                  "(the builder then needs no binutils from apt)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Build every step anew (the engine's --no-cache)."),
    engine: str = Engine, network: str = Network,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not stream the build's output."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON on stdout."),
) -> None:
    """Build an image with kampai and a framework's extras, or a serving image of a run."""
    from kampai.plugin import ConfigError, RunError
    from kampai.plugin.runs import load_run
    from kampai.plugins.container import dockerfile as df
    from kampai.plugins.container import engine as eng
    from kampai.plugins.container import runcopy

    source, version = _kampai_source()
    serve_dir, serve_files = None, {}
    if serve:
        if not run:
            raise ConfigError("--serve needs the run to serve: runner container build RUN --serve.")
        trained = load_run(run)
        serve_dir = Path(trained.run_dir)
        # what goes into an image is what was trained: the files its signed manifest lists
        serve_files = runcopy.signed_files(serve_dir, label=f"Run '{run}'")
        framework = framework or trained.config.get("framework")
    elif run:
        raise ConfigError(f"A run ('{run}') is only taken with --serve.")
    if not framework:
        raise ConfigError("Which framework does the image need? Pass --framework NAME (runner frameworks list).")
    extras = _extras_for(framework, pip) + list(extra)
    if serve_dir is not None:  # a run saved with --serializer NAME needs that format's libraries
        extras += _serializer_extras(trained.config)
    known = _extra_requirements(source)
    requirements: list[str] = []
    if known is not None:
        unknown = [e for e in extras if e not in known]
        if unknown:
            raise ConfigError(f"Unknown kampai extra(s) {', '.join(unknown)} (known: {', '.join(sorted(known))}).")
        if serve and "serve" not in known:
            raise RunError("This kampai has no 'serve' extra (runner serve is not installed): "
                           "a serving image cannot be built from it.")
    if serve and known is not None:
        requirements = [r for r in known["serve"] if _requirement_name(r) not in SERVE_IMAGE_SKIPS]
    else:
        extras.append("serve" if serve else "tune")
    base = base_image or (df.GPU_BASE if gpu else df.CPU_BASE)
    if gpu and "cuda" not in base.lower():
        raise ConfigError(f"--gpu needs a CUDA base image (nvidia/cuda:*); '{base}' is not one "
                          f"(default {df.GPU_BASE}).")
    tag = tag or f"kampai-{framework}{'-serve' if serve else ''}{'-gpu' if gpu else ''}:{version}"
    if not df.valid_tag(tag):
        raise ConfigError(f"Invalid image tag '{tag}': lower-case name[:tag], e.g. kampai-sklearn:0.1.")
    if ca_bundle is not None and not ca_bundle.is_file():
        raise ConfigError(f"CA bundle '{ca_bundle}' does not exist.")
    if constraints is not None and not constraints.is_file():
        raise ConfigError(f"Constraints file '{constraints}' does not exist.")
    args: dict[str, str] = {}
    for item in build_arg:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--build-arg '{item}' is not KEY=VALUE.")
        args[key] = value
    if constraints is None and source is not None:
        constraints = source / "constraints.txt"
    # only extras that require torch look at PyTorch's CPU index (a scikit-learn image never does)
    wanted = [r for e in extras for r in (known or {}).get(e, [])] + requirements
    needs_torch = any(_requirement_name(r) in ("torch", "torchvision") for r in wanted) if known is not None \
        else bool(_extras_for(framework, pip))
    index = (torch_index or df.TORCH_CPU_INDEX) if needs_torch and torch_index != "none" else None
    spec = df.ImageSpec(extras=extras, torch_index=index, base_image=base, gpu=gpu, serve_model=serve_dir,
                        pip_packages=list(pip), requirements=requirements,
                        pins=_served_pins(serve_dir) if serve_dir else {}, keep_bytecode=keep_bytecode,
                        strip=not no_strip,
                        image_key=secrets.token_hex(32) if serve_dir else None,
                        serve_files=serve_files,
                        ca_bundle=ca_bundle, kampai_source=source, kampai_version=version, constraints=constraints,
                        labels={"org.opencontainers.image.title": tag, "ai.kampai.framework": framework,
                                "ai.kampai.version": version})
    out = output or Path(".kampai") / "container" / tag.replace("/", "_").replace(":", "_")
    path = df.write_context(spec, out)
    if spec.image_key:
        _resign(out / "model", spec.image_key)
        runcopy.check_resigned(out / "model", spec.serve_files)
    result: dict[str, Any] = {"tag": tag, "dockerfile": str(path), "extras": sorted(set(extras)), "base": base}
    if not dockerfile_only:
        binary = eng.find_engine(engine)
        start = time.perf_counter()
        eng.build(binary, out, tag, args, network, quiet=quiet or json_out, no_cache=no_cache)
        result["build_seconds"] = round(time.perf_counter() - start, 1)
        result["size_bytes"] = eng.image_size(binary, tag)
        result["engine"] = eng.kind(binary)
        if not serve and tag != DEFAULT_TAG:  # the image `runner container run` takes without --image
            eng.tag(binary, tag, DEFAULT_TAG)
            result["also_tagged"] = DEFAULT_TAG
    if json_out:
        typer.echo(json.dumps(result))
    else:
        size = result.get("size_bytes")
        built = (f"built {tag} in {result['build_seconds']} s, {size / 1e6:.0f} MB" if size else
                 f"built {tag}" if not dockerfile_only else f"Dockerfile for {tag}")
        typer.echo(f"{built} → {path}")


@container_app.command("run", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run_cmd(
    ctx: typer.Context,
    image: str = typer.Option(DEFAULT_TAG, "--image", "-i", help="Image to run (default: the last training image "
                              "runner container build made here, also tagged kampai:latest)."),
    gpu: bool = typer.Option(False, "--gpu", help="Pass the GPUs (docker --gpus all; podman CDI nvidia.com/gpu=all)."),
    project: Path = typer.Option(Path("."), "--project", help="Project folder mounted at /work."),
    env: list[str] = typer.Option([], "--env", "-e", help="KEY=VALUE (or KEY) for the container."),
    publish: list[str] = typer.Option([], "--publish", "-p", help="HOST:CONTAINER port."),
    engine: str = Engine, network: str = Network,
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the engine command, run nothing."),
) -> None:
    """Run a runner command in an image with the project mounted: runner container run -- train -c x.yaml"""
    from kampai.plugin import ConfigError, RunError
    from kampai.plugins.container import engine as eng

    args = list(ctx.args)
    if not args:
        raise ConfigError("Which runner command? e.g. runner container run -- train -c conf/experiments/iris.yaml")
    if not project.is_dir():
        raise ConfigError(f"Project folder '{project}' does not exist.")
    binary = eng.find_engine(engine)
    cmd = eng.run_command(binary, image, args, project, gpu=gpu, network=network, env=env, publish=publish)
    if dry_run:
        typer.echo(" ".join(cmd))
        return
    if not eng.image_exists(binary, image):
        raise RunError(f"Image '{image}' does not exist for {eng.kind(binary)}: build it with "
                       "runner container build --framework NAME --tag " + image)
    code = subprocess.call(cmd)
    if code:
        raise typer.Exit(code)


Out = typer.Option(None, "--output", "-o", help="Write the YAML here (default: stdout).")
Image = typer.Option(..., "--image", help="Image the cluster pulls (push it to your registry first).")
Queue = typer.Option(None, "--queue", help="Kueue LocalQueue: the Job gets the kueue.x-k8s.io/queue-name "
                     "label and is created suspended until Kueue admits it.")


def _emit(docs: list[dict[str, Any]], output: Path | None) -> None:
    from kampai.plugins.container import k8s

    text = k8s.dump(docs)
    if output is None:
        sys.stdout.write(text)
    else:
        tmp = output.with_name(output.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, output)
        typer.echo(f"wrote {len(docs)} manifest(s) → {output}", err=True)


@k8s_app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def k8s_train(ctx: typer.Context, name: str = typer.Option(..., "--name"), image: str = Image,
              gpu: int = typer.Option(0, "--gpu", min=0, help="GPUs per pod (resources.limits nvidia.com/gpu)."),
              backoff_limit: int = typer.Option(0, "--backoff-limit", min=0),
              pvc: str = typer.Option(None, "--pvc", help="PersistentVolumeClaim mounted at /work (runs/ land "
                                      "there; default an emptyDir, lost with the pod)."),
              cpu: str = typer.Option(None, "--cpu"), memory: str = typer.Option(None, "--memory"),
              nodes: int = typer.Option(None, "--nodes", min=1, help="Train on this many pods with torchrun "
                                        "(DDP, --gpu processes per pod): an indexed Job + a headless Service "
                                        "for the rendezvous (docs/distributed-training.md)."),
              queue: str = Queue, output: Path = Out) -> None:
    """A training Job: runner container k8s train --name x --image I -- -c conf/experiments/x.yaml"""
    from kampai.plugins.container import k8s

    if nodes is not None:
        _emit(k8s.distributed_train_job(k8s.check_name(name), image, list(ctx.args), nodes=nodes, gpu=gpu, pvc=pvc,
                                        cpu=cpu, memory=memory, queue=queue), output)
        return
    _emit(k8s.train_job(k8s.check_name(name), image, list(ctx.args), gpu=gpu, backoff_limit=backoff_limit,
                        pvc=pvc, cpu=cpu, memory=memory, queue=queue), output)


@k8s_app.command("tune", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def k8s_tune(ctx: typer.Context, name: str = typer.Option(..., "--name"), image: str = Image,
             workers: int = typer.Option(2, "--workers", min=1, help="Worker pods sharing the study."),
             storage: str = typer.Option(None, "--storage", help="postgresql://... (put in a generated Secret)."),
             storage_secret: str = typer.Option(None, "--storage-secret", help="Existing Secret with key 'storage'."),
             study: str = typer.Option(None, "--study", help="Study name (default: --name)."),
             gpu: int = typer.Option(0, "--gpu", min=0), backoff_limit: int = typer.Option(0, "--backoff-limit", min=0),
             pvc: str = typer.Option(None, "--pvc"), cpu: str = typer.Option(None, "--cpu"),
             memory: str = typer.Option(None, "--memory"), queue: str = Queue, output: Path = Out) -> None:
    """A tuning study as an indexed Job of --workers pods on one --storage."""
    from kampai.plugin import ConfigError
    from kampai.plugins.container import k8s

    if not storage_secret and (not storage or not storage.startswith(("postgresql", "mysql"))):
        raise ConfigError("Workers on several machines share a study through a database: pass "
                          "--storage postgresql://... (or --storage-secret NAME).")
    _emit(k8s.tune_job(k8s.check_name(name), image, list(ctx.args), workers=workers, storage=storage,
                       storage_secret_name=storage_secret, study=study or name, gpu=gpu,
                       backoff_limit=backoff_limit, pvc=pvc, cpu=cpu, memory=memory, queue=queue), output)


@k8s_app.command("serve")
def k8s_serve(name: str = typer.Option(..., "--name"), image: str = Image,
              replicas: int = typer.Option(1, "--replicas", min=1),
              token_secret: str = typer.Option(None, "--token-secret", help="Secret with key 'token' "
                                               "(default NAME-token; kubectl create secret generic ...)."),
              token: str = typer.Option(None, "--token", help="Also write the Secret with this token."),
              gpu: int = typer.Option(0, "--gpu", min=0), cpu: str = typer.Option(None, "--cpu"),
              memory: str = typer.Option(None, "--memory"), port: int = typer.Option(80, "--port"),
              output: Path = Out) -> None:
    """A serving Deployment + Service (probes on /ready and /health, token from a Secret)."""
    from kampai.plugins.container import k8s

    k8s.check_name(name)
    _emit(k8s.serve(name, image, replicas=replicas, token_secret=token_secret or f"{name}-token", token=token,
                    gpu=gpu, cpu=cpu, memory=memory, port=port), output)
