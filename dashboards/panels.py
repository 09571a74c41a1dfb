"""Small panel constructors shared by the dashboards, so each dashboard reads as a list of questions."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import dashboard, stat, table, timeseries
from grafana_foundation_sdk.builders import nodegraph as nodegraph_builder
from grafana_foundation_sdk.models import common

from dashboards.queries import Query


def series(title: str, query: Any, unit: str, *, width: int = 12, height: int = 8,
           description: str = "") -> timeseries.Panel:
    return (
        timeseries.Panel()
        .title(title)
        .description(description)
        .with_target(query)
        .unit(unit)
        .span(width)
        .height(height)
        .fill_opacity(10)
        .legend(
            common_builder.VizLegendOptions()
            .show_legend(True)
            .display_mode(common.LegendDisplayMode.LIST)
            .placement(common.LegendPlacement.BOTTOM)
        )
    )


def single(title: str, query: Any, unit: str, *, width: int = 6, height: int = 4) -> stat.Panel:
    return stat.Panel().title(title).with_target(query).unit(unit).span(width).height(height)


def grid(title: str, query: Query, *, width: int = 24, height: int = 8) -> table.Panel:
    return table.Panel().title(title).with_target(query).span(width).height(height)


def node_graph(title: str, nodes: Query, edges: Query, *, width: int = 24,
               height: int = 12) -> nodegraph_builder.Panel:
    return (
        nodegraph_builder.Panel()
        .title(title)
        .with_target(nodes)
        .with_target(edges)
        .span(width)
        .height(height)
    )


def plugin_panel(plugin_id: str, title: str, query: Query, *, width: int, height: int,
                 options: dict[str, Any] | None = None) -> dashboard.Panel:
    """A panel of kprobe's app plugin (the SDK has no builder for third-party panels)."""
    p = dashboard.Panel().type(plugin_id).title(title).with_target(query).span(width).height(height)
    if options:
        p = p.options(options)
    return p
