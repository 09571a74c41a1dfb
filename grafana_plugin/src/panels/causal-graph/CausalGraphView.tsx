import React, { useEffect, useMemo, useRef } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';

import { CausalGraph } from '../../model/graph';
import { layeredLayout } from '../../model/layout';
import { formatDuration } from '../../model/ns';
import { ROOT_CAUSE_COLOR } from '../../model/style';
import { LinkedSelection } from '../shared/useLinkedSelection';
import { NodeDetails } from './NodeDetails';
import { RenderedGraph, renderGraph } from './renderGraph';

export interface CausalGraphViewProps {
  graph: CausalGraph;
  width: number;
  height: number;
  selection: LinkedSelection;
}

const DETAILS_WIDTH = 340;
const HEADER_HEIGHT = 30;

export function CausalGraphView({ graph, width, height, selection }: CausalGraphViewProps) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const svgRef = useRef<SVGSVGElement>(null);
  const rendered = useRef<RenderedGraph | null>(null);
  const handlers = useRef(selection);
  useEffect(() => {
    handlers.current = selection;
  });

  // Small graphs get room for their labels; large ones pack tight (labels only on the story).
  const layout = useMemo(() => layeredLayout(graph, spacingFor(graph.nodes.length)), [graph]);
  const showDetails = selection.selectedId !== undefined && width >= 2 * DETAILS_WIDTH;
  const graphWidth = Math.max(100, showDetails ? width - DETAILS_WIDTH : width);
  const graphHeight = Math.max(100, height - HEADER_HEIGHT);
  const size = useRef({ width: graphWidth, height: graphHeight });

  useEffect(() => {
    if (!svgRef.current) {
      return;
    }
    rendered.current = renderGraph(svgRef.current, graph, layout, theme, size.current, {
      onHover: (id) => handlers.current.hover(id),
      onSelect: (id) => handlers.current.select(id),
    });
    return () => rendered.current?.destroy();
  }, [graph, layout, theme]);

  useEffect(() => {
    size.current = { width: graphWidth, height: graphHeight };
    rendered.current?.resize(graphWidth, graphHeight);
  }, [graphWidth, graphHeight]);

  useEffect(() => {
    rendered.current?.highlight(selection.hoveredId, selection.selectedId);
  }, [selection.hoveredId, selection.selectedId, graph]);

  const rootCause = graph.rootCause;
  return (
    <div className={styles.wrapper} style={{ width, height }} data-testid="kprobe-causal-graph">
      <div className={styles.header} style={{ height: HEADER_HEIGHT }}>
        <span className={styles.title}>
          {graph.transactionId} · <span data-testid="kprobe-txn-status">{graph.status}</span> ·{' '}
          {formatDuration(graph.latencyNs)} · {graph.nodes.length} nodes
        </span>
        {rootCause && rootCause.mechanism !== 'none' ? (
          <span className={styles.rootCause} data-testid="kprobe-root-cause" data-mechanism={rootCause.mechanism}>
            Root cause: {rootCause.mechanism}
            {rootCause.culprit ? ` — ${culpritText(rootCause.culprit)}` : ''} ·{' '}
            {formatDuration(rootCause.contributionNs)}
          </span>
        ) : (
          <span className={styles.noCause} data-testid="kprobe-root-cause" data-mechanism="none">
            No root cause found
          </span>
        )}
      </div>
      <div className={styles.body}>
        <svg
          ref={svgRef}
          width={graphWidth}
          height={graphHeight}
          role="img"
          aria-label={`Causal graph of ${graph.transactionId}`}
        />
        {showDetails && (
          <NodeDetails
            graph={graph}
            nodeId={selection.selectedId!}
            width={DETAILS_WIDTH}
            height={graphHeight}
            onSelect={selection.select}
            onClose={() => selection.select(undefined)}
          />
        )}
      </div>
    </div>
  );
}

function spacingFor(nodes: number) {
  if (nodes <= 80) {
    return { nodeGap: 180, maxPerRow: 8, layerGap: 64, rowGap: 30 };
  }
  return nodes <= 400 ? { nodeGap: 90, maxPerRow: 16, layerGap: 70, rowGap: 30 } : {};
}

function culpritText(c: NonNullable<CausalGraph['rootCause']>['culprit']): string {
  if (!c) {
    return '';
  }
  const who = [c.comm, c.pid ? `pid ${c.pid}` : undefined].filter(Boolean).join(' ');
  return c.service && c.service !== c.comm ? `${who} (${c.service})` : who;
}

const getStyles = (theme: GrafanaTheme2) => ({
  wrapper: css({ display: 'flex', flexDirection: 'column', overflow: 'hidden' }),
  header: css({
    display: 'flex',
    alignItems: 'center',
    justifyContent: 'space-between',
    gap: theme.spacing(2),
    padding: theme.spacing(0, 1),
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'nowrap',
    overflow: 'hidden',
  }),
  title: css({ color: theme.colors.text.secondary, overflow: 'hidden', textOverflow: 'ellipsis' }),
  rootCause: css({ color: ROOT_CAUSE_COLOR, fontWeight: theme.typography.fontWeightMedium }),
  noCause: css({ color: theme.colors.text.secondary }),
  body: css({ display: 'flex', flex: 1, minHeight: 0 }),
});
