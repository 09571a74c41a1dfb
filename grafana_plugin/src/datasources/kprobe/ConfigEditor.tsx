import React from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Field, FieldSet, Input, SecretInput } from '@grafana/ui';

import { KprobeOptions, KprobeSecureOptions } from './types';

type Props = DataSourcePluginOptionsEditorProps<KprobeOptions, KprobeSecureOptions>;

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const json = options.jsonData;
  const setJson = (patch: Partial<KprobeOptions>) => onOptionsChange({ ...options, jsonData: { ...json, ...patch } });
  return (
    <FieldSet label="kprobe API">
      <Field label="API URL" description="As Grafana's server reaches it; requests are proxied and get the token.">
        <Input
          width={50}
          value={json.apiUrl ?? ''}
          placeholder="http://127.0.0.1:8080"
          onChange={(e) => setJson({ apiUrl: e.currentTarget.value.trim() })}
        />
      </Field>
      <Field label="Live URL" description="As browsers reach it, for live events over WebSocket (not proxied).">
        <Input
          width={50}
          value={json.liveUrl ?? ''}
          placeholder="http://kprobe.example:8080"
          onChange={(e) => setJson({ liveUrl: e.currentTarget.value.trim() })}
        />
      </Field>
      <Field label="API token" description="Bearer token when the API has authentication on; stored encrypted.">
        <SecretInput
          width={50}
          isConfigured={Boolean(options.secureJsonFields?.apiToken)}
          value={options.secureJsonData?.apiToken ?? ''}
          onChange={(e) =>
            onOptionsChange({
              ...options,
              secureJsonData: { ...options.secureJsonData, apiToken: e.currentTarget.value },
            })
          }
          onReset={() =>
            onOptionsChange({
              ...options,
              secureJsonFields: { ...options.secureJsonFields, apiToken: false },
              secureJsonData: { ...options.secureJsonData, apiToken: '' },
            })
          }
        />
      </Field>
    </FieldSet>
  );
}
