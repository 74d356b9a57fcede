"""scikit-learn's bundled datasets (shipped inside the package: no download)."""

from __future__ import annotations

from typing import Any

#: name -> (loader function in sklearn.datasets, task, description)
BUNDLED = {
    "iris": ("load_iris", "classification", "150 iris flowers, 4 measurements, 3 species"),
    "wine": ("load_wine", "classification", "178 wines, 13 chemical measurements, 3 cultivars"),
    "breast_cancer": ("load_breast_cancer", "classification",
                      "569 tumours, 30 features, malignant or benign"),
    "digits": ("load_digits", "classification", "1,797 8x8 images of digits, 10 classes"),
    "diabetes": ("load_diabetes", "regression", "442 patients, 10 features, disease progression"),
    "linnerud": ("load_linnerud", "regression", "20 athletes, 3 exercises -> weight (first target)"),
}


def loader(name: str):
    def load() -> Any:
        import sklearn.datasets

        fn, task, _ = BUNDLED[name]
        bunch = getattr(sklearn.datasets, fn)(as_frame=True)
        frame = bunch.frame.copy()
        if name == "linnerud":
            frame = bunch.data.join(bunch.target[["Weight"]]).rename(columns={"Weight": "target"})
        elif task == "classification" and "target_names" in bunch:
            # class names read better than codes in predictions and reports
            names = list(bunch.target_names)
            frame["target"] = [str(names[int(i)]) for i in frame["target"]]
        return frame

    return load


def register(registry: Any) -> None:
    for name, (_, task, description) in BUNDLED.items():
        registry.add(f"sklearn:{name}", loader(name), task=task, target="target",
                     description=description)
