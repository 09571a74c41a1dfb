import React, { useEffect, useMemo, useRef, useState } from 'react';
import { css } from '@emotion/css';
import { EventBusSrv, GrafanaTheme2 } from '@grafana/data';
import { Alert, useStyles2 } from '@grafana/ui';

import { KprobeClient } from '../../api/client';
import { graphFromApi, itemsFromTimeline } from '../../api/convert';
import { CausalGraph } from '../../model/graph';
import { TimelineModel, buildTimeline, withGraphCauses } from '../../model/timeline';
import { CausalGraphView } from '../../panels/causal-graph/CausalGraphView';
import { ReplayView } from '../../panels/replay/ReplayView';
import { useLinkedSelection } from '../../panels/shared/useLinkedSelection';
import { TimelineView } from '../../panels/timeline/TimelineView';
import { useElementSize } from './useElementSize';

export interface TransactionWorkspaceProps {
  client: KprobeClient;
  transactionId: string;
  timeoutEnv?: string;
}

interface Loaded {
  transactionId: string;
  graph: CausalGraph;
  timeline: TimelineModel;
}

/**
 * One transaction: the causal graph, the timeline and the replay panel side
 * by side, linked through one event bus (hover/select in one shows in the
 * other). The app's transaction page and the local console both render this.
 */
export function TransactionWorkspace({ client, transactionId, timeoutEnv }: TransactionWorkspaceProps) {
  const styles = useStyles2(getStyles);
  const [result, setResult] = useState<Loaded>();
  const [failure, setFailure] = useState<{ transactionId: string; message: string }>();
  const bus = useMemo(() => new EventBusSrv(), []);
  const graphSelection = useLinkedSelection(bus, 'workspace-graph');
  const timelineSelection = useLinkedSelection(bus, 'workspace-timeline');
  const graphBox = useRef<HTMLDivElement>(null);
  const timelineBox = useRef<HTMLDivElement>(null);
  const replayBox = useRef<HTMLDivElement>(null);
  const graphSize = useElementSize(graphBox, { width: 900, height: 520 });
  const timelineSize = useElementSize(timelineBox, { width: 1400, height: 340 });
  const replaySize = useElementSize(replayBox, { width: 480, height: 520 });

  useEffect(() => {
    let cancelled = false;
    Promise.all([client.causalGraph(transactionId), client.timeline(transactionId)])
      .then(([g, t]) => {
        if (!cancelled) {
          const graph = graphFromApi(g);
          const items = withGraphCauses(itemsFromTimeline(t), graph);
          setResult({ transactionId, graph, timeline: buildTimeline(items) });
        }
      })
      .catch((e) => !cancelled && setFailure({ transactionId, message: e instanceof Error ? e.message : String(e) }));
    return () => {
      cancelled = true;
    };
  }, [client, transactionId]);

  // Results of an earlier transaction are not shown while the next one loads.
  const loaded = result?.transactionId === transactionId ? result : undefined;
  const error = failure?.transactionId === transactionId ? failure.message : undefined;
  if (error) {
    return (
      <Alert title={`Transaction ${transactionId}`} severity="error" data-testid="kprobe-workspace-error">
        {error}
      </Alert>
    );
  }
  if (!loaded) {
    return <div className={styles.loading}>Loading {transactionId}…</div>;
  }
  const { graph, timeline } = loaded;
  const original = graph.status === 'failed' ? 'failed' : graph.status === 'ok' ? 'succeeded' : 'unknown';
  return (
    <div className={styles.grid} data-testid="kprobe-workspace">
      <section className={styles.graph} ref={graphBox}>
        <CausalGraphView graph={graph} width={graphSize.width} height={graphSize.height} selection={graphSelection} />
      </section>
      <section className={styles.replay} ref={replayBox}>
        <ReplayView
          client={client}
          transactionId={transactionId}
          original={original}
          timeoutEnv={timeoutEnv}
          width={replaySize.width}
          height={replaySize.height}
        />
      </section>
      <section className={styles.timeline} ref={timelineBox}>
        <TimelineView
          model={timeline}
          width={timelineSize.width}
          height={timelineSize.height}
          selection={timelineSelection}
        />
      </section>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  grid: css({
    display: 'grid',
    gridTemplateColumns: 'minmax(0, 2fr) minmax(0, 1fr)',
    gridTemplateRows: 'minmax(420px, 58vh) minmax(300px, 38vh)',
    gridTemplateAreas: '"graph replay" "timeline timeline"',
    gap: theme.spacing(1),
    height: '100%',
  }),
  loading: css({ color: theme.colors.text.secondary, padding: theme.spacing(2) }),
  graph: css({ gridArea: 'graph', minHeight: 0, border: `1px solid ${theme.colors.border.weak}` }),
  replay: css({
    gridArea: 'replay',
    minHeight: 0,
    border: `1px solid ${theme.colors.border.weak}`,
    overflow: 'hidden',
  }),
  timeline: css({ gridArea: 'timeline', minHeight: 0, border: `1px solid ${theme.colors.border.weak}` }),
});
