"""Rebuild bayescale/datasets/datablations.csv from ../shared/data/colpret/datablations_losses.csv.

Run from the repo root. Keeps the columns the card lists and thins each learning curve to the
checkpoints nearest 60 log-spaced token counts (first and last always kept); no value changed.
"""

import numpy as np
import pandas as pd

COLUMNS = ["data", "num_params", "epochs", "tokens_per_epoch", "token_num", "flops", "loss"]
CURVE = ["data", "num_params", "epochs", "tokens_per_epoch"]
POINTS = 60

source = pd.read_csv("../shared/data/colpret/datablations_losses.csv")
keep = []
for _, curve in source.groupby(CURVE):
    curve = curve.sort_values("token_num").drop_duplicates("token_num")
    log_t = np.log(curve.token_num.to_numpy(dtype=float))
    grid = np.linspace(log_t[0], log_t[-1], POINTS)
    idx = sorted({int(np.argmin(np.abs(log_t - g))) for g in grid})
    keep.append(curve.iloc[idx])
out = pd.concat(keep).sort_values(CURVE[:3] + ["token_num"]).reset_index(drop=True)
out[COLUMNS].to_csv("bayescale/datasets/datablations.csv", index=False)
print(f"{len(source)} rows -> {len(out)} rows in {out.groupby(CURVE).ngroups} curves")
