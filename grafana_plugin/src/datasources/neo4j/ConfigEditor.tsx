import React, { useState } from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Field, FieldSet, Input, SecretInput } from '@grafana/ui';

import { Neo4jOptions, Neo4jSecureOptions } from './types';

type Props = DataSourcePluginOptionsEditorProps<Neo4jOptions, Neo4jSecureOptions>;

/** The password never leaves this page: only the Basic Authorization header built from it is stored (encrypted). */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const json = options.jsonData;
  const [password, setPassword] = useState('');
  const setJson = (patch: Partial<Neo4jOptions>) => onOptionsChange({ ...options, jsonData: { ...json, ...patch } });
  const setAuthorization = (user: string, pass: string) =>
    onOptionsChange({
      ...options,
      jsonData: { ...json, user },
      secureJsonData: { authorization: `Basic ${btoa(`${user}:${pass}`)}` },
    });
  return (
    <FieldSet label="Neo4j (HTTP Query API, 5.19+)">
      <Field label="URL" description="Neo4j's HTTP endpoint as Grafana's server reaches it.">
        <Input
          width={50}
          value={json.url ?? ''}
          placeholder="http://127.0.0.1:7474"
          onChange={(e) => setJson({ url: e.currentTarget.value.trim() })}
        />
      </Field>
      <Field label="Database">
        <Input
          width={30}
          value={json.database ?? ''}
          placeholder="neo4j"
          onChange={(e) => setJson({ database: e.currentTarget.value.trim() })}
        />
      </Field>
      <Field label="User">
        <Input
          width={30}
          value={json.user ?? ''}
          placeholder="neo4j"
          onChange={(e) => setAuthorization(e.currentTarget.value.trim(), password)}
        />
      </Field>
      <Field label="Password">
        <SecretInput
          width={30}
          isConfigured={Boolean(options.secureJsonFields?.authorization)}
          value={password}
          onChange={(e) => {
            setPassword(e.currentTarget.value);
            setAuthorization(json.user ?? '', e.currentTarget.value);
          }}
          onReset={() => {
            setPassword('');
            onOptionsChange({ ...options, secureJsonFields: { ...options.secureJsonFields, authorization: false } });
          }}
        />
      </Field>
    </FieldSet>
  );
}
