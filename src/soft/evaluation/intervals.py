"""95 % confidence intervals for the small counts a real evaluation set gives.

Sixteen held-out gunshot clips cannot tell a recall of 0.75 from one of 0.90, and seven
minutes of background cannot show one false alarm per hour: every figure is printed with
the range the data supports, so nobody reads a lucky draw as a property of the model.
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np
from scipy import stats

Z95 = 1.959963984540054


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (nan, nan) for no trials.

    Keeps its nominal coverage at the tens of clips per class a test set holds, where the
    normal approximation collapses to a zero-width interval at 0 or 1.
    """
    if successes < 0 or trials < 0 or successes > trials:
        raise ValueError(f'successes {successes} / trials {trials}: need 0 <= k <= n')
    if trials == 0:
        return float('nan'), float('nan')
    p = successes / trials
    den = 1 + z * z / trials
    mid = (p + z * z / (2 * trials)) / den
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / den
    lo = 0.0 if successes == 0 else max(0.0, mid - half)
    hi = 1.0 if successes == trials else min(1.0, mid + half)
    return lo, hi


def poisson_rate(count: int, exposure: float, conf: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval of an event rate from ``count`` events in ``exposure`` units.

    With zero events in one hour the upper bound is 3.7 per hour: showing a rate of at most
    1 per hour takes about three event-free hours.
    """
    if count < 0:
        raise ValueError(f'count {count}: must be >= 0')
    if not exposure > 0:
        return float('nan'), float('nan')
    a = 1 - conf
    lo = stats.chi2.ppf(a / 2, 2 * count) / 2 if count else 0.0
    hi = stats.chi2.ppf(1 - a / 2, 2 * count + 2) / 2
    return float(lo / exposure), float(hi / exposure)


def bootstrap(statistic: Callable[[np.ndarray], np.ndarray], rows: np.ndarray,
              resamples: int = 2000, seed: int = 0, conf: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of a ratio of summed counts, resampling recordings.

    ``rows`` holds one row of counts per recording; ``statistic`` maps summed rows
    (resamples x columns) to one value each. An error rate over 150 mixtures depends on
    which recordings happened to be drawn; resampling them shows by how much. Seeded, so a
    report is reproducible.
    """
    rows = np.asarray(rows, dtype=np.float64)
    if rows.ndim != 2 or len(rows) == 0:
        return float('nan'), float('nan')
    rng = np.random.default_rng(seed)
    sums = rows[rng.integers(len(rows), size=(resamples, len(rows)))].sum(axis=1)
    with np.errstate(divide='ignore', invalid='ignore'):
        values = np.asarray(statistic(sums), dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float('nan'), float('nan')
    a = (1 - conf) / 2 * 100
    lo, hi = np.percentile(values, [a, 100 - a])
    return float(lo), float(hi)


def format_ci(ci: Sequence[float] | None, fmt: str = '.2f', sep: str = ', ') -> str:
    """'[lo, hi]', or '' when a report predates intervals or there were no trials."""
    if not ci or any(v is None or math.isnan(v) for v in ci):
        return ''
    return f'[{format(ci[0], fmt)}{sep}{format(ci[1], fmt)}]'
