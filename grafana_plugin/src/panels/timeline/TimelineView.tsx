import React, { useEffect, useMemo, useRef } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';

import { formatOffset } from '../../model/ns';
import { TimelineModel } from '../../model/timeline';
import { LinkedSelection } from '../shared/useLinkedSelection';
import { TimelineChart, createTimelineChart } from './timelineChart';

export interface TimelineViewProps {
  model: TimelineModel;
  width: number;
  height: number;
  selection: LinkedSelection;
  /** Canvas in browsers; SVG where there is no canvas (jsdom). */
  renderer?: 'canvas' | 'svg';
}

const HEADER_HEIGHT = 24;

export function TimelineView({ model, width, height, selection, renderer = 'canvas' }: TimelineViewProps) {
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<TimelineChart | null>(null);
  const handlers = useRef(selection);
  useEffect(() => {
    handlers.current = selection;
  });
  const chartHeight = Math.max(120, height - HEADER_HEIGHT);
  const size = useRef({ width, height: chartHeight });
  useEffect(() => {
    size.current = { width, height: chartHeight };
  });
  const byId = useMemo(() => new Map(model.rows.map((r) => [r.id, r])), [model]);

  useEffect(() => {
    if (!el.current) {
      return;
    }
    chart.current = createTimelineChart(el.current, model, theme, size.current, renderer, {
      onHover: (id) => handlers.current.hover(id),
      onSelect: (id) => handlers.current.select(id),
    });
    return () => chart.current?.dispose();
  }, [model, theme, renderer]);

  useEffect(() => chart.current?.resize(width, chartHeight), [width, chartHeight]);

  useEffect(() => {
    chart.current?.update({ hoveredId: selection.hoveredId, selectedId: selection.selectedId });
  }, [selection.hoveredId, selection.selectedId, model]);

  // Selecting an event anywhere brings it into view here.
  useEffect(() => {
    const row = selection.selectedId !== undefined ? byId.get(selection.selectedId) : undefined;
    if (row) {
      chart.current?.zoomTo(row.start, row.end);
    }
  }, [selection.selectedId, byId]);

  return (
    <div
      style={{ width, height }}
      data-testid="kprobe-timeline"
      data-base-ns={model.baseNs}
      data-hovered-id={selection.hoveredId ?? ''}
      data-selected-id={selection.selectedId ?? ''}
    >
      <div className={styles.header} style={{ height: HEADER_HEIGHT }}>
        {model.lanes.length} lanes · {model.rows.length} events · base {model.baseNs} ns (Unix) · extent{' '}
        {formatOffset(model.extent)} · scroll to zoom, drag to pan
      </div>
      <div ref={el} style={{ width, height: chartHeight }} />
      {/* The same rows as text, for screen readers and for checking what the chart shows. */}
      <table className={styles.srOnly} data-testid="kprobe-timeline-rows" aria-label="Timeline events">
        <tbody>
          {model.rows.map((r) => (
            <tr
              key={r.id}
              data-id={r.id}
              data-lane={model.lanes[r.lane]}
              data-start-ns={r.start}
              data-end-ns={r.end}
              data-kind={r.item.eventType ?? r.item.kind}
              data-name={r.item.name}
            >
              <td>{model.lanes[r.lane]}</td>
              <td>
                <button onClick={() => selection.select(r.id)}>{r.item.eventType ?? r.item.name}</button>
              </td>
              <td>{r.start}</td>
              <td>{r.end}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  header: css({
    color: theme.colors.text.secondary,
    fontSize: theme.typography.bodySmall.fontSize,
    padding: theme.spacing(0, 1),
    whiteSpace: 'nowrap',
    overflow: 'hidden',
    textOverflow: 'ellipsis',
  }),
  srOnly: css({
    position: 'absolute',
    width: 1,
    height: 1,
    overflow: 'hidden',
    clip: 'rect(0 0 0 0)',
    whiteSpace: 'nowrap',
  }),
});
