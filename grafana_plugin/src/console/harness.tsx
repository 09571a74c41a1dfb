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

import { TemplateSrv, setTemplateSrv } from '@grafana/runtime';

import { KprobeClient } from '../api/client';
import { ClientProvider } from '../api/ClientContext';
import { graphToFrames } from '../frames/nodeGraph';
import { KprobeDataSource } from '../datasources/kprobe/datasource';
import { syntheticGraph } from '../model/synthetic';
import { nodeGraphProblems, traceFrameProblems } from '../testing/frameContracts';
import { plugin as graphPlugin } from '../panels/causal-graph/module';
import { plugin as replayPlugin } from '../panels/replay/module';
import { plugin as timelinePlugin } from '../panels/timeline/module';
import { mount } from './mount';

const PANELS: Record<string, PanelPlugin<any>> = { graph: graphPlugin, timeline: timelinePlugin, replay: replayPlugin };

declare global {
  interface Window {
    kprobeHarness?: { ready: boolean; framesMs?: number; error?: string; nodes?: number; problems?: string[] };
  }
}

const params = new URLSearchParams(window.location.search);
const client = new KprobeClient({ baseUrl: '' });

/**
 * Frames for the panels: from the kprobe data source itself (its runQuery against this origin's
 * API, as Grafana would call it), checked against the Node Graph and Traces formats in the page.
 */
async function loadFrames(): Promise<{ frames: DataFrame[]; problems: string[] }> {
  const synthetic = params.get('synthetic');
  if (synthetic) {
    return { frames: graphToFrames(syntheticGraph(Number(synthetic)), 'A'), problems: [] };
  }
  const txn = params.get('txn');
  if (!txn) {
    throw new Error('give ?txn=<transaction id> or ?synthetic=<nodes>');
  }
  const ds = new KprobeDataSource(
    { id: 1, uid: 'kprobe-api', type: 'kprobe-kprobe-datasource', name: 'kprobe', jsonData: {} } as never,
    client
  );
  const range = { range: getDefaultTimeRange() };
  const [graphFrames, timelineFrames] = await Promise.all([
    ds.runQuery({ refId: 'A', queryType: 'graph', transactionId: txn }, range),
    ds.runQuery({ refId: 'B', queryType: 'timeline', transactionId: txn }, range),
  ]);
  const [nodes, edges] = graphFrames;
  const problems = [...nodeGraphProblems(nodes, edges), ...timelineFrames.flatMap(traceFrameProblems)];
  return { frames: [...graphFrames, ...timelineFrames], problems };
}

/**
 * `?live=TCPSend,SchedSwitch`: the data source's live query (the /stream WebSocket) as Grafana
 * runs it, its rows listed as they arrive. Grafana's template service is not here: variables
 * are left as they are.
 */
function Live({ eventTypes }: { eventTypes: string }) {
  const [rows, setRows] = useState<Array<{ sequence: number; type: string }>>([]);
  const [error, setError] = useState<string>();
  useEffect(() => {
    setTemplateSrv({ replace: (s?: string) => s ?? '' } as unknown as TemplateSrv);
    const ds = new KprobeDataSource(
      {
        id: 1,
        uid: 'kprobe-api',
        type: 'kprobe-kprobe-datasource',
        name: 'kprobe',
        jsonData: { liveUrl: window.location.origin },
      } as never,
      client
    );
    const sub = ds
      .query({
        targets: [{ refId: 'L', queryType: 'live', eventTypes, limit: 500 }],
        range: getDefaultTimeRange(),
        scopedVars: {},
      } as never)
      .subscribe({
        next: (r) => {
          const f = r.data[0] as DataFrame;
          const seq = f.fields.find((x) => x.name === 'sequence')!.values;
          const type = f.fields.find((x) => x.name === 'event_type')!.values;
          setRows(seq.map((s: number, i: number) => ({ sequence: s, type: type[i] })));
          if (r.errors?.length) {
            setError(r.errors.map((e) => e.message).join('; '));
          }
        },
        error: (e) => setError(String(e)),
      });
    return () => sub.unsubscribe();
  }, [eventTypes]);
  return (
    <div>
      {error && <pre data-testid="harness-live-error">{error}</pre>}
      <table data-testid="harness-live">
        <tbody>
          {rows.map((r) => (
            <tr key={r.sequence} data-sequence={r.sequence} data-type={r.type}>
              <td>{r.sequence}</td>
              <td>{r.type}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
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
      .then(({ frames: f, problems }) => {
        setFrames(f);
        window.kprobeHarness = { ready: true, framesMs: performance.now() - t0, nodes: f[0]?.length, problems };
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

const live = params.get('live');
mount(live ? <Live eventTypes={live} /> : <Harness />);
