"""The optional time-to-accuracy comparison (``--digits``): scikit-learn's MLPClassifier
and neuroback, 64-128-10, Adam, on the digits. ``train_to_target`` runs in a worker; the rest
summarises and formats its results on the driver's side. ``digits_data`` and
``digits_trainer`` (the data and neuroback's model) are shared with ``fitshare``."""

from __future__ import annotations

import statistics
import time
from typing import Any

from .sizes import ADAM_LR, DIGITS_BATCH, DIGITS_HIDDEN, DIGITS_IMPLS, DIGITS_TEST
from .stats import bootstrap_ratio_ci, failed_summary, ok_reps, per_rep


def digits_data(np: Any, load_digits: Any) -> tuple[Any, Any]:
    """scikit-learn's digits (``load_digits``, passed in: the caller handles its import
    failing): the 8x8 pixels scaled to [0, 1] as float32, and the integer labels."""
    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y


def digits_trainer(nb: Any, seed: int, callbacks: Any = ()) -> Any:
    """neuroback's digits model and Trainer: 64-128-10 ReLU (weights drawn from ``seed``),
    softmax cross-entropy, Adam(lr=1e-3), ``seed`` for the data order."""
    nb.seed(seed)
    model = nb.Sequential(
        nb.layers.Dense(64, DIGITS_HIDDEN, dtype="float32"),
        nb.layers.ReLU(),
        nb.layers.Dense(DIGITS_HIDDEN, 10, dtype="float32"),
    )
    loss, opt = nb.losses.SoftmaxCrossEntropy(), nb.optimizers.Adam(lr=ADAM_LR)
    return nb.Trainer(model, loss, opt, seed=seed, callbacks=callbacks)


def train_to_target(ts: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Epochs of Adam(lr=1e-3, batch 32) on the digits until the held-out accuracy reaches
    ``spec["target_acc"]``; only the training calls are timed (evaluation is not)."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
        from sklearn.neural_network import MLPClassifier
    except ImportError as exc:
        return {"status": "missing", "reason": f"scikit-learn is not importable: {exc}"}
    np, nb, seed = ts.np, ts.nb, spec["seed"]
    x, y = digits_data(np, load_digits)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=DIGITS_TEST, random_state=seed, stratify=y
    )
    if spec["impl"] == "sklearn-mlp":
        clf = MLPClassifier(
            hidden_layer_sizes=(DIGITS_HIDDEN,),
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=DIGITS_BATCH,
            learning_rate_init=ADAM_LR,
            shuffle=True,
            random_state=seed,
        )
        classes = np.unique(y)

        def epoch() -> None:  # partial_fit: one pass over the data, shuffled
            clf.partial_fit(x_tr, y_tr, classes=classes)

        def accuracy() -> float:
            return float(np.mean(clf.predict(x_te) == y_te))
    else:
        trainer = digits_trainer(nb, seed)

        def epoch() -> None:
            trainer.fit(x_tr, y_tr, epochs=1, batch_size=DIGITS_BATCH, shuffle=True)

        def accuracy() -> float:
            return float(np.mean(np.argmax(trainer.predict(x_te), axis=1) == y_te))

    train_s, curve, reached = 0.0, [], None
    for e in range(1, spec["max_epochs"] + 1):
        t0 = time.perf_counter()
        epoch()
        train_s += time.perf_counter() - t0
        acc = accuracy()
        curve.append([e, round(train_s, 6), acc])
        if acc >= spec["target_acc"]:
            reached = {"epochs": e, "train_s": train_s}
            break
    return {
        "status": "ok",
        "reached": reached,
        "epochs_run": len(curve),
        "epoch_s": train_s / len(curve),
        "final_accuracy": curve[-1][2],
        "curve": curve,
        "n_train": len(y_tr),
        "n_test": len(y_te),
    }


def analyze_digits(per_impl: dict[str, list[dict[str, Any]]], resamples: int, seed: int) -> dict:
    """Median time to the target accuracy per implementation, and the ratio
    nb-digits/sklearn-mlp with a paired bootstrap CI over repetitions (only repetitions in
    which both reached the target count)."""
    summary: dict[str, Any] = {}
    for impl, reps in per_impl.items():
        ok = ok_reps(reps)
        if not ok:
            summary[impl] = failed_summary(reps)
            continue
        hit = [r["reached"] for r in ok if r["reached"]]
        summary[impl] = {
            "status": "ok",
            "reps": len(ok),
            "reached": len(hit),
            "time_to_target_s": statistics.median(h["train_s"] for h in hit) if hit else None,
            "epochs_to_target": statistics.median(h["epochs"] for h in hit) if hit else None,
            "epoch_ms": statistics.median(r["epoch_s"] for r in ok) * 1e3,
            "final_accuracy": statistics.median(r["final_accuracy"] for r in ok),
        }

    def by_rep(impl: str) -> dict[int, list[float]]:
        return per_rep(
            per_impl.get(impl, []), lambda r: [r["reached"]["train_s"]] if r["reached"] else None
        )

    ci = None
    if all(summary.get(i, {}).get("status") == "ok" for i in DIGITS_IMPLS):
        ci = bootstrap_ratio_ci(by_rep("nb-digits"), by_rep("sklearn-mlp"), resamples, seed)
    return {"summary": summary, "ci": ci}


def digits_rows(res: dict[str, Any]) -> list[list[str]]:
    rows = []
    for impl, s in res["summary"].items():
        if s["status"] != "ok":
            rows.append([impl, f"{s['status']}: {s.get('reason')}", "", "", "", ""])
            continue
        t = s["time_to_target_s"]
        rows.append(
            [
                impl,
                f"{t:.3f}" if t is not None else "not reached",
                f"{s['epochs_to_target']:g}" if s["epochs_to_target"] is not None else "-",
                f"{s['epoch_ms']:.1f}",
                f"{s['final_accuracy']:.3f}",
                f"{s['reached']}/{s['reps']}",
            ]
        )
    return rows


DIGITS_HEADERS = [
    "implementation",
    "time to target s",
    "epochs",
    "ms per epoch",
    "final test accuracy",
    "reps reaching it",
]


def digits_title(cfg: dict[str, Any]) -> str:
    return (
        f"digits: time to {cfg['target_acc']:.0%} held-out accuracy, MLP 64-{DIGITS_HIDDEN}-10 "
        f"ReLU, softmax cross-entropy, Adam lr={ADAM_LR:g}, batch {DIGITS_BATCH}, float32, "
        f"{1 - DIGITS_TEST:.0%}/{DIGITS_TEST:.0%} stratified split, at most "
        f"{cfg['max_epochs']} epochs"
    )
