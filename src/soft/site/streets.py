"""The street graph in the `map` frame, as networkx graphs with lengths for routing."""
from __future__ import annotations

import math
from typing import Iterable

import networkx as nx
import numpy as np

from .schema import StreetEdge


def build_street_graph(node_ids: list[str], xy: np.ndarray, lat: np.ndarray, lon: np.ndarray,
                       edges: Iterable[StreetEdge], directed: bool) -> nx.Graph:
    """Build the graph; node attrs x, y, lat, lon; edge attrs length (m), name, speed_mps,
    one_way.

    Undirected, every street is walkable both ways (foot patrols, connectivity); directed, a
    one-way street only runs from ``from`` to ``to`` (cars).
    """
    g: nx.Graph = nx.DiGraph() if directed else nx.Graph()
    index = {}
    for i, nid in enumerate(node_ids):
        index[nid] = i
        g.add_node(nid, x=float(xy[i, 0]), y=float(xy[i, 1]), lat=float(lat[i]),
                   lon=float(lon[i]))
    for e in edges:
        a, b = index[e.from_], index[e.to]
        attrs = dict(length=math.dist(xy[a], xy[b]), name=e.name, speed_mps=e.speed_mps,
                     one_way=e.one_way)
        g.add_edge(e.from_, e.to, **attrs)
        if directed and not e.one_way:
            g.add_edge(e.to, e.from_, **attrs)
    return g


def unreachable_nodes(g: nx.Graph) -> list[str]:
    """Nodes outside the largest connected part (what a patrol could never reach)."""
    if g.number_of_nodes() == 0:
        return []
    parts = sorted(nx.connected_components(g.to_undirected(as_view=True)), key=len,
                   reverse=True)
    return sorted(n for part in parts[1:] for n in part)
