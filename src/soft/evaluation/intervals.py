"""95 % confidence intervals for the small counts a real evaluation set gives.

Sixteen held-out gunshot clips cannot tell a recall of 0.75 from one of 0.90, and seven
minutes of background cannot show one false alarm per hour: every figure is printed with
the range the data supports, so nobody reads a lucky draw as a property of the model.
"""
from __future__ import annotations

import math
from typing import Sequence

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


def format_ci(ci: Sequence[float] | None, fmt: str = '.2f', sep: str = ', ') -> str:
    """'[lo, hi]', or '' when a report predates intervals or there were no trials."""
    if not ci or any(v is None or math.isnan(v) for v in ci):
        return ''
    return f'[{format(ci[0], fmt)}{sep}{format(ci[1], fmt)}]'
