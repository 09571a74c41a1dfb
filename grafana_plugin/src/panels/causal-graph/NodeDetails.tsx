import React, { useMemo } from 'react';
import { css } from '@emotion/css';
import { GrafanaTheme2 } from '@grafana/data';
import { IconButton, useStyles2 } from '@grafana/ui';

import { CausalGraph, kernelEventsOf, nodeLabel } from '../../model/graph';
import { formatDuration, formatOffsetExact, offsetNs } from '../../model/ns';
import { kindColor } from '../../model/style';

/** Kernel events listed at most; the rest are counted. */
const MAX_EVENTS = 200;

export interface NodeDetailsProps {
  graph: CausalGraph;
  nodeId: string;
  width: number;
  height: number;
  onSelect: (id: string) => void;
  onClose: () => void;
}

/** Drill-down of one node: its fields, then the kernel events it stands for. */
export function NodeDetails({ graph, nodeId, width, height, onSelect, onClose }: NodeDetailsProps) {
  const styles = useStyles2(getStyles);
  const node = graph.nodes.find((n) => n.id === nodeId);
  const baseNs = graph.nodes.find((n) => n.id === graph.rootNodeId)?.startNs ?? node?.startNs ?? '0';
  const events = useMemo(() => kernelEventsOf(graph, nodeId), [graph, nodeId]);
  if (!node) {
    return null;
  }
  const rows: Array<[string, string]> = [
    ['kind', node.eventType ?? node.kind],
    ['service', node.service ?? ''],
    ['process', node.pid !== undefined ? `${node.comm ?? ''} ${node.pid}/${node.tid ?? node.pid}` : ''],
    ['start', formatOffsetExact(offsetNs(node.startNs, baseNs))],
    ['start (Unix ns)', node.startNs],
    ['duration', `${formatDuration(node.durationNs)} (${node.durationNs} ns)`],
    ['status', node.status],
    ...Object.entries(node.fields).map(([k, v]): [string, string] => [k, String(v)]),
  ];
  const others = node.kind === 'kernel' ? [] : events;
  return (
    <aside className={styles.pane} style={{ width, height }} data-testid="kprobe-node-details" data-node-id={nodeId}>
      <div className={styles.header}>
        <span className={styles.swatch} style={{ background: kindColor(node.kind, node.eventType) }} />
        <strong className={styles.name}>{nodeLabel(node)}</strong>
        <IconButton name="times" tooltip="Close" onClick={onClose} />
      </div>
      <table className={styles.table}>
        <tbody>
          {rows
            .filter(([, v]) => v !== '')
            .map(([k, v]) => (
              <tr key={k}>
                <th>{k}</th>
                <td>{v}</td>
              </tr>
            ))}
        </tbody>
      </table>
      {others.length > 0 && (
        <>
          <div className={styles.subheader}>Kernel events ({others.length})</div>
          <ul className={styles.events} data-testid="kprobe-node-kernel-events">
            {others.slice(0, MAX_EVENTS).map((e) => (
              <li key={e.id}>
                <button className={styles.event} onClick={() => onSelect(e.id)} data-node-id={e.id}>
                  <span className={styles.swatch} style={{ background: kindColor(e.kind, e.eventType) }} />
                  <span className={styles.eventName}>{e.eventType ?? e.name}</span>
                  <span className={styles.eventMeta}>
                    {formatDuration(e.durationNs)} at {formatOffsetExact(offsetNs(e.startNs, baseNs))}
                  </span>
                </button>
              </li>
            ))}
          </ul>
          {others.length > MAX_EVENTS && <div className={styles.more}>and {others.length - MAX_EVENTS} more</div>}
        </>
      )}
    </aside>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  pane: css({
    borderLeft: `1px solid ${theme.colors.border.weak}`,
    overflowY: 'auto',
    padding: theme.spacing(1),
    fontSize: theme.typography.bodySmall.fontSize,
    flexShrink: 0,
  }),
  header: css({ display: 'flex', alignItems: 'center', gap: theme.spacing(1), marginBottom: theme.spacing(1) }),
  name: css({ flex: 1, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }),
  swatch: css({ display: 'inline-block', width: 10, height: 10, borderRadius: '50%', flexShrink: 0 }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    th: {
      textAlign: 'left',
      color: theme.colors.text.secondary,
      fontWeight: 'normal',
      paddingRight: theme.spacing(1),
      verticalAlign: 'top',
      whiteSpace: 'nowrap',
    },
    td: { fontFamily: theme.typography.fontFamilyMonospace, wordBreak: 'break-all' },
  }),
  subheader: css({ marginTop: theme.spacing(1.5), marginBottom: theme.spacing(0.5), fontWeight: 500 }),
  events: css({ listStyle: 'none', margin: 0, padding: 0 }),
  event: css({
    display: 'flex',
    alignItems: 'center',
    gap: theme.spacing(0.75),
    width: '100%',
    background: 'none',
    border: 'none',
    color: theme.colors.text.primary,
    padding: theme.spacing(0.25, 0),
    cursor: 'pointer',
    textAlign: 'left',
    '&:hover': { background: theme.colors.action.hover },
  }),
  eventName: css({ flex: 1 }),
  eventMeta: css({ color: theme.colors.text.secondary, fontFamily: theme.typography.fontFamilyMonospace }),
  more: css({ color: theme.colors.text.secondary, marginTop: theme.spacing(0.5) }),
});
