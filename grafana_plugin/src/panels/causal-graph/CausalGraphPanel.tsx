import React, { useMemo } from 'react';
import { PanelProps } from '@grafana/data';
import { PanelDataErrorView } from '@grafana/runtime';

import { framesToGraph } from '../../frames/nodeGraph';
import { useLinkedSelection } from '../shared/useLinkedSelection';
import { CausalGraphView } from './CausalGraphView';

export interface CausalGraphOptions {}

/** The causal graph of the transaction in the query result (kprobe data source, "Causal graph" query). */
export function CausalGraphPanel({ data, width, height, eventBus, id, fieldConfig }: PanelProps<CausalGraphOptions>) {
  const graph = useMemo(() => framesToGraph(data.series), [data.series]);
  const selection = useLinkedSelection(eventBus, `graph-${id}`);
  if (!graph) {
    return (
      <PanelDataErrorView
        panelId={id}
        fieldConfig={fieldConfig}
        data={data}
        message="No causal graph in this result: use the kprobe data source with a Causal graph query."
      />
    );
  }
  return <CausalGraphView graph={graph} width={width} height={height} selection={selection} />;
}
