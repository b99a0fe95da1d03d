"""S.O.F.T. site domain: the validated site file (WGS84) and its view in the `map` frame."""
from .load import load_site
from .site import Site

__all__ = ['Site', 'load_site']
