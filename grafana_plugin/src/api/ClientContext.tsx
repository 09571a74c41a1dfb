import React, { createContext, useContext } from 'react';

import pluginJson from '../plugin.json';
import { KprobeClient } from './client';

/**
 * Inside Grafana the panels reach the API through the app's proxy route
 * (plugin.json `routes`), which adds the token kept in secureJsonData; the
 * console provides a same-origin client instead.
 */
export const APP_PROXY_BASE = `/api/plugin-proxy/${pluginJson.id}/kprobe`;

const ClientContext = createContext<KprobeClient | null>(null);

export function ClientProvider({ client, children }: { client: KprobeClient; children: React.ReactNode }) {
  return <ClientContext.Provider value={client}>{children}</ClientContext.Provider>;
}

let proxyClient: KprobeClient | undefined;

export function useKprobeClient(): KprobeClient {
  const client = useContext(ClientContext);
  if (client) {
    return client;
  }
  proxyClient ??= new KprobeClient({ baseUrl: APP_PROXY_BASE });
  return proxyClient;
}
