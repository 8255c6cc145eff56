"""Build the bundled ``emergence`` dataset: BIG-bench "emergent" tasks against training compute.

    .venv/bin/python benchmarks/prepare_emergence.py [--shared ../shared/data] [--out bayescale/datasets]

Joins ``obsscaling/base_llm_emergent_capability_eval.csv`` (accuracies per model) with
``obsscaling/base_llm_benchmark_eval.csv`` (model family and ``FLOPs (1E21)``) on ``Model``,
and writes one tidy row per (model, task): ``model``, ``family``, ``flops`` (FLOP),
``task``, ``accuracy``, ``n_items``. Models without a compute figure and missing scores are
dropped here, explicitly, and counted in the card. BLEU is left out (not an accuracy).

``n_items`` is the smallest evaluation-set size that makes every accuracy of the task a
whole number of correct answers (2000 for the arithmetic and word-unscrambling tasks, 1050
for Persian QA); it is inferred from the numbers, not documented upstream, and left empty
where no size up to 5000 fits (IPA transliteration).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

TASKS = {
    "parsinlu_qa_2_acc": "parsinlu_qa",
    "word_unscrambling_2_exact_match": "word_unscrambling",
    "ipa_transliterate_2_exact_match": "ipa_transliterate",
    "arithmetic_3ds_2_acc": "arithmetic_3ds",
    "arithmetic_3da_2_acc": "arithmetic_3da",
    "arithmetic_2dm_2_acc": "arithmetic_2dm",
    "arithmetic_2da_2_acc": "arithmetic_2da",
}


def smallest_eval_size(acc: np.ndarray, limit: int = 5000) -> int | None:
    """Smallest n <= limit with acc * n whole for every accuracy (tolerance 1e-6), else None."""
    for n in range(1, limit + 1):
        if np.allclose(acc * n, np.round(acc * n), atol=1e-6):
            return n
    return None


def emergence_table(shared: Path) -> tuple[pd.DataFrame, dict]:
    """The tidy emergence table and counts of what was dropped."""
    scores = pd.read_csv(shared / "obsscaling" / "base_llm_emergent_capability_eval.csv")
    base = pd.read_csv(shared / "obsscaling" / "base_llm_benchmark_eval.csv")
    joined = scores.merge(base[["Model", "Model Family", "FLOPs (1E21)"]], on="Model", how="left")
    no_compute = joined["FLOPs (1E21)"].isna()
    joined = joined[~no_compute]
    long = joined.melt(id_vars=["Model", "Model Family", "FLOPs (1E21)"], value_vars=list(TASKS),
                       var_name="column", value_name="accuracy")
    missing = int(long["accuracy"].isna().sum())
    long = long.dropna(subset=["accuracy"])
    long["task"] = long["column"].map(TASKS)
    sizes = {task: smallest_eval_size(g["accuracy"].to_numpy()) for task, g in long.groupby("task")}
    out = pd.DataFrame({
        "model": long["Model"], "family": long["Model Family"], "flops": long["FLOPs (1E21)"] * 1e21,
        "task": long["task"], "accuracy": long["accuracy"], "n_items": long["task"].map(sizes).astype("Int64"),
    }).sort_values(["task", "flops", "model"]).reset_index(drop=True)
    return out, {"models_without_compute": int(no_compute.sum()), "missing_scores": missing, "sizes": sizes}


CARD = """# emergence

BIG-bench tasks that look "emergent" (accuracy near zero, then a sharp rise with scale),
2-shot, for {models} base models, one row per (model, task), joined with each model's
training compute. Built by `benchmarks/prepare_emergence.py` from `obsscaling_emergent`
and `obsscaling_base`.

| column | meaning |
|---|---|
| `model` | Hugging Face model id |
| `family` | model family (`Model Family` of `obsscaling_base`) |
| `flops` | training compute in FLOP (`FLOPs (1E21)` x 1e21) |
| `task` | {tasks} |
| `accuracy` | accuracy or exact match, a fraction |
| `n_items` | smallest eval-set size making every accuracy of the task a whole count ({sizes}); \
inferred from the numbers, not documented upstream; empty where none up to 5000 fits |

Dropped while building: {no_compute} models without a compute figure in `obsscaling_base`,
{missing} missing scores, and the IPA BLEU column (not an accuracy).

    fit = bayescale.fit(df[df.task == "arithmetic_2dm"], law="sigmoid", x="flops", y="accuracy", trials="n_items")

- Origin: ryoungj/ObsScaling, `eval_results/base_llm_emergent_capability_eval.csv` and
  `eval_results/base_llm_benchmark_eval.csv`, commit 4d6e1e43.
- License: Apache-2.0.
- Cite: Ruan, Maddison, Hashimoto (2024), "Observational Scaling Laws and the Predictability of
  Language Model Performance", arXiv:2405.10938; Wei et al. (2022), "Emergent Abilities of Large
  Language Models", arXiv:2206.07682.
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "bayescale" / "datasets")
    args = parser.parse_args()
    table, dropped = emergence_table(args.shared)
    table.to_csv(args.out / "emergence.csv", index=False, float_format="%.6g")
    sizes = ", ".join(f"{k}: {v}" for k, v in sorted(dropped["sizes"].items()) if v)
    card = CARD.format(models=table["model"].nunique(), tasks=", ".join(sorted(table["task"].unique())),
                       sizes=sizes, no_compute=dropped["models_without_compute"], missing=dropped["missing_scores"])
    (args.out / "emergence.md").write_text(card, encoding="utf-8")
    print(f"wrote {len(table)} rows for {table['model'].nunique()} models; dropped {dropped}")


if __name__ == "__main__":
    main()
