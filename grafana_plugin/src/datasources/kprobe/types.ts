import { DataQuery, DataSourceJsonData } from '@grafana/schema';

export type KprobeQueryType = 'graph' | 'timeline' | 'transactions' | 'topRootCauses' | 'events' | 'live';

export interface KprobeQuery extends DataQuery {
  queryType?: KprobeQueryType;
  /** graph / timeline: the transaction (dashboard variables allowed). */
  transactionId?: string;
  /** transactions: only failed ones. */
  failedOnly?: boolean;
  /** transactions / events / live: comma-separated services. */
  services?: string;
  /** events / live: comma-separated event types (events.proto names). */
  eventTypes?: string;
  /** Rows at most (transactions, events, top root causes, live buffer). */
  limit?: number;
}

export const DEFAULT_QUERY: Partial<KprobeQuery> = { queryType: 'graph', limit: 100 };

export interface KprobeOptions extends DataSourceJsonData {
  /** The kprobe API as Grafana's server reaches it (proxied, token added), e.g. http://kprobe:8080. */
  apiUrl?: string;
  /** The API as browsers reach it, for the live WebSocket (Grafana cannot proxy it). */
  liveUrl?: string;
}

export interface KprobeSecureOptions {
  apiToken?: string;
}
