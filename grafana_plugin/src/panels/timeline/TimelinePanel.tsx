import React, { useMemo } from 'react';
import { PanelProps } from '@grafana/data';
import { PanelDataErrorView } from '@grafana/runtime';

import { framesToGraph } from '../../frames/nodeGraph';
import { TRACE_FRAME, itemsFromTracesFrame } from '../../frames/traces';
import { TimelineItem, buildTimeline, itemsFromGraph } from '../../model/timeline';
import { useLinkedSelection } from '../shared/useLinkedSelection';
import { TimelineView } from './TimelineView';

export interface TimelineOptions {}

/**
 * Spans and kernel events of the query result on a ns axis: from a Traces
 * frame (kprobe "Timeline" query) or, failing that, from a causal graph.
 */
export function TimelinePanel({ data, width, height, eventBus, id, fieldConfig }: PanelProps<TimelineOptions>) {
  const model = useMemo(() => {
    const items: TimelineItem[] = data.series
      .filter((f) => f.name === TRACE_FRAME || f.meta?.preferredVisualisationType === 'trace')
      .flatMap(itemsFromTracesFrame);
    if (items.length > 0) {
      return buildTimeline(items);
    }
    const graph = framesToGraph(data.series);
    return graph ? buildTimeline(itemsFromGraph(graph)) : undefined;
  }, [data.series]);
  const selection = useLinkedSelection(eventBus, `timeline-${id}`);
  if (!model || model.rows.length === 0) {
    return (
      <PanelDataErrorView
        panelId={id}
        fieldConfig={fieldConfig}
        data={data}
        message="No spans or kernel events in this result: use the kprobe data source with a Timeline query."
      />
    );
  }
  return <TimelineView model={model} width={width} height={height} selection={selection} />;
}
