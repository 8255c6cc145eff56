"""Rebuild bayescale/datasets/olmo_domains.csv from ../shared/data/colpret/olmo.csv (run from the repo root)."""

import numpy as np
import pandas as pd

source = pd.read_csv("../shared/data/colpret/olmo.csv")
cols = [c for c in source.columns if c.endswith("-validation/CrossEntropyLoss") and not c.startswith("v")]
long = source.melt(id_vars=["model_name", "num_params", "Step"], value_vars=cols, var_name="domain",
                   value_name="loss").dropna()
long["domain"] = long["domain"].str.replace("-validation/CrossEntropyLoss", "", regex=False)
long = long.rename(columns={"model_name": "model", "num_params": "params_label", "Step": "step"})
long["model"] = long["model"].str.strip()
keep = []
for _, curve in long.groupby(["model", "domain"]):
    curve = curve.sort_values("step").drop_duplicates("step")
    targets = np.geomspace(curve.step.min(), curve.step.max(), 24)
    idx = sorted({int(np.argmin(np.abs(np.log(curve.step.values) - np.log(t)))) for t in targets})
    keep.append(curve.iloc[idx])
out = pd.concat(keep).sort_values(["model", "domain", "step"]).reset_index(drop=True)
out[["model", "params_label", "domain", "step", "loss"]].to_csv("bayescale/datasets/olmo_domains.csv", index=False)
