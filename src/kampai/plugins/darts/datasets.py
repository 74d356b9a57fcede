"""Real series that ship inside statsmodels (no download): ``statsmodels:co2`` ...

Darts' own dataset classes download at run time, so they are not used here.
"""

from __future__ import annotations

from typing import Any


def _co2(weekly: bool) -> Any:
    import pandas as pd
    from statsmodels.datasets import co2

    raw = co2.load_pandas().data["co2"]
    series = raw if weekly else raw.resample("MS").mean()
    return pd.DataFrame({"date": series.index, "co2": series.to_numpy()})


def _yearly(module: str, year: str, value: str, name: str) -> Any:
    import importlib

    import pandas as pd

    frame = importlib.import_module(f"statsmodels.datasets.{module}").load_pandas().data
    years = frame[year].astype(int).astype(str)
    return pd.DataFrame({"year": pd.to_datetime(years, format="%Y"), name: frame[value].to_numpy(float)})


BUNDLED = {
    "co2": (lambda: _co2(False), "co2",
            "Mauna Loa CO2 (ppm), monthly means 1958-2001 (526 months; 5 empty months)"),
    "co2-weekly": (lambda: _co2(True), "co2", "Mauna Loa CO2 (ppm), weekly 1958-2001 (2,284 weeks, 59 gaps)"),
    "sunspots": (lambda: _yearly("sunspots", "YEAR", "SUNACTIVITY", "sunactivity"), "sunactivity",
                 "yearly sunspot activity 1700-2008 (309 years)"),
    "nile": (lambda: _yearly("nile", "year", "volume", "volume"), "volume",
             "yearly flow of the Nile at Aswan 1871-1970 (100 years)"),
}


def register(registry: Any) -> None:
    for name, (loader, target, description) in BUNDLED.items():
        registry.add(f"statsmodels:{name}", loader, task="forecasting", target=target,
                     description=description)
