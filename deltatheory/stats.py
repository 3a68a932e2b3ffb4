"""The toolkit's statistics, in one place: confidence intervals and rank correlation.

* :func:`mean_ci` — mean ± z·SE along an axis (normal approximation; many independent runs).
* :func:`percentile_ci` — the 2.5 and 97.5 percentiles of bootstrap replicates (non-finite
  replicates dropped).
* :func:`bootstrap_ci` — percentile bootstrap CI of a mean, resampling items.
* :func:`paired_diff_ci` — the same for mean(after − before) over paired items.
* :func:`seeds_items_ci` — a t interval for a gain averaged over training seeds that carries
  the spread between seeds as well as the items' (Welch–Satterthwaite degrees of freedom).
* :func:`gap_recovered` — the share of a floor-to-ceiling gap an arm closes, with a paired
  bootstrap CI over items (e.g. how much of a pruned model's lost accuracy training restores).
* :func:`spearman_ci` — Spearman ρ with a percentile bootstrap CI over the points, and (given
  each y's standard error) over each point's own measurement noise as well.
* :func:`gain_se` — the standard error and degrees of freedom of a seed-averaged gain from its
  per-seed gains and its items-only CI (what :func:`seeds_items_ci` carries, from a summary).
* :func:`pooled_seed_variance`, :func:`one_seed_ci` — a one-seed arm's gain CI widened by a
  seed variance borrowed from arms that ran several seeds; :func:`welch_ci` — a t interval for
  a sum of independent variance parts.

Every resampling function takes ``seed`` and draws from :func:`deltatheory.rng.generator`, so a
CI depends only on (data, seed). A statistic that does not exist (too few points) is ``None``
with a reason, never NaN.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from .rng import generator

__all__ = ["Z95", "mean_ci", "percentile_ci", "bootstrap_ci", "paired_diff_ci",
           "seeds_items_ci", "ci_variance", "gain_se", "pooled_seed_variance", "welch_ci",
           "one_seed_ci", "Recovered", "gap_recovered", "Spearman", "spearman_ci",
           "partial_spearman_ci", "sign_agreement", "paired_sign_test",
           "heterogeneity_of_seed_variance"]

Z95 = 1.959963984540054


def mean_ci(x, axis=0, z: float = Z95):
    """Mean and normal-approximation 95 % interval (mean ± z·SE) along ``axis``.

    >>> m, lo, hi = mean_ci([1.0, 2.0, 3.0])
    >>> float(m), round(float(hi - m), 4)
    (2.0, 1.1316)
    """
    x = np.asarray(x, dtype=float)
    m = x.mean(axis=axis)
    n = x.shape[axis]
    se = x.std(axis=axis, ddof=1) / np.sqrt(n) if n > 1 else np.full_like(m, np.nan)
    return m, m - z * se, m + z * se


def percentile_ci(replicates) -> list[float] | None:
    """[2.5 %, 97.5 %] percentiles of the finite bootstrap replicates (None if there are none)."""
    r = np.asarray(replicates, dtype=float)
    r = r[np.isfinite(r)]
    if not len(r):
        return None
    return [float(np.percentile(r, 2.5)), float(np.percentile(r, 97.5))]


def bootstrap_ci(x, n: int = 2000, seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95 % interval of the mean of ``x`` (None for fewer than 2 items).

    >>> lo, hi = bootstrap_ci(np.arange(100.0), 500, 0)
    >>> bool(lo < 49.5 < hi)
    True
    """
    x = np.asarray(x, dtype=float)
    if len(x) < 2:
        return None
    idx = generator(seed, 0).integers(0, len(x), size=(int(n), len(x)))
    return percentile_ci(x[idx].mean(axis=1))


def paired_diff_ci(before, after, n: int = 2000, seed: int = 0) -> list[float] | None:
    """Percentile bootstrap 95 % CI of mean(after − before), resampling items."""
    d = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    return bootstrap_ci(d, n, seed)


def seeds_items_ci(before, after_by_seed) -> list[float] | None:
    """95 % CI of a gain averaged over training seeds, for the mean over *all* seeds one could
    train: mean over seeds of mean over items of (after[s] − before), items paired.

    Two sources of error add up: which seeds were trained and which items were held out. With
    d[s, i] = after[s, i] − before[i] = μ + a_s + b_i + e_si (two-way random effects), the
    estimate's variance σa²/S + σb²/n + σe²/(nS) is estimated without bias by the variance of the
    S per-seed gains / S, plus that of the n seed-averaged item differences / n, minus the
    residual mean square / (nS) (which both of the first two carry once); floored at the larger
    of the first two. The interval is mean ± t·SE with Welch–Satterthwaite degrees of freedom:
    as wide as a t with S − 1 degrees of freedom when the seeds' spread dominates (two seeds
    that disagree cannot say where the mean over seeds lies) and the items' t interval when the
    seeds agree. Simulated coverage (seed sd 0–0.6, item sd 0–0.5, noise sd 0.5, 200 items):
    0.89–0.97 with 2 seeds, 0.94–0.97 with 5, 0.95–0.96 with 40; a percentile bootstrap over
    two seeds covers about half the time. ``None`` with one seed (the spread between seeds is
    unknown; :func:`paired_diff_ci` gives a CI given that seed) or one item.

    >>> lo, hi = seeds_items_ci(np.zeros(100), [np.r_[np.ones(10), np.zeros(90)],
    ...                                          np.r_[np.ones(30), np.zeros(70)]])
    >>> bool(lo < 0.0 and hi > 0.4)  # seeds at +0.1 and +0.3: the mean over seeds is unknown
    True
    >>> lo, hi = seeds_items_ci(np.zeros(100), [np.r_[np.ones(20), np.zeros(80)]] * 3)
    >>> round(lo, 3), round(hi, 3)  # seeds that agree: the items' t interval
    (0.12, 0.28)
    """
    from scipy import stats

    d = np.atleast_2d(np.asarray(after_by_seed, dtype=float))
    before = np.asarray(before, dtype=float)
    if before.ndim != 1 or d.ndim != 2 or d.shape[1] != before.shape[0]:
        raise ValueError(f"before has shape {before.shape}; after_by_seed needs one row of the "
                         f"same {before.shape[0]} items per seed, not shape {d.shape}")
    d = d - before
    n_seeds, n_items = d.shape
    if n_seeds < 2 or n_items < 2:
        return None
    between = d.mean(axis=1).var(ddof=1) / n_seeds  # σa²/S + σe²/(nS)
    items = d.mean(axis=0).var(ddof=1) / n_items  # σb²/n + σe²/(nS)
    resid = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0) + d.mean()
    twice = (resid**2).sum() / ((n_seeds - 1) * (n_items - 1)) / (n_seeds * n_items)  # σe²/(nS)
    se2 = between + items - twice
    m = float(d.mean())
    if se2 <= max(between, items):  # the floor: one share alone
        se2, df = (between, n_seeds - 1) if between >= items else (items, n_items - 1)
    else:
        df = se2**2 / (between**2 / (n_seeds - 1) + items**2 / (n_items - 1)
                       + twice**2 / ((n_seeds - 1) * (n_items - 1)))
    if se2 == 0:
        return [m, m]
    half = float(stats.t.ppf(0.975, df) * np.sqrt(se2))
    return [m - half, m + half]



def ci_variance(ci95) -> float:
    """The variance a symmetric normal 95 % CI implies: ((hi − lo) / 2z)².

    >>> round(ci_variance([-Z95, Z95]), 12)
    1.0
    """
    return ((ci95[1] - ci95[0]) / (2 * Z95)) ** 2


def gain_se(per_seed, items_ci95, n_items: int) -> tuple[float, float] | None:
    """Standard error and Welch–Satterthwaite degrees of freedom of a seed-averaged gain, from
    what a summary keeps: the per-seed gains and the items-only 95 % CI given those seeds (a
    paired bootstrap over ``n_items`` items). The two shares of :func:`seeds_items_ci` — the
    seeds' (variance of the per-seed gains / S) and the items' ((CI width / 2z)²) — are added;
    leaving out the small residual term they share makes it slightly conservative. ``None``
    with one seed (no seed spread to measure) or no items CI.

    >>> se, df = gain_se([0.10, 0.12], [0.09, 0.13], 2000)
    >>> round(se, 4), round(df, 2)  # seeds and items add about 0.0001 each
    (0.0143, 4.16)
    """
    g = np.asarray(per_seed, dtype=float)
    if len(g) < 2 or not items_ci95:
        return None
    between = g.var(ddof=1) / len(g)
    items = ci_variance(items_ci95)
    se2 = between + items
    if se2 == 0:
        return 0.0, float("inf")
    df = se2**2 / (between**2 / (len(g) - 1) + items**2 / (n_items - 1))
    return float(np.sqrt(se2)), float(df)


def pooled_seed_variance(per_seed_gains) -> tuple[float, int] | None:
    """The variance between training seeds pooled over several arms (each arm's per-seed gains
    about its own mean), and its degrees of freedom; None without an arm of two seeds or more.

    >>> v, df = pooled_seed_variance([[0.1, 0.3], [0.0, 0.0, 0.3]])
    >>> round(v, 6), df  # (0.02 + 0.06) / (1 + 2)
    (0.026667, 3)
    """
    ss, df = 0.0, 0
    for g in per_seed_gains:
        g = np.asarray(g, dtype=float)
        if len(g) >= 2:
            ss += float(((g - g.mean()) ** 2).sum())
            df += len(g) - 1
    return (round(ss / df, 15), df) if df else None


def welch_ci(estimate: float, parts) -> list[float]:
    """95 % t interval of an estimate whose variance is a sum of independent parts, each
    ``(variance, degrees of freedom)`` (None or inf: known exactly), with Welch–Satterthwaite
    degrees of freedom.

    >>> lo, hi = welch_ci(1.0, [(0.04, 10), (0.0, 5)])
    >>> round(hi - 1.0, 4)  # t(10) quantile 2.2281 times sd 0.2
    0.4456
    """
    from scipy import stats

    parts = [(float(v), np.inf if d is None else float(d)) for v, d in parts]
    se2 = sum(v for v, _ in parts)
    if se2 == 0:
        return [estimate, estimate]
    den = sum(v**2 / d for v, d in parts if v > 0 and np.isfinite(d))
    df = se2**2 / den if den > 0 else np.inf
    half = float(stats.t.ppf(0.975, df) * np.sqrt(se2))
    return [estimate - half, estimate + half]


def one_seed_ci(gain: float, items_ci95, seed_var: float, seed_df: int,
                n_items: int) -> list[float] | None:
    """95 % CI of a one-seed arm's gain as an estimate of its mean over training seeds: its
    items-only CI's variance plus a seed variance borrowed from arms that ran several seeds
    (:func:`pooled_seed_variance`; an assumption: that this arm's seeds spread as theirs do), a
    t interval with Welch–Satterthwaite degrees of freedom (:func:`welch_ci`).

    >>> lo, hi = one_seed_ci(0.05, [0.03, 0.07], 0.0004, 10, 2000)
    >>> round(lo, 3), round(hi, 3)  # the seeds' 0.02 sd doubles the items' 0.0102 se
    (0.002, 0.098)
    """
    if not items_ci95:
        return None
    items = ci_variance(items_ci95)
    return welch_ci(gain, [(items, n_items - 1), (seed_var, seed_df)])


@dataclass(frozen=True)
class Recovered:
    """(arm − floor) / (ceiling − floor) with its bootstrap CI; ``value`` None (with ``why``)
    when the ceiling does not lie above the floor. ``degenerate`` counts resamples in which it
    did not (dropped from the interval)."""

    value: float | None
    ci95: list[float] | None
    degenerate: int
    why: str | None = None

    def to_dict(self) -> dict:
        d = {"value": self.value, "ci95": self.ci95, "degenerate": self.degenerate}
        if self.why:
            d["why"] = self.why
        return d


def gap_recovered(floor, arm, ceiling, n: int = 2000, seed: int = 0) -> Recovered:
    """Share of the floor-to-ceiling gap that ``arm`` closes, per-item scores paired.

    The three arrays hold scores on the same items; the bootstrap resamples items jointly.

    >>> r = gap_recovered([0, 0, 0, 0], [1, 0, 1, 0], [1, 1, 1, 1], 200)
    >>> r.value
    0.5
    """
    f, a, c = (np.asarray(v, dtype=float) for v in (floor, arm, ceiling))
    if not (f.shape == a.shape == c.shape) or f.ndim != 1:
        raise ValueError("floor, arm and ceiling need scores on the same items")
    gap = c.mean() - f.mean()
    if not gap > 0:
        return Recovered(None, None, 0, f"the ceiling ({c.mean():.4g}) is not above the floor "
                         f"({f.mean():.4g})")
    idx = generator(seed, 0).integers(0, len(f), size=(int(n), len(f)))
    g = c[idx].mean(axis=1) - f[idx].mean(axis=1)
    ok = g > 0
    reps = (a[idx].mean(axis=1)[ok] - f[idx].mean(axis=1)[ok]) / g[ok]
    return Recovered(float((a.mean() - f.mean()) / gap), percentile_ci(reps), int((~ok).sum()))


@dataclass(frozen=True)
class Spearman:
    """Spearman ρ with its bootstrap CI; ``rho`` is None (with ``why``) when it does not exist.

    ``degenerate`` counts bootstrap resamples in which one side was constant (no ρ): they are
    dropped rather than turning the whole interval into NaN.
    """

    rho: float | None
    ci95: list[float] | None
    n: int
    degenerate: int
    why: str | None = None

    def to_dict(self) -> dict:
        d = {"rho": self.rho, "ci95": self.ci95, "n": self.n, "degenerate": self.degenerate}
        if self.why:
            d["why"] = self.why
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Spearman:
        return cls(rho=d["rho"], ci95=d["ci95"], n=d["n"], degenerate=d["degenerate"],
                   why=d.get("why"))


def _redraw(y, idx, y_se, y_df, seed: int) -> np.ndarray:
    """The resampled ys, ``y[idx]``; given ``y_se`` (and ``y_df``, None or inf: normal) each
    redrawn from y + se·t_df on the stream ``(seed, 1)``, as :func:`spearman_ci` describes."""
    ys = y[idx]
    if y_se is None:
        return ys
    se = np.asarray(y_se, dtype=float)
    df = np.full(len(y), np.inf) if y_df is None else np.asarray(
        [np.inf if d is None else d for d in y_df], dtype=float)
    if se.shape != y.shape or df.shape != y.shape or (se < 0).any() or (df <= 0).any():
        raise ValueError(f"y_se (and y_df) need one value per point ({len(y)}), se >= 0 "
                         "and df > 0")
    g = generator(seed, 1)
    t = np.where(np.isinf(df[idx]), g.standard_normal(idx.shape),
                 g.standard_t(np.where(np.isinf(df[idx]), 1.0, df[idx])))
    return ys + se[idx] * t


def spearman_ci(x, y, n: int = 2000, seed: int = 0, *, y_se=None, y_df=None) -> Spearman:
    """Spearman ρ of (x, y) with a percentile bootstrap 95 % CI.

    Without ``y_se`` the bootstrap resamples the points and treats each y as exact. With
    ``y_se`` (each y's standard error; ``y_df`` its degrees of freedom, None or inf: normal) it
    also redraws every resampled y from y + se·t_df, so the interval counts each point's own
    measurement noise (a DPO gain's seeds and items) as well as which points were measured.
    Redrawn points are noisier than the measured ones, so that interval sits lower than ρ
    itself when ρ is high (the attenuation noise causes): read it as "what ρ's measurement can
    and cannot rule out", not as a correction of ρ.

    >>> r = spearman_ci([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], n=500)
    >>> round(r.rho, 4)
    0.8286
    >>> noisy = spearman_ci([1, 2, 3, 4, 5, 6], [2, 1, 4, 3, 6, 5], n=500, y_se=[2.0] * 6)
    >>> noisy.rho == r.rho and noisy.ci95[0] < r.ci95[0]
    True
    """
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(x) < 3:
        return Spearman(None, None, len(x), 0, why=f"{len(x)} points: rho needs at least 3")
    idx = generator(seed, 0).integers(0, len(x), size=(int(n), len(x)))
    ys = _redraw(y, idx, y_se, y_df, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        rho = float(stats.spearmanr(x, y).statistic)
        boot = np.array([stats.spearmanr(x[i], yi).statistic for i, yi in zip(idx, ys,
                                                                              strict=True)])
    ok = boot[np.isfinite(boot)]
    if not np.isfinite(rho):
        return Spearman(None, None, len(x), int(n - len(ok)),
                        why="one side is constant: rho is undefined")
    return Spearman(rho, percentile_ci(ok), len(x), int(n - len(ok)),
                    why=None if len(ok) else "every bootstrap resample had a constant side")


_FLAT = 1e-12  # 1 − r² at or below this: the control explains that side fully (no partial ρ)


def _partial_rank_corr(x, z, y):
    """Row-wise partial rank correlation of x with y given z (rows are samples), NaN where a
    side is constant or z explains x or y fully (a zero denominator)."""
    from scipy import stats

    rx, rz, ry = (stats.rankdata(v, axis=-1) for v in (x, z, y))
    rx, rz, ry = (r - r.mean(axis=-1, keepdims=True) for r in (rx, rz, ry))
    sxx, szz, syy = ((r * r).sum(axis=-1) for r in (rx, rz, ry))
    with np.errstate(divide="ignore", invalid="ignore"):
        r_xy = (rx * ry).sum(axis=-1) / np.sqrt(sxx * syy)
        r_xz = (rx * rz).sum(axis=-1) / np.sqrt(sxx * szz)
        r_yz = (ry * rz).sum(axis=-1) / np.sqrt(syy * szz)
        a, b = 1 - r_xz**2, 1 - r_yz**2
        flat = ~((a > _FLAT) & (b > _FLAT))  # NaN compares False: flat too
        p = (r_xy - r_xz * r_yz) / np.sqrt(np.where(flat, 1.0, a * b))
    return np.where(flat | ~np.isfinite(p), np.nan, np.clip(p, -1.0, 1.0))


def partial_spearman_ci(x, z, y, n: int = 2000, seed: int = 0, *, y_se=None,
                        y_df=None) -> Spearman:
    """Partial Spearman ρ of x with y given z, with a percentile bootstrap 95 % CI.

    x, z and y are ranked (ties averaged), then r_xy·z = (r_xy − r_xz·r_yz) /
    √((1 − r_xz²)(1 − r_yz²)) on the ranks: how well x orders y once what z says about both is
    taken out (linearly, on the ranks). The bootstrap resamples points and re-ranks each
    resample; ``y_se``/``y_df`` redraw each resampled y as in :func:`spearman_ci` (same streams,
    so the same resamples and redraws). Resamples where a side is constant or z orders x or y
    exactly are dropped and counted in ``degenerate``. ``rho`` None under 4 points.

    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal(200)
    >>> x, y = z + 0.5 * rng.standard_normal(200), z + 0.1 * rng.standard_normal(200)
    >>> r = partial_spearman_ci(x, z, y, 200)  # y follows z; x only through z
    >>> round(spearman_ci(x, y, 200).rho, 2), round(r.rho, 2), bool(r.ci95[0] < 0 < r.ci95[1])
    (0.88, 0.04, True)
    >>> y = x + 0.5 * rng.standard_normal(200)  # y follows x itself
    >>> r = partial_spearman_ci(x, z, y, 200)
    >>> round(r.rho, 2), bool(r.ci95[0] > 0.3)
    (0.75, True)
    """
    x, z, y = (np.asarray(v, dtype=float) for v in (x, z, y))
    if x.ndim != 1 or not x.shape == z.shape == y.shape:
        raise ValueError(f"x, z and y need one value per point, not shapes {x.shape}, "
                         f"{z.shape}, {y.shape}")
    if len(x) < 4:
        return Spearman(None, None, len(x), 0,
                        why=f"{len(x)} points: a partial rho needs at least 4")
    idx = generator(seed, 0).integers(0, len(x), size=(int(n), len(x)))
    ys = _redraw(y, idx, y_se, y_df, seed)
    rho = float(_partial_rank_corr(x, z, y))
    boot = _partial_rank_corr(x[idx], z[idx], ys)
    ok = boot[np.isfinite(boot)]
    if not np.isfinite(rho):
        return Spearman(None, None, len(x), int(n - len(ok)),
                        why="a side is constant or z orders x or y exactly: the partial rho "
                            "is undefined")
    return Spearman(rho, percentile_ci(ok), len(x), int(n - len(ok)),
                    why=None if len(ok) else "every bootstrap resample was degenerate")


def sign_agreement(predicted, observed, observed_ci95=None) -> dict:
    """How often a predictor's sign matches the observed sign, with Wilson 95 % intervals.

    A point is right when sign(predicted) = sign(observed) ≠ 0 (a prediction or observation of
    exactly 0 counts as wrong). Given ``observed_ci95`` (one [lo, hi] or None per point), the
    ``*_resolved`` entries count only points whose CI excludes 0, right when the prediction has
    the sign the CI establishes; without it they are None. Shares are None over no points.

    >>> s = sign_agreement([0.2, -0.1, 0.0, 0.3], [0.5, 0.2, 0.1, 0.4],
    ...                    [[0.1, 0.9], [-0.1, 0.5], [0.05, 0.2], [0.2, 0.6]])
    >>> s["right"], s["n"], s["right_resolved"], s["n_resolved"]
    (2, 4, 2, 3)
    >>> [round(v, 3) for v in s["share_ci95"]]
    [0.15, 0.85]
    """
    p, o = np.asarray(predicted, dtype=float), np.asarray(observed, dtype=float)
    if p.ndim != 1 or p.shape != o.shape or not (np.isfinite(p).all() and np.isfinite(o).all()):
        raise ValueError(f"predicted and observed need one finite value per point, not shapes "
                         f"{p.shape} and {o.shape}")
    right = (np.sign(p) == np.sign(o)) & (p != 0)
    out = {"n": len(p), "right": int(right.sum()), **_share(int(right.sum()), len(p), "")}
    if observed_ci95 is None:
        return {**out, "n_resolved": None, "right_resolved": None, "share_resolved": None,
                "share_resolved_ci95": None}
    if len(observed_ci95) != len(p):
        raise ValueError(f"observed_ci95 needs one [lo, hi] (or None) per point ({len(p)}), "
                         f"not {len(observed_ci95)}")
    side = np.array([0.0 if not ci else 1.0 if ci[0] > 0 else -1.0 if ci[1] < 0 else 0.0
                     for ci in observed_ci95])
    k, m = int((np.sign(p)[side != 0] == side[side != 0]).sum()), int((side != 0).sum())
    return {**out, "n_resolved": m, "right_resolved": k, **_share(k, m, "_resolved")}


def paired_sign_test(right_a, right_b) -> dict:
    """Which of two predictors gets more signs right on the same points: the exact McNemar test
    (a two-sided binomial test with p = 1/2 on the discordant points, where exactly one of the
    two is right). Points both get right, or both wrong, say nothing about which is better.
    ``p_exact`` is None without a discordant point.

    >>> t = paired_sign_test([1, 1, 0, 1, 1, 1], [0, 0, 0, 1, 0, 0])
    >>> t["a_only"], t["b_only"], round(t["p_exact"], 4)  # 4 of 4 discordant: 2 · (1/2)⁴
    (4, 0, 0.125)
    """
    from scipy import stats

    a, b = np.asarray(right_a, dtype=bool), np.asarray(right_b, dtype=bool)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"right_a and right_b need one flag per point, not shapes {a.shape} "
                         f"and {b.shape}")
    k, m = int((a & ~b).sum()), int((b & ~a).sum())
    p = float(stats.binomtest(k, k + m).pvalue) if k + m else None
    return {"n": len(a), "a_only": k, "b_only": m, "p_exact": p}


def _share(k: int, n: int, tag: str) -> dict:
    """{"share<tag>": k/n, "share<tag>_ci95": Wilson 95 % interval}, both None when n = 0."""
    from scipy import stats

    if not n:
        return {f"share{tag}": None, f"share{tag}_ci95": None}
    ci = stats.binomtest(k, n).proportion_ci(method="wilson")
    return {f"share{tag}": k / n, f"share{tag}_ci95": [float(ci.low), float(ci.high)]}


def heterogeneity_of_seed_variance(per_seed_gains) -> dict:
    """Do the pairs' seeds spread alike? Levene's (median-centred) and Bartlett's tests of equal
    variance across pairs, each pair's per-seed gains one group: a small p says pooling the
    seed variance over pairs (:func:`pooled_seed_variance`) assumes what the data deny.

    Pairs with under 2 seeds are skipped (``sd_by_pair`` None there; ``k`` counts those used).
    A p value is None (with ``why``) under 2 usable pairs or when its test is undefined: Levene
    when every pair has 2 seeds (each pair's two deviations from its median are equal, so
    there is no within-pair spread of spread to compare against), Bartlett when a pair's seeds
    all agree. With few seeds both tests have little power: a large p is weak evidence.

    >>> h = heterogeneity_of_seed_variance([[0.1, 0.2, 0.15], [0.0, 1.0, -1.0], [0.3]])
    >>> h["k"], [None if s is None else round(s, 3) for s in h["sd_by_pair"]]
    (2, [0.05, 1.0, None])
    >>> round(h["bartlett_p"], 4), round(h["levene_p"], 2)  # 3 seeds a pair: little power
    (0.0066, 0.13)
    """
    from scipy import stats

    groups = [np.asarray(g, dtype=float) for g in per_seed_gains]
    sd = [float(g.std(ddof=1)) if len(g) >= 2 else None for g in groups]
    used = [g for g in groups if len(g) >= 2]
    out = {"levene_p": None, "bartlett_p": None, "k": len(used), "sd_by_pair": sd}
    if len(used) < 2:
        return {**out, "why": f"{len(used)} pair(s) with 2 or more seeds: the tests need 2"}
    why = []
    with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        lev = float(stats.levene(*used, center="median").pvalue)
        bar = float(stats.bartlett(*used).pvalue)
    if all(len(g) == 2 for g in used) or not np.isfinite(lev):
        why.append("Levene's test is undefined (every pair has 2 seeds, or no pair's "
                   "deviations vary)")
    else:
        out["levene_p"] = lev
    if any(np.ptp(g) == 0 for g in used) or not np.isfinite(bar):
        why.append("Bartlett's test is undefined (a pair's seeds all agree)")
    else:
        out["bartlett_p"] = bar
    return {**out, "why": "; ".join(why)} if why else out
