"""A typed door to networkx's Louvain communities (networkx ships no type information).

The graph is built in sorted node and edge order: Louvain visits nodes in a seeded shuffle of the graph's
node order, so the same nodes, edges and seed always give the same communities, whatever order the accounts
arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable


def communities(
    nodes: Iterable[int], edges: Iterable[tuple[int, int, float]], *, seed: int, resolution: float = 1.0
) -> list[list[int]]:
    """Louvain communities of a weighted undirected graph, each sorted, in order of their smallest node."""
    # imported here: networkx takes a few hundred milliseconds to import, and most commands never split a ring
    import networkx as nx
    from networkx.algorithms.community import louvain_communities

    graph = nx.Graph()
    graph.add_nodes_from(sorted(nodes))
    graph.add_weighted_edges_from(sorted((min(a, b), max(a, b), w) for a, b, w in edges))
    found = louvain_communities(graph, weight="weight", resolution=resolution, seed=seed)
    return sorted((sorted(int(n) for n in group) for group in found), key=lambda g: g[0])
