/**
 * The ECharts side of the timeline: one custom series drawing every span and
 * kernel event as a bar in its lane, on a value axis of ns offsets from the
 * model's base (exact in a double), zoomable down to a microsecond.
 */

import { GrafanaTheme2 } from '@grafana/data';
import { CustomChart } from 'echarts/charts';
import { DataZoomComponent, GridComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer, SVGRenderer } from 'echarts/renderers';
import type { CustomSeriesRenderItemAPI, CustomSeriesRenderItemParams, CustomSeriesRenderItemReturn } from 'echarts';

import { formatAxisOffset, formatDuration, formatOffset, formatOffsetExact } from '../../model/ns';
import { CRITICAL_COLOR, kindColor } from '../../model/style';
import { TimelineModel, TimelineRow } from '../../model/timeline';

echarts.use([CustomChart, GridComponent, TooltipComponent, DataZoomComponent, CanvasRenderer, SVGRenderer]);

/** Narrowest window the zoom allows: 1 µs. */
export const MIN_SPAN_NS = 1_000;
const LANE_LABEL_WIDTH = 230;

export interface ChartState {
  hoveredId?: string;
  selectedId?: string;
}

export interface TimelineChart {
  update: (state: ChartState) => void;
  /** Zoom so [start, end) fills the middle half of the view. */
  zoomTo: (start: number, end: number) => void;
  resize: (width: number, height: number) => void;
  dispose: () => void;
}

export function createTimelineChart(
  el: HTMLElement,
  model: TimelineModel,
  theme: GrafanaTheme2,
  size: { width: number; height: number },
  renderer: 'canvas' | 'svg',
  handlers: { onHover: (id?: string) => void; onSelect: (id?: string) => void }
): TimelineChart {
  const chart = echarts.init(el, undefined, { renderer, width: size.width, height: size.height });
  let state: ChartState = {};
  const rows = model.rows;
  const max = Math.max(model.extent, MIN_SPAN_NS);
  // Width of the visible window, for labels precise enough at any zoom.
  let windowNs = max;

  const renderItem = (
    params: CustomSeriesRenderItemParams,
    api: CustomSeriesRenderItemAPI
  ): CustomSeriesRenderItemReturn => {
    const row = rows[params.dataIndex];
    const laneHeight = (api.size!([0, 1]) as number[])[1];
    const [x0, y] = api.coord([row.start, row.lane]);
    const [x1] = api.coord([row.end, row.lane]);
    const isSpan = row.item.kind !== 'kernel';
    // Nested intervals (a reclaim inside a write) are drawn thinner on top of their container.
    // Off-CPU intervals are the scheduler's background: thinner still.
    const offCpu = row.item.eventType === 'SchedSwitch';
    const h = laneHeight * (isSpan ? 0.66 : offCpu ? 0.3 : 0.56) * Math.max(0.3, 1 - 0.28 * row.depth);
    const rect = echarts.graphic.clipRectByRect(
      { x: x0, y: y - h / 2, width: Math.max(2, x1 - x0), height: h },
      params.coordSys as unknown as { x: number; y: number; width: number; height: number }
    );
    if (!rect) {
      return null;
    }
    const active = row.id === state.hoveredId || row.id === state.selectedId;
    return {
      type: 'rect',
      shape: rect,
      style: {
        fill: kindColor(row.item.kind, row.item.eventType),
        opacity: isSpan ? 0.75 : offCpu ? 0.6 : 0.95,
        stroke: active ? theme.colors.text.maxContrast : row.item.status === 'error' ? CRITICAL_COLOR : undefined,
        lineWidth: active ? 2.5 : row.item.status === 'error' ? 1.5 : 0,
      },
    };
  };

  chart.setOption({
    animation: false,
    backgroundColor: 'transparent',
    textStyle: { color: theme.colors.text.primary, fontFamily: theme.typography.fontFamily },
    grid: { left: LANE_LABEL_WIDTH + 10, right: 24, top: 16, bottom: 64 },
    tooltip: {
      trigger: 'item',
      backgroundColor: theme.colors.background.secondary,
      borderColor: theme.colors.border.medium,
      textStyle: { color: theme.colors.text.primary, fontSize: 12 },
      formatter: (p: unknown) => tooltip(rows[(p as { dataIndex: number }).dataIndex], model),
    },
    xAxis: {
      type: 'value',
      min: 0,
      max,
      position: 'top',
      axisLabel: {
        formatter: (v: number) => formatAxisOffset(v, windowNs),
        color: theme.colors.text.secondary,
        hideOverlap: true,
      },
      splitLine: { lineStyle: { color: theme.colors.border.weak } },
      axisLine: { lineStyle: { color: theme.colors.border.medium } },
    },
    yAxis: {
      type: 'category',
      data: model.lanes,
      inverse: true,
      axisLabel: { width: LANE_LABEL_WIDTH, overflow: 'truncate', color: theme.colors.text.primary, fontSize: 11 },
      axisTick: { show: false },
      splitLine: { show: true, lineStyle: { color: theme.colors.border.weak } },
      axisLine: { lineStyle: { color: theme.colors.border.medium } },
    },
    dataZoom: [
      { id: 'x-inside', type: 'inside', xAxisIndex: 0, filterMode: 'weakFilter', minValueSpan: MIN_SPAN_NS },
      {
        id: 'x-slider',
        type: 'slider',
        xAxisIndex: 0,
        filterMode: 'weakFilter',
        minValueSpan: MIN_SPAN_NS,
        height: 20,
        bottom: 12,
        labelFormatter: (v: number) => formatOffset(v),
        textStyle: { color: theme.colors.text.secondary },
        borderColor: theme.colors.border.medium,
      },
    ],
    series: [
      {
        id: 'items',
        type: 'custom',
        renderItem,
        encode: { x: [1, 2], y: 0 },
        data: rows.map((r, i) => [r.lane, r.start, r.end, i]),
      },
    ],
  });

  const idAt = (p: { dataIndex?: number }) => (p.dataIndex === undefined ? undefined : rows[p.dataIndex]?.id);
  chart.on('mouseover', (p) => handlers.onHover(idAt(p)));
  chart.on('mouseout', () => handlers.onHover(undefined));
  chart.on('click', (p) => handlers.onSelect(idAt(p)));
  const axisLabel = { formatter: (v: number) => formatAxisOffset(v, windowNs) };
  chart.on('datazoom', () => {
    const dz = (chart.getOption() as { dataZoom: Array<{ start: number; end: number }> }).dataZoom[0];
    const next = ((dz.end - dz.start) / 100) * max;
    if (Math.abs(next - windowNs) > windowNs * 0.01) {
      windowNs = next;
      // Labels were formatted for the old window: redo them for the new one.
      chart.setOption({ xAxis: { axisLabel } });
    }
  });

  return {
    update: (next) => {
      state = next;
      chart.setOption({ series: [{ id: 'items', renderItem }] });
    },
    zoomTo: (start, end) => {
      const pad = Math.max((end - start) * 0.15, MIN_SPAN_NS);
      const from = Math.max(0, start - pad);
      const to = Math.min(max, end + pad);
      windowNs = to - from;
      chart.dispatchAction({ type: 'dataZoom', dataZoomId: 'x-inside', startValue: from, endValue: to });
    },
    resize: (width, height) => chart.resize({ width, height }),
    dispose: () => chart.dispose(),
  };
}

function tooltip(row: TimelineRow | undefined, model: TimelineModel): string {
  if (!row) {
    return '';
  }
  const i = row.item;
  const who = [i.service, i.comm, i.pid !== undefined ? `${i.pid}/${i.tid ?? i.pid}` : undefined]
    .filter(Boolean)
    .join(' ');
  return [
    `<b>${escapeHtml(i.eventType ?? i.name)}</b> ${escapeHtml(who)}`,
    `duration ${formatDuration(i.durationNs)}`,
    `start ${formatOffsetExact(row.start)} from ${model.baseNs}`,
  ].join('<br/>');
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
