import pluginJson from './plugin.json';

export const PLUGIN_BASE_URL = `/a/${pluginJson.id}`;

export enum ROUTES {
  Transactions = 'transactions',
}

/** The app's settings (plugin jsonData); the API token lives in secureJsonData.apiToken. */
export interface AppSettings {
  apiUrl?: string;
  /** Data sources the app's pages and dashboards use, by uid. */
  kprobeDatasourceUid?: string;
  neo4jDatasourceUid?: string;
  clickhouseDatasourceUid?: string;
  /** Environment variable the replayed services read their timeout from. */
  timeoutEnv?: string;
}
