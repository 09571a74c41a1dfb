import React from 'react';
import { MemoryRouter } from 'react-router-dom';
import { AppRootProps, PluginType } from '@grafana/data';
import { render, screen } from '@testing-library/react';

import App from './App';

describe('App', () => {
  it('opens on the transaction search, which reports an unreachable API in one line', async () => {
    const props = {
      basename: 'a/kprobe-kprobe-app',
      meta: { id: 'kprobe-kprobe-app', name: 'kprobe', type: PluginType.app, enabled: true, jsonData: {} },
      query: {},
      path: '',
      onNavChanged: jest.fn(),
    } as unknown as AppRootProps;
    render(
      <MemoryRouter initialEntries={['/transactions']}>
        <App {...props} />
      </MemoryRouter>
    );
    expect(await screen.findByTestId('kprobe-search', {}, { timeout: 15000 })).toBeInTheDocument();
    expect(await screen.findByText(/kprobe API at \/api\/plugin-proxy\/kprobe-kprobe-app\/kprobe/)).toBeInTheDocument();
  });
});
