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
