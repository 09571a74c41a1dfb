import React, { useMemo } from 'react';
import { PanelProps } from '@grafana/data';

import { useKprobeClient } from '../../api/ClientContext';
import { framesToGraph } from '../../frames/nodeGraph';
import { ReplayView } from './ReplayView';

export interface ReplayOptions {
  /** Transaction to replay; dashboard variables allowed (e.g. `$transaction`). */
  transactionId: string;
  /** Environment variable the replayed service reads its timeout from. */
  timeoutEnv: string;
}

/** Replay the transaction of the query result (or of the options) with injections, through the kprobe API. */
export function ReplayPanel({ data, width, height, options, replaceVariables }: PanelProps<ReplayOptions>) {
  const client = useKprobeClient();
  const graph = useMemo(() => framesToGraph(data.series), [data.series]);
  const fromOptions = options.transactionId ? replaceVariables(options.transactionId) : '';
  const transactionId = fromOptions || graph?.transactionId;
  const original = graph
    ? graph.status === 'failed'
      ? 'failed'
      : graph.status === 'ok'
        ? 'succeeded'
        : 'unknown'
    : undefined;
  return (
    <ReplayView
      client={client}
      transactionId={transactionId}
      original={original}
      timeoutEnv={options.timeoutEnv}
      width={width}
      height={height}
    />
  );
}
