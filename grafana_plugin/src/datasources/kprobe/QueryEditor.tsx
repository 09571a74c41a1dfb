import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineSwitch, Input, Select, Stack } from '@grafana/ui';

import type { KprobeDataSource } from './datasource';
import { KprobeOptions, KprobeQuery, KprobeQueryType } from './types';

const TYPES: Array<SelectableValue<KprobeQueryType>> = [
  { label: 'Causal graph', value: 'graph', description: 'Node Graph frames: nodes and edges with contributions' },
  { label: 'Timeline', value: 'timeline', description: 'Traces frame: spans and kernel events (ns exact)' },
  { label: 'Transactions', value: 'transactions', description: 'Search transactions in the time range' },
  { label: 'Top root causes', value: 'topRootCauses', description: 'Root causes that cost the most' },
  { label: 'Events', value: 'events', description: 'Kernel events in the time range' },
  { label: 'Live', value: 'live', description: 'Kernel events as the processor sees them' },
];

type Props = QueryEditorProps<KprobeDataSource, KprobeQuery, KprobeOptions>;

export function QueryEditor({ query, onChange, onRunQuery }: Props) {
  const type = query.queryType ?? 'graph';
  const set = (patch: Partial<KprobeQuery>) => onChange({ ...query, ...patch });
  const text = (key: keyof KprobeQuery, label: string, placeholder: string, width = 30) => (
    <InlineField label={label}>
      <Input
        width={width}
        value={String(query[key] ?? '')}
        placeholder={placeholder}
        onChange={(e) => set({ [key]: e.currentTarget.value })}
        onBlur={onRunQuery}
      />
    </InlineField>
  );
  return (
    <Stack gap={1} wrap="wrap">
      <InlineField label="Query">
        <Select width={20} options={TYPES} value={type} onChange={(v) => (set({ queryType: v.value }), onRunQuery())} />
      </InlineField>
      {(type === 'graph' || type === 'timeline') && text('transactionId', 'Transaction', '$transaction')}
      {(type === 'transactions' || type === 'events' || type === 'live') &&
        text('services', 'Services', 'payment-handler, settlement-svc')}
      {(type === 'events' || type === 'live') && text('eventTypes', 'Event types', 'SyscallWrite, MemoryReclaim')}
      {type === 'transactions' && (
        <InlineField label="Failed only">
          <InlineSwitch
            value={Boolean(query.failedOnly)}
            onChange={(e) => set({ failedOnly: e.currentTarget.checked })}
          />
        </InlineField>
      )}
      {type !== 'graph' && type !== 'timeline' && (
        <InlineField label="Limit">
          <Input
            type="number"
            width={10}
            value={query.limit ?? 100}
            onChange={(e) => set({ limit: Number(e.currentTarget.value) || undefined })}
            onBlur={onRunQuery}
          />
        </InlineField>
      )}
    </Stack>
  );
}
