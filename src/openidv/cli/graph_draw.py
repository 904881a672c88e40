"""Draw an account's neighbourhood as a picture an investigator can read: accounts and the identifiers that
link them, coloured by kind, the account itself and its ring marked.

Input is ``GraphService.describe``'s dictionary, so the picture shows exactly what ``openidv graph show
--json`` and ``GET /v1/graph/accounts/{id}`` return. Identifier labels are the clear values when they were
revealed (the caller's decision), otherwise the kind and the start of the pseudonym.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt
import networkx as nx
from matplotlib.lines import Line2D

#: one colour per identifier kind (colour-blind-safe Okabe-Ito palette)
KIND_COLOURS: Mapping[str, str] = {
    "device": "#D55E00",
    "document": "#CC79A7",
    "face": "#E69F00",
    "national_id": "#F0E442",
    "phone": "#0072B2",
    "email": "#56B4E9",
    "address": "#009E73",
    "ip": "#999999",
    "ip24": "#BBBBBB",
}
#: longest identifier label drawn
_LABEL = 28


def _label(key: str, values: Mapping[str, str]) -> str:
    kind, _, rest = key.partition(":")
    text = values.get(key) or rest[:8] + "…"
    text = f"{kind}: {text}"
    return text if len(text) <= _LABEL else text[: _LABEL - 1] + "…"


def neighbourhood_graph(view: Mapping[str, Any]) -> nx.Graph:
    """Accounts and the identifiers they share with each other, as one undirected graph."""
    graph = nx.Graph()
    me = str(view["account_id"])
    ring = set((view.get("ring") or {}).get("members") or ())
    graph.add_node(me, role="account", hop=0, ring=me in ring)
    for near in view["neighbours"]:
        graph.add_node(near["account_id"], role="account", hop=near["hops"], ring=near["account_id"] in ring)
        source = me if near["hops"] == 1 else near["via"]
        for key in near["shared"]:
            graph.add_node(key, role="identifier", kind=key.partition(":")[0])
            graph.add_edge(source, key)
            graph.add_edge(near["account_id"], key)
    return graph


def draw_neighbourhood(view: Mapping[str, Any], out: Path) -> Path:
    """Write the picture to ``out`` (PNG, SVG or PDF by its suffix); atomically, so no half-written file."""
    graph = neighbourhood_graph(view)
    values: Mapping[str, str] = view.get("values") or {}
    layout = nx.spring_layout(graph, seed=7, k=1.2 / max(1, len(graph)) ** 0.5)
    figure, axes = plt.subplots(figsize=(11, 8), dpi=110)
    try:
        accounts = [n for n, d in graph.nodes(data=True) if d["role"] == "account"]
        identifiers = [n for n, d in graph.nodes(data=True) if d["role"] == "identifier"]
        nx.draw_networkx_edges(graph, layout, ax=axes, edge_color="#cccccc", width=1.0)
        nx.draw_networkx_nodes(
            graph,
            layout,
            nodelist=identifiers,
            node_shape="s",
            node_size=260,
            node_color=[KIND_COLOURS.get(graph.nodes[n]["kind"], "#666666") for n in identifiers],
            ax=axes,
        )
        nx.draw_networkx_nodes(
            graph,
            layout,
            nodelist=accounts,
            node_size=[700 if graph.nodes[n]["hop"] == 0 else 380 for n in accounts],
            node_color=["#000000" if graph.nodes[n]["hop"] == 0 else "#ffffff" for n in accounts],
            edgecolors=["#D55E00" if graph.nodes[n]["ring"] else "#444444" for n in accounts],
            linewidths=[2.5 if graph.nodes[n]["ring"] else 1.0 for n in accounts],
            ax=axes,
        )
        nx.draw_networkx_labels(graph, layout, {n: n[:20] for n in accounts}, font_size=7, ax=axes)
        nx.draw_networkx_labels(
            graph,
            layout,
            {n: _label(n, values) for n in identifiers},
            font_size=6,
            font_color="#333333",
            verticalalignment="bottom",
            ax=axes,
        )
        ring = view.get("ring")
        ring_text = f"ring of {ring['size']} (orange outline)" if ring else "in no ring"
        axes.set_title(
            f"account {view['account_id']}: graph score {view.get('graph_score', 0):.2f} "
            f"({', '.join(view.get('reasons') or []) or 'no reason codes'}); {ring_text}",
            fontsize=9,
        )
        handles = [
            Line2D([], [], marker="s", linestyle="", color=colour, label=kind)
            for kind, colour in KIND_COLOURS.items()
            if any(graph.nodes[n]["kind"] == kind for n in identifiers)
        ]
        if handles:
            axes.legend(
                handles=handles, loc="lower left", fontsize=7, title="shared identifier", title_fontsize=7
            )
        axes.set_axis_off()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp{out.suffix}")
        figure.savefig(tmp, bbox_inches="tight")
        os.replace(tmp, out)
    finally:
        plt.close(figure)
    return out
