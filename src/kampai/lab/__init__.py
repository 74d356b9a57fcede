"""The data scientist's Python API beyond ``train``/``tune``: runs as a table, comparisons,
the model registry, a background server, insight (inspect, learning curve, report) and
studies, and how runs display themselves in Jupyter.

Every function here calls the very functions the matching ``runner`` command calls (one
code path; :data:`kampai.lab.counterparts.COUNTERPARTS` maps each command to its call and
docs/python-api.md lists them).  Reached through ``kampai.runs``, ``kampai.compare``,
``kampai.registry`` ... (imported on first use: ``import kampai`` stays light).
"""
