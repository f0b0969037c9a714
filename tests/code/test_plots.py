"""The training run's figures: a test window's PR curve is drawn from a bounded number of
points, with its legend placed, not searched for over every point."""

from __future__ import annotations

import numpy as np

from training.plots import CURVE_POINTS, pr_figure


def test_pr_curve_draws_at_most_curve_points_per_scorer() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(50_000) < 0.05
    scores = {"model": rng.random(50_000) + y, "rule": rng.random(50_000)}
    fig = pr_figure(y, scores, "test")
    ax = fig.axes[0]
    curves = [line for line in ax.get_lines() if line.get_label() in scores]
    assert [line.get_label() for line in curves] == ["model", "rule"]
    for line in curves:
        drawn = len(np.asarray(line.get_xdata()))
        assert CURVE_POINTS // 2 <= drawn <= CURVE_POINTS
        # the thinned curve still spans recall from 1 down to 0
        assert line.get_xdata()[0] == 1.0 and line.get_xdata()[-1] == 0.0
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()][:2] == ["model", "rule"]
