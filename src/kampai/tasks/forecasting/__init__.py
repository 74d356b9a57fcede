"""Forecasting: predict the next steps of one or more time series (one module per job:
:mod:`.data` the contract's helpers, :mod:`.task` the task, :mod:`.splits`, :mod:`.metrics`,
:mod:`.plot`).

Framework-neutral: the task holds series as pandas frames (one per series id, indexed by
time); a framework plugin (Darts) converts them to its own types.

Data contract (``data`` section):

* ``time``: the time column; found on its own when exactly one column holds dates;
* ``target``: one column or a list (several targets = a multivariate series); by default
  every numeric column that has no other role;
* ``series_id``: long format, one series per value of this column;
* ``past_covariates`` / ``future_covariates``: columns known only up to now / also ahead;
* ``freq``: a pandas frequency (``MS``, ``W-SAT``, ``D``); inferred when null;
* ``fill``: what to do with missing steps or values: ``interpolate`` (default), ``ffill``,
  ``zero`` or ``error``; every gap is reported;
* ``season``: the seasonal period MASE's naive forecast uses (inferred from ``freq``).

Splits (``split.method``): ``holdout`` (the last ``horizon`` steps of every series) and
``backtest`` (forecasts from many cut-off points: ``start``, ``stride``, ``window``
expanding|sliding, ``train_length``, ``retrain``), both evaluated by the framework.
"""

from __future__ import annotations

from kampai.tasks.forecasting.metrics import METRICS
from kampai.tasks.forecasting.splits import SPLITS
from kampai.tasks.forecasting.task import Forecasting

__all__ = ["METRICS", "SPLITS", "Forecasting"]
