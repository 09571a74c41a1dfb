import React from 'react';
import { of } from 'rxjs';
import { fireEvent, render, screen } from '@testing-library/react';
import { PluginType } from '@grafana/data';
import { BackendSrv, BackendSrvRequest, DataSourceSrv, setBackendSrv, setDataSourceSrv } from '@grafana/runtime';

import AppConfig, { AppConfigProps, testIds } from './AppConfig';

function renderConfig(jsonData = {}, secureJsonFields = {}) {
  const plugin = {
    meta: { id: 'kprobe-kprobe-app', name: 'kprobe', type: PluginType.app, enabled: true, jsonData, secureJsonFields },
  } as unknown as AppConfigProps['plugin'];
  return render(<AppConfig plugin={plugin} query={{} as AppConfigProps['query']} />);
}

describe('AppConfig', () => {
  const posted: BackendSrvRequest[] = [];

  beforeAll(() => {
    // Grafana's own services are not here: the picker lists no data sources and
    // settings requests are recorded, which is what this page hands to Grafana.
    setDataSourceSrv({ getList: () => [], getInstanceSettings: () => undefined } as unknown as DataSourceSrv);
    setBackendSrv({
      fetch: (req: BackendSrvRequest) => {
        posted.push(req);
        return of({ data: {}, status: 200 });
      },
    } as unknown as BackendSrv);
  });

  it('needs an API URL before saving', () => {
    renderConfig();
    expect(screen.getByTestId(testIds.submit)).toBeDisabled();
    expect(screen.getByTestId(testIds.timeoutEnv)).toHaveValue('TIMEOUT_MS');
  });

  it('stores the token only in secureJsonData', async () => {
    Object.defineProperty(window, 'location', { value: { reload: jest.fn() }, writable: true });
    renderConfig();
    fireEvent.change(screen.getByTestId(testIds.apiUrl), { target: { value: ' http://127.0.0.1:8080 ' } });
    fireEvent.change(screen.getByTestId(testIds.apiToken), { target: { value: 's3cret' } });
    fireEvent.click(screen.getByTestId(testIds.submit));
    await screen.findByTestId(testIds.submit);
    expect(posted).toHaveLength(1);
    expect(posted[0].url).toBe('/api/plugins/kprobe-kprobe-app/settings');
    expect(posted[0].data.jsonData).toEqual({ apiUrl: 'http://127.0.0.1:8080', timeoutEnv: 'TIMEOUT_MS' });
    expect(JSON.stringify(posted[0].data.jsonData)).not.toContain('s3cret');
    expect(posted[0].data.secureJsonData).toEqual({ apiToken: 's3cret' });
  });

  it('keeps a stored token when it is left untouched', () => {
    posted.length = 0;
    renderConfig({ apiUrl: 'http://kprobe:8080' }, { apiToken: true });
    fireEvent.click(screen.getByTestId(testIds.submit));
    expect(posted[0].data.secureJsonData).toBeUndefined();
  });
});
