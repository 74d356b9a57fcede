"""The Streamlit page of ``runner app`` (run as a script by Streamlit)."""

from __future__ import annotations

import hmac
import os
from pathlib import Path

import pandas as pd
import streamlit as st

from kampai.plugin.runs import RUNS_DIR
from kampai.plugins.serve.model import RequestError, ServedModel, json_type


@st.cache_resource
def _model(ref: str, runs_dir: str) -> ServedModel:
    return ServedModel.load(ref, runs_dir)


def _show(table: pd.DataFrame) -> None:
    """A prediction table, probabilities and scores with four decimals."""
    formats = {c: st.column_config.NumberColumn(format="%.4f") for c in table.columns
               if str(c).startswith("proba_") or c == "score"}
    st.dataframe(table, column_config=formats, hide_index=True)


def _unlocked(token: str) -> bool:
    """With a token (``runner app --host ... ``, ``$KAMPAI_SERVE_TOKEN``), the page asks
    for it before it loads or shows anything of the model; once per browser session."""
    if st.session_state.get("kampai_unlocked"):
        return True
    gate = st.empty()
    given = gate.text_input("Access token", type="password")
    if given and hmac.compare_digest(given.encode(), token.encode()):
        st.session_state["kampai_unlocked"] = True
        gate.empty()
        return True
    if given:
        st.error("Wrong token.")
    return False


def main() -> None:
    """The page (Streamlit runs this file as ``__main__`` on every interaction)."""
    token = os.environ.get("KAMPAI_APP_TOKEN")
    if token and not _unlocked(token):
        return
    ref = os.environ.get("KAMPAI_APP_REF", "")
    model = _model(ref, os.environ.get("KAMPAI_APP_RUNS_DIR", RUNS_DIR))
    meta = model.metadata()
    st.title(f"{meta['task']} · {meta['estimator']}")
    reg = meta["registry"]
    st.caption(f"run {meta['run_id']} · {meta['framework']}"
               + (f" · registry {reg['name']}@{reg['stage']} (version {reg['version']})" if reg["name"] else ""))
    st.subheader("Metrics")
    st.dataframe(pd.DataFrame([meta["metrics"]]), hide_index=True)
    plots = sorted(Path(model.run.run_dir).glob("*.png"))  # the task's plots (forecast.png ...)
    for plot in plots:
        st.image(str(plot), caption=plot.name)

    if model.ahead:
        horizon = st.number_input("horizon", min_value=1, value=12, step=1)
        if st.button("Forecast"):
            table = model.predict(None, horizon=int(horizon))
            _show(table)
            when = model.signature.get("time")
            if when in table.columns and "prediction" in table.columns:  # the forecast plot
                series = model.signature.get("series_id")
                st.line_chart(table, x=when, y="prediction", color=series if series in table.columns else None)
    elif model.takes_options:  # recommendation: users and k, the task's own options
        with st.form("query"):
            users = st.text_input("users (comma-separated ids)", value="1")
            k = int(st.number_input("k", min_value=1, value=10, step=1))
            submitted = st.form_submit_button("Recommend")
        if submitted:
            try:
                _show(model.predict(None, options={"users": users, "k": k}))
            except RequestError as exc:
                st.error(str(exc))
    else:
        with st.form("one"):
            row = {}
            for col in model.inputs:
                kind = json_type(col.get("dtype", "object"))
                if col.get("categories"):
                    row[col["name"]] = st.selectbox(col["name"], col["categories"])
                elif kind == "integer":
                    row[col["name"]] = int(st.number_input(col["name"], value=0, step=1))
                elif kind == "number":
                    row[col["name"]] = float(st.number_input(col["name"], value=0.0))
                elif kind == "boolean":
                    row[col["name"]] = st.checkbox(col["name"])
                else:
                    row[col["name"]] = st.text_input(col["name"], value="")
            submitted = st.form_submit_button("Predict")
        if submitted:
            try:
                _show(model.predict(model.check_frame(pd.DataFrame([row]))))
            except RequestError as exc:
                st.error(str(exc))
        upload = st.file_uploader("CSV for batch prediction", type="csv")
        if upload is not None:
            try:
                out = model.predict(model.check_frame(pd.read_csv(upload)))
                _show(out)
                st.download_button("Download predictions", out.to_csv(index=False), "predictions.csv")
            except RequestError as exc:
                st.error(str(exc))
            except (ValueError, pd.errors.ParserError) as exc:
                st.error(f"Cannot read the CSV: {exc}")


# Streamlit executes the page as __main__; a multiprocessing child started from a process
# that ran the page (AppTest in a test session) re-imports it as __mp_main__: draw nothing then
if __name__ == "__main__":
    main()
