/**
 * Draws a laid-out causal graph into an SVG with D3 and keeps it interactive.
 *
 * Built for a few thousand nodes: one element per node and per edge (no
 * per-node groups), labels only where they carry the story (transaction,
 * spans, critical path, root cause; everything when the graph is small), and
 * pan/zoom as a single transform on one group. Hover/selection changes only
 * restyle the elements involved, never redraw.
 */

import { GrafanaTheme2 } from '@grafana/data';
import { select, Selection, zoom, zoomIdentity, ZoomBehavior } from 'd3';

import { CausalEdge, CausalGraph, CausalNode, criticalEdgeIds, nodeLabel } from '../../model/graph';
import { Layout } from '../../model/layout';
import { CRITICAL_COLOR, ROOT_CAUSE_COLOR, contributionColor, contributionWidth, kindColor } from '../../model/style';
import { formatDuration } from '../../model/ns';

/** Below this many nodes every node gets a label. */
const LABEL_ALL_BELOW = 50;

export interface GraphHandlers {
  onHover: (id?: string) => void;
  onSelect: (id?: string) => void;
}

export interface RenderedGraph {
  highlight: (hoveredId?: string, selectedId?: string) => void;
  resize: (width: number, height: number) => void;
  /** Pan so `id` is centred (keeping the zoom). */
  focus: (id: string) => void;
  destroy: () => void;
}

type NodeSel = Selection<SVGCircleElement, CausalNode, SVGGElement, unknown>;

export function radius(n: CausalNode): number {
  return n.kind === 'transaction' ? 14 : n.kind === 'span' ? 10 : 6;
}

export function renderGraph(
  svgEl: SVGSVGElement,
  graph: CausalGraph,
  layout: Layout,
  theme: GrafanaTheme2,
  size: { width: number; height: number },
  handlers: GraphHandlers
): RenderedGraph {
  const svg = select(svgEl);
  svg.selectAll('*').remove();
  svg.attr('width', size.width).attr('height', size.height);

  const critical = new Set(graph.criticalPath);
  const criticalEdges = criticalEdgeIds(graph);
  const rootCauseId = graph.rootCause?.nodeId;
  const maxContribution = Math.max(1, ...graph.edges.map((e) => e.latencyContributionNs));
  const pos = layout.positions;
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));

  const defs = svg.append('defs');
  defs
    .append('marker')
    .attr('id', 'kprobe-arrow')
    .attr('viewBox', '0 -4 8 8')
    .attr('refX', 8)
    .attr('markerUnits', 'userSpaceOnUse')
    .attr('markerWidth', 9)
    .attr('markerHeight', 9)
    .attr('orient', 'auto')
    .append('path')
    .attr('d', 'M0,-4L8,0L0,4')
    .attr('fill', theme.colors.text.secondary);

  const background = svg
    .append('rect')
    .attr('class', 'kprobe-graph-background')
    .attr('width', size.width)
    .attr('height', size.height)
    .attr('fill', 'transparent')
    .on('click', () => handlers.onSelect(undefined));

  const viewport = svg.append('g').attr('class', 'kprobe-graph-viewport');
  const drawable = graph.edges.filter((e) => pos.has(e.source) && pos.has(e.target));

  viewport
    .append('g')
    .attr('class', 'kprobe-critical-underlay')
    .selectAll('path')
    .data(drawable.filter((e) => criticalEdges.has(e.id)))
    .join('path')
    .attr('d', (e) => edgePath(e, layout, byId))
    .attr('fill', 'none')
    .attr('stroke', CRITICAL_COLOR)
    .attr('stroke-opacity', 0.35)
    .attr('stroke-linecap', 'round')
    .attr('stroke-width', (e) => contributionWidth(e.latencyContributionNs, maxContribution) + 8);

  const edgeSel = viewport
    .append('g')
    .attr('class', 'kprobe-edges')
    .selectAll<SVGPathElement, CausalEdge>('path')
    .data(drawable)
    .join('path')
    .attr('d', (e) => edgePath(e, layout, byId))
    .attr('fill', 'none')
    .attr('stroke', (e) => contributionColor(e.latencyContributionNs, maxContribution))
    .attr('stroke-width', (e) => contributionWidth(e.latencyContributionNs, maxContribution))
    .attr('stroke-dasharray', (e) => (e.observed ? null : '6 3'))
    .attr('marker-end', drawable.length <= 4000 ? 'url(#kprobe-arrow)' : null)
    .attr('data-edge-id', (e) => e.id)
    .attr('data-critical', (e) => String(criticalEdges.has(e.id)));
  edgeSel
    .append('title')
    .text(
      (e) =>
        `${e.relation}${e.observed ? '' : ` (inferred${e.confidence !== undefined ? `, ${Math.round(e.confidence * 100)}%` : ''})`}: ${formatDuration(e.latencyContributionNs)}`
    );

  if (rootCauseId && pos.has(rootCauseId)) {
    const p = pos.get(rootCauseId)!;
    viewport
      .append('circle')
      .attr('class', 'kprobe-root-cause-ring')
      .attr('cx', p.x)
      .attr('cy', p.y)
      .attr('r', radius(byId.get(rootCauseId)!) + 9)
      .attr('fill', 'none')
      .attr('stroke', ROOT_CAUSE_COLOR)
      .attr('stroke-width', 3)
      .attr('stroke-dasharray', '4 2');
  }

  const nodeSel: NodeSel = viewport
    .append('g')
    .attr('class', 'kprobe-nodes')
    .selectAll<SVGCircleElement, CausalNode>('circle')
    .data(graph.nodes.filter((n) => pos.has(n.id)))
    .join('circle')
    .attr('cx', (n) => pos.get(n.id)!.x)
    .attr('cy', (n) => pos.get(n.id)!.y)
    .attr('r', radius)
    .attr('fill', (n) => (n.id === rootCauseId ? ROOT_CAUSE_COLOR : kindColor(n.kind, n.eventType)))
    .attr('cursor', 'pointer')
    .attr('data-node-id', (n) => n.id)
    .attr('data-kind', (n) => n.kind)
    .attr('data-critical', (n) => String(critical.has(n.id)))
    .attr('data-root-cause', (n) => String(n.id === rootCauseId))
    .on('mouseenter', (_, n) => handlers.onHover(n.id))
    .on('mouseleave', () => handlers.onHover(undefined))
    .on('click', (event: MouseEvent, n) => {
      event.stopPropagation();
      handlers.onSelect(n.id);
    });
  nodeSel.append('title').text((n) => `${nodeLabel(n)} · ${formatDuration(n.durationNs)}`);

  const labelled = graph.nodes.filter(
    (n) =>
      pos.has(n.id) &&
      (graph.nodes.length < LABEL_ALL_BELOW || n.kind !== 'kernel' || critical.has(n.id) || n.id === rootCauseId)
  );
  viewport
    .append('g')
    .attr('class', 'kprobe-labels')
    .attr('pointer-events', 'none')
    .selectAll('text')
    .data(labelled)
    .join('text')
    .attr('x', (n) => pos.get(n.id)!.x + radius(n) + 4)
    .attr('y', (n) => pos.get(n.id)!.y + 4)
    .attr('font-size', (n) => (n.kind === 'kernel' ? 10 : 12))
    .attr('font-weight', (n) => (critical.has(n.id) ? 600 : 400))
    .attr('fill', theme.colors.text.primary)
    .attr('paint-order', 'stroke')
    .attr('stroke', theme.colors.background.primary)
    .attr('stroke-width', 3)
    .text((n) => truncate(nodeLabel(n), n.kind === 'kernel' ? 24 : 36));

  const hoverLabel = viewport
    .append('text')
    .attr('class', 'kprobe-hover-label')
    .attr('pointer-events', 'none')
    .attr('font-size', 12)
    .attr('fill', theme.colors.text.primary)
    .attr('paint-order', 'stroke')
    .attr('stroke', theme.colors.background.primary)
    .attr('stroke-width', 3);

  let current = size;
  const zoomBehavior: ZoomBehavior<SVGSVGElement, unknown> = zoom<SVGSVGElement, unknown>()
    // The size is known: no need for zoom to measure the SVG.
    .extent(() => [
      [0, 0],
      [current.width, current.height],
    ])
    .scaleExtent([0.02, 12])
    .on('zoom', (event) => viewport.attr('transform', event.transform.toString()));
  svg.call(zoomBehavior).on('dblclick.zoom', null);

  const fit = () => {
    const { x0, y0, x1, y1 } = layout.bounds;
    const margin = 48;
    const w = x1 - x0 + 2 * margin + 220;
    const h = y1 - y0 + 2 * margin;
    const k = Math.min(current.width / w, current.height / h, 1.6);
    const tx = current.width / 2 - k * ((x0 + x1) / 2 + 110);
    const ty = (current.height - k * (y1 - y0)) / 2 - k * y0;
    svg.call(zoomBehavior.transform, zoomIdentity.translate(tx, ty).scale(k));
  };
  fit();

  const highlight = (hoveredId?: string, selectedId?: string) => {
    nodeSel
      .attr('stroke', (n) =>
        n.id === selectedId || n.id === hoveredId
          ? theme.colors.text.maxContrast
          : critical.has(n.id)
            ? CRITICAL_COLOR
            : n.status === 'error'
              ? theme.colors.error.main
              : theme.colors.background.primary
      )
      .attr('stroke-width', (n) => (n.id === selectedId ? 4 : n.id === hoveredId ? 3 : critical.has(n.id) ? 2.5 : 1))
      .attr('r', (n) => (n.id === hoveredId || n.id === selectedId ? radius(n) * 1.4 : radius(n)))
      .attr('data-selected', (n) => String(n.id === selectedId))
      .attr('data-hovered', (n) => String(n.id === hoveredId));
    const active = hoveredId ?? selectedId;
    // Thousands of edges: keep the critical ones and the pointed-at node's clear, the rest faint.
    const rest = graph.edges.length > 600 ? 0.22 : 0.8;
    edgeSel.attr('stroke-opacity', (e) =>
      e.source === active || e.target === active || criticalEdges.has(e.id) ? 0.95 : active === undefined ? rest : 0.2
    );
    const shown = active !== undefined && !labelled.some((n) => n.id === active) ? byId.get(active) : undefined;
    const p = shown ? pos.get(shown.id) : undefined;
    hoverLabel
      .attr('x', p ? p.x + radius(shown!) * 1.4 + 4 : 0)
      .attr('y', p ? p.y + 4 : 0)
      .text(shown ? `${nodeLabel(shown)} · ${formatDuration(shown.durationNs)}` : '');
  };
  highlight();

  return {
    highlight,
    resize: (width, height) => {
      current = { width, height };
      svg.attr('width', width).attr('height', height);
      background.attr('width', width).attr('height', height);
      fit();
    },
    focus: (id) => {
      const p = pos.get(id);
      if (p) {
        svg.call(zoomBehavior.translateTo, p.x, p.y);
      }
    },
    destroy: () => {
      svg.on('.zoom', null);
      svg.selectAll('*').remove();
    },
  };
}

function edgePath(e: CausalEdge, layout: Layout, byId: Map<string, CausalNode>): string {
  const a = layout.positions.get(e.source)!;
  const b = layout.positions.get(e.target)!;
  const rb = radius(byId.get(e.target)!) + 2;
  if (Math.abs(a.y - b.y) < 1) {
    // Same row: arc above so the edge does not run through the nodes between.
    const dx = b.x - a.x;
    const lift = Math.min(60, 10 + Math.abs(dx) / 4);
    return `M${a.x},${a.y}Q${a.x + dx / 2},${a.y - lift} ${b.x - Math.sign(dx) * rb},${b.y}`;
  }
  // Stop at the target's rim so the arrowhead shows.
  const dy = b.y - a.y;
  const my = a.y + dy / 2;
  const endY = b.y - Math.sign(dy) * rb;
  return `M${a.x},${a.y}C${a.x},${my} ${b.x},${my} ${b.x},${endY}`;
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}
