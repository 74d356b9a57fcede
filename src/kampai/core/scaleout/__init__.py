"""Scale-out on a Ray cluster (``kampai[ray]``, docs/scale.md): connecting, remote runs and
batch prediction.  Tuning workers on Ray live with the tuner (:mod:`kampai.core.tuning.ray_workers`).

Ray is imported inside functions only: ``runner --help`` and every command without
``--ray`` never import it.
"""
