import React, { ChangeEvent, useState } from 'react';
import { lastValueFrom } from 'rxjs';
import { css } from '@emotion/css';
import { AppPluginMeta, GrafanaTheme2, PluginConfigPageProps, PluginMeta } from '@grafana/data';
import { DataSourcePicker, getBackendSrv } from '@grafana/runtime';
import { Button, Field, FieldSet, Input, SecretInput, useStyles2 } from '@grafana/ui';

import { AppSettings } from '../../constants';

export const testIds = {
  apiUrl: 'data-testid kprobe-config-api-url',
  apiToken: 'data-testid kprobe-config-api-token',
  timeoutEnv: 'data-testid kprobe-config-timeout-env',
  submit: 'data-testid kprobe-config-submit',
};

export interface AppConfigProps extends PluginConfigPageProps<AppPluginMeta<AppSettings>> {}

/** API URL and token (the token only ever goes to secureJsonData), and which data sources the app uses. */
const AppConfig = ({ plugin }: AppConfigProps) => {
  const s = useStyles2(getStyles);
  const { enabled, pinned, jsonData, secureJsonFields } = plugin.meta;
  const [settings, setSettings] = useState<AppSettings>({ timeoutEnv: 'TIMEOUT_MS', ...jsonData });
  const [token, setToken] = useState('');
  const [tokenSet, setTokenSet] = useState(Boolean(secureJsonFields?.apiToken));

  const onText = (event: ChangeEvent<HTMLInputElement>) =>
    setSettings({ ...settings, [event.target.name]: event.target.value.trim() });

  const onSubmit = (event: React.FormEvent) => {
    event.preventDefault();
    if (!settings.apiUrl) {
      return;
    }
    updatePluginAndReload(plugin.meta.id, {
      enabled,
      pinned,
      jsonData: settings,
      // Left out when untouched, so a stored token is kept.
      secureJsonData: tokenSet ? undefined : { apiToken: token },
    });
  };

  return (
    <form onSubmit={onSubmit}>
      <FieldSet label="kprobe API">
        <Field
          label="API URL"
          description="As Grafana's server reaches it (requests go through the app's proxy route)."
        >
          <Input
            width={60}
            name="apiUrl"
            data-testid={testIds.apiUrl}
            value={settings.apiUrl ?? ''}
            placeholder="http://127.0.0.1:8080"
            onChange={onText}
          />
        </Field>
        <Field label="API token" description="Bearer token, when the API has authentication on. Stored encrypted.">
          <SecretInput
            width={60}
            data-testid={testIds.apiToken}
            value={token}
            isConfigured={tokenSet}
            placeholder="token"
            onChange={(e) => setToken(e.currentTarget.value.trim())}
            onReset={() => {
              setToken('');
              setTokenSet(false);
            }}
          />
        </Field>
        <Field
          label="Replay timeout variable"
          description="Environment variable the replayed services read their timeout (ms) from."
        >
          <Input
            width={30}
            name="timeoutEnv"
            data-testid={testIds.timeoutEnv}
            value={settings.timeoutEnv ?? ''}
            onChange={onText}
          />
        </Field>
      </FieldSet>
      <FieldSet label="Data sources" className={s.marginTop}>
        <Field label="kprobe">
          <DataSourcePicker
            width={40}
            pluginId="kprobe-kprobe-datasource"
            current={settings.kprobeDatasourceUid}
            onChange={(ds) => setSettings({ ...settings, kprobeDatasourceUid: ds.uid })}
          />
        </Field>
        <Field label="Neo4j">
          <DataSourcePicker
            width={40}
            pluginId="kprobe-neo4j-datasource"
            current={settings.neo4jDatasourceUid}
            onChange={(ds) => setSettings({ ...settings, neo4jDatasourceUid: ds.uid })}
          />
        </Field>
        <Field label="ClickHouse (otel_traces, kernel_events)">
          <DataSourcePicker
            width={40}
            pluginId="grafana-clickhouse-datasource"
            current={settings.clickhouseDatasourceUid}
            onChange={(ds) => setSettings({ ...settings, clickhouseDatasourceUid: ds.uid })}
          />
        </Field>
      </FieldSet>
      <Button type="submit" data-testid={testIds.submit} disabled={!settings.apiUrl} className={s.marginTop}>
        Save settings
      </Button>
    </form>
  );
};

export default AppConfig;

const getStyles = (theme: GrafanaTheme2) => ({
  marginTop: css({ marginTop: theme.spacing(3) }),
});

const updatePluginAndReload = async (pluginId: string, data: Partial<PluginMeta<AppSettings>>) => {
  try {
    await lastValueFrom(getBackendSrv().fetch({ url: `/api/plugins/${pluginId}/settings`, method: 'POST', data }));
    // The app reads its settings at load time: reload to apply them.
    window.location.reload();
  } catch (e) {
    console.error('Error while updating the plugin', e);
  }
};
