"""Command-line value parsers shared by the ``soft`` subcommands: a bad value names its flag."""
from __future__ import annotations

import argparse
from typing import Callable


def float_in(flag: str, lo: float, hi: float, unit: str = '') -> Callable[[str], float]:
    """An argparse ``type`` accepting a number within [lo, hi] and naming ``flag`` otherwise."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'{flag} {text!r}: not a number') from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f'{flag} {value:g}: must be within '
                                             f'{lo:g}-{hi:g}{unit}')
        return value
    return parse


def range_in(flag: str, lo: float, hi: float, unit: str = '',
             none_ok: bool = False) -> Callable[[str], tuple[float, float] | None]:
    """An argparse ``type`` for ``LO,HI`` with lo <= LO <= HI <= hi (``none`` if ``none_ok``)."""
    def parse(text: str) -> tuple[float, float] | None:
        if none_ok and text.strip().lower() in ('none', ''):
            return None
        try:
            a, b = (float(v) for v in text.split(','))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f'{flag} {text!r}: expected LO,HI{unit} such as {lo:g},{hi:g}'
                + (', or none' if none_ok else '')) from None
        if not lo <= a <= b <= hi:
            raise argparse.ArgumentTypeError(f'{flag} {text}: expected {lo:g} <= LO <= HI <= '
                                             f'{hi:g}{unit}')
        return a, b
    return parse


def values_in(flag: str, lo: float, hi: float, unit: str = '', example: str = '',
              why: str = '') -> Callable[[str], tuple[float, ...]]:
    """An argparse ``type`` for comma-separated numbers within [lo, hi], or ``none`` (an empty
    tuple: the step is skipped); ``why`` says what an out-of-range value would break."""
    def parse(text: str) -> tuple[float, ...]:
        if text.strip().lower() in ('none', ''):
            return ()
        try:
            values = tuple(float(v) for v in text.split(','))
        except ValueError:
            raise argparse.ArgumentTypeError(f'{flag} {text!r}: expected values in{unit} such '
                                             f'as {example}, or none') from None
        bad = [v for v in values if not lo <= v <= hi]
        if bad:
            span = f'at least {lo:g}{unit}' if hi == float('inf') else f'{lo:g}-{hi:g}{unit}'
            raise argparse.ArgumentTypeError(f'{flag} {bad[0]:g}: expected {span}'
                                             + (f' ({why})' if why else ''))
        return values
    return parse
