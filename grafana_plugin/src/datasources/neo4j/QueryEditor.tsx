import React from 'react';
import { QueryEditorProps } from '@grafana/data';
import { InlineField, RadioButtonGroup, Select, Stack, TextArea } from '@grafana/ui';

import type { Neo4jDataSource } from './datasource';
import presets from './queries.json';
import { Neo4jOptions, Neo4jQuery } from './types';

type Props = QueryEditorProps<Neo4jDataSource, Neo4jQuery, Neo4jOptions>;

export function QueryEditor({ query, onChange, onRunQuery }: Props) {
  const set = (patch: Partial<Neo4jQuery>) => onChange({ ...query, ...patch });
  return (
    <Stack direction="column" gap={1}>
      <Stack gap={1}>
        <InlineField label="Library">
          <Select
            width={40}
            placeholder="Start from a kprobe query"
            options={presets.map((p) => ({ label: p.name, value: p.name, description: p.description }))}
            value={query.preset}
            onChange={(v) => {
              const p = presets.find((x) => x.name === v.value)!;
              set({
                preset: p.name,
                statement: p.statement,
                parameters: JSON.stringify(p.parameters),
                format: p.format as Neo4jQuery['format'],
              });
            }}
          />
        </InlineField>
        <InlineField label="Format">
          <RadioButtonGroup
            options={[
              { label: 'Table', value: 'table' },
              { label: 'Node graph', value: 'nodeGraph' },
            ]}
            value={query.format ?? 'table'}
            onChange={(v) => set({ format: v === 'nodeGraph' ? 'nodeGraph' : 'table' })}
          />
        </InlineField>
      </Stack>
      <TextArea
        aria-label="Cypher"
        rows={4}
        value={query.statement ?? ''}
        placeholder="MATCH (t:Transaction) RETURN t.txn LIMIT 10"
        onChange={(e) => set({ statement: e.currentTarget.value })}
        onBlur={onRunQuery}
      />
      <InlineField label="Parameters (JSON)" grow>
        <TextArea
          rows={1}
          value={query.parameters ?? '{}'}
          onChange={(e) => set({ parameters: e.currentTarget.value })}
          onBlur={onRunQuery}
        />
      </InlineField>
    </Stack>
  );
}
