"""The Streamlit page of ``runner app`` (run as a script by Streamlit)."""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from kampai.plugins.serve.model import RequestError, ServedModel, json_type


@st.cache_resource
def _model(ref: str, runs_dir: str) -> ServedModel:
    return ServedModel.load(ref, runs_dir)




def main() -> None:
    """The page (Streamlit runs this file as ``__main__`` on every interaction)."""
    ref = os.environ.get("KAMPAI_APP_REF", "")
    model = _model(ref, os.environ.get("KAMPAI_APP_RUNS_DIR", "runs"))
    meta = model.metadata()
    st.title(f"{meta['task']} · {meta['estimator']}")
    reg = meta["registry"]
    st.caption(f"run {meta['run_id']}" + (f" · {reg['name']}@{reg['stage']} (version {reg['version']})"
                                          if reg["name"] else ""))
    st.subheader("Metrics")
    st.dataframe(pd.DataFrame([meta["metrics"]]))

    if model.ahead:
        horizon = st.number_input("horizon", min_value=1, value=12, step=1)
        if st.button("Forecast"):
            st.dataframe(model.predict(None, horizon=int(horizon)))
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
                table = model.predict(model.check_frame(pd.DataFrame([row])))
                st.dataframe(table)
            except RequestError as exc:
                st.error(str(exc))
        upload = st.file_uploader("CSV for batch prediction", type="csv")
        if upload is not None:
            frame = pd.read_csv(upload)
            try:
                out = model.predict(model.check_frame(frame.astype(object)))
                st.dataframe(out)
                st.download_button("Download predictions", out.to_csv(index=False), "predictions.csv")
            except RequestError as exc:
                st.error(str(exc))


# Streamlit executes the page as __main__; a multiprocessing child started from a process
# that ran the page (AppTest in a test session) re-imports it as __mp_main__: draw nothing then
if __name__ == "__main__":
    main()
