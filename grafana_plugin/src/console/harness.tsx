/**
 * Panel harness: mounts the plugin's panels (the PanelPlugin objects Grafana
 * loads) with PanelProps built from @grafana/data, on one event bus as a
 * dashboard would, fed by the live API or a generated graph:
 *   harness.html?panels=graph,timeline&txn=<id>       frames from the API (same origin)
 *   harness.html?panels=graph&synthetic=3000          a generated 3000-node graph
 * Browser tests screenshot it; `window.kprobeHarness` reports render times.
 */

import React, { useEffect, useMemo, useState } from 'react';
import {
  DataFrame,
  EventBusSrv,
  FieldConfigSource,
  LoadingState,
  PanelPlugin,
  PanelProps,
  getDefaultTimeRange,
} from '@grafana/data';

import { KprobeClient } from '../api/client';
import { ClientProvider } from '../api/ClientContext';
import { graphFromApi, itemsFromTimeline } from '../api/convert';
import { graphToFrames } from '../frames/nodeGraph';
import { tracesFrame } from '../frames/traces';
import { syntheticGraph } from '../model/synthetic';
import { withGraphCauses } from '../model/timeline';
import { plugin as graphPlugin } from '../panels/causal-graph/module';
import { plugin as replayPlugin } from '../panels/replay/module';
import { plugin as timelinePlugin } from '../panels/timeline/module';
import { mount } from './mount';

const PANELS: Record<string, PanelPlugin<any>> = { graph: graphPlugin, timeline: timelinePlugin, replay: replayPlugin };

declare global {
  interface Window {
    kprobeHarness?: { ready: boolean; framesMs?: number; error?: string; nodes?: number };
  }
}

const params = new URLSearchParams(window.location.search);
const client = new KprobeClient({ baseUrl: '' });

async function loadFrames(): Promise<DataFrame[]> {
  const synthetic = params.get('synthetic');
  if (synthetic) {
    return graphToFrames(syntheticGraph(Number(synthetic)), 'A');
  }
  const txn = params.get('txn');
  if (!txn) {
    throw new Error('give ?txn=<transaction id> or ?synthetic=<nodes>');
  }
  const [g, t] = await Promise.all([client.causalGraph(txn), client.timeline(txn)]);
  const graph = graphFromApi(g);
  const items = withGraphCauses(itemsFromTimeline(t), graph);
  return [...graphToFrames(graph, 'A'), tracesFrame(t.transaction?.trace_id || 'B', items)];
}

function Harness() {
  const [frames, setFrames] = useState<DataFrame[]>();
  const [error, setError] = useState<string>();
  const bus = useMemo(() => new EventBusSrv(), []);
  const names = (params.get('panels') ?? 'graph,timeline').split(',');
  const width = Number(params.get('width') ?? 1400);
  const height = Number(params.get('height') ?? 560);

  useEffect(() => {
    const t0 = performance.now();
    loadFrames()
      .then((f) => {
        setFrames(f);
        window.kprobeHarness = { ready: true, framesMs: performance.now() - t0, nodes: f[0]?.length };
      })
      .catch((e) => {
        setError(String(e));
        window.kprobeHarness = { ready: true, error: String(e) };
      });
  }, []);

  if (error) {
    return <pre data-testid="harness-error">{error}</pre>;
  }
  if (!frames) {
    return <div>loading…</div>;
  }
  const timeRange = getDefaultTimeRange();
  return (
    <ClientProvider client={client}>
      {names.map((name, i) => {
        const p = PANELS[name];
        const Panel = p.panel as React.ComponentType<PanelProps<any>>;
        const fieldConfig: FieldConfigSource = { defaults: {}, overrides: [] };
        return (
          <div
            key={name}
            data-testid={`harness-panel-${name}`}
            style={{ width, height, margin: 8, border: '1px solid #333' }}
          >
            <Panel
              id={i + 1}
              data={{ state: LoadingState.Done, series: frames, timeRange }}
              timeRange={timeRange}
              timeZone="utc"
              options={{ transactionId: '', timeoutEnv: params.get('timeoutEnv') ?? 'TIMEOUT_MS' }}
              fieldConfig={fieldConfig}
              transparent={false}
              width={width}
              height={height}
              renderCounter={0}
              title={name}
              eventBus={bus}
              onOptionsChange={() => {}}
              onFieldConfigChange={() => {}}
              replaceVariables={(s: string) => s}
              onChangeTimeRange={() => {}}
            />
          </div>
        );
      })}
    </ClientProvider>
  );
}

mount(<Harness />);
