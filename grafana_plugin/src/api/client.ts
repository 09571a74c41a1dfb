/**
 * The kprobe API over HTTP/JSON and the /stream WebSocket, typed by the code
 * generated from proto/kprobe/v1 (src/api/gen). The JSON is the canonical
 * proto3 mapping with proto field names and 64-bit integers as strings, so
 * the generated interfaces describe it exactly and ns never pass through a
 * double. Routes: docs/ARCHITECTURE.md "HTTP routes".
 *
 * One client serves the console (same origin, direct) and Grafana (through
 * the app's proxy route, which adds the token from secureJsonData).
 */

import type { CausalGraph as ApiCausalGraph, RootCauseResponse } from './gen/kprobe/v1/causal_graph';
import type {
  CreateReplaySessionRequest,
  ListReplaySessionsResponse,
  ReplayAction,
  ReplaySession,
} from './gen/kprobe/v1/replay';
import type { SearchTransactionsResponse, TopRootCausesResponse } from './gen/kprobe/v1/search';
import type { EventPage, TransactionTimeline } from './gen/kprobe/v1/timeline';
import type { EventFilter } from './gen/kprobe/v1/api_common';
import type { KernelEvent } from './gen/kprobe/v1/events';

/** An API error with the server's gRPC code name and message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type QueryParams = Record<string, string | number | boolean | string[] | undefined>;

export interface ClientOptions {
  /** e.g. "http://127.0.0.1:8080", "" for same origin, or Grafana's proxy route. */
  baseUrl: string;
  /** Bearer token; leave unset behind Grafana's proxy (it adds the header). */
  token?: string;
  fetchImpl?: typeof fetch;
}

export type LiveMessage =
  | { type: 'subscribed'; subscription: number; filter: EventFilter }
  | { type: 'event'; sequence: number; event: KernelEvent }
  | { type: 'dropped'; count: number; first_sequence: number }
  | { type: 'error'; message: string };

/** Largest page the API serves; a transaction's timeline is read whole. */
const MAX_PAGE = 10000;

export class KprobeClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: ClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.fetchImpl = options.fetchImpl ?? ((input, init) => fetch(input, init));
  }

  searchTransactions(params: QueryParams = {}): Promise<SearchTransactionsResponse> {
    return this.get('/api/v1/search/transactions', params);
  }

  topRootCauses(params: QueryParams = {}): Promise<TopRootCausesResponse> {
    return this.get('/api/v1/search/top-root-causes', params);
  }

  searchEvents(params: QueryParams = {}): Promise<EventPage> {
    return this.get('/api/v1/search/events', params);
  }

  causalGraph(transactionId: string, includeEvents = true): Promise<ApiCausalGraph> {
    return this.get(`/api/v1/transactions/${encodeURIComponent(transactionId)}/graph`, {
      include_events: includeEvents,
    });
  }

  rootCause(transactionId: string): Promise<RootCauseResponse> {
    return this.get(`/api/v1/transactions/${encodeURIComponent(transactionId)}/root-cause`);
  }

  /** The whole timeline of a transaction, every page. */
  async timeline(transactionId: string): Promise<TransactionTimeline> {
    const path = `/api/v1/transactions/${encodeURIComponent(transactionId)}/timeline`;
    const first: TransactionTimeline = await this.get(path, { include_spans: true, 'page.page_size': MAX_PAGE });
    const events = [...(first.events ?? [])];
    let token = first.next_page_token;
    while (token) {
      const page: TransactionTimeline = await this.get(path, { 'page.page_size': MAX_PAGE, 'page.page_token': token });
      events.push(...(page.events ?? []));
      token = page.next_page_token;
    }
    return { ...first, events, next_page_token: undefined };
  }

  createReplay(request: CreateReplaySessionRequest): Promise<ReplaySession> {
    return this.send('POST', '/api/v1/replay/sessions', request);
  }

  replaySession(sessionId: string): Promise<ReplaySession> {
    return this.get(`/api/v1/replay/sessions/${encodeURIComponent(sessionId)}`);
  }

  listReplaySessions(): Promise<ListReplaySessionsResponse> {
    return this.get('/api/v1/replay/sessions');
  }

  controlReplay(sessionId: string, action: ReplayAction): Promise<ReplaySession> {
    return this.send('POST', `/api/v1/replay/sessions/${encodeURIComponent(sessionId)}/control`, { action });
  }

  deleteReplay(sessionId: string): Promise<ReplaySession> {
    return this.send('DELETE', `/api/v1/replay/sessions/${encodeURIComponent(sessionId)}`);
  }

  /**
   * Live events matching `filter` from /stream. The token, when there is one,
   * goes in Sec-WebSocket-Protocol (browsers cannot set headers on a WebSocket).
   * Returns a function that closes the stream.
   */
  stream(filter: EventFilter, onMessage: (m: LiveMessage) => void, onClose?: (reason: string) => void): () => void {
    const url = new URL(`${this.baseUrl || window.location.origin}/stream`, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const protocols = ['kprobe.v1', ...(this.options.token ? [`bearer.${this.options.token}`] : [])];
    const ws = new WebSocket(url.toString(), protocols);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'subscribe', filter }));
    ws.onmessage = (e) => onMessage(JSON.parse(String(e.data)) as LiveMessage);
    ws.onclose = (e) => onClose?.(e.reason || `closed (${e.code})`);
    return () => ws.close();
  }

  private get<T>(path: string, params: QueryParams = {}): Promise<T> {
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value === undefined) {
        continue;
      }
      for (const v of Array.isArray(value) ? value : [value]) {
        query.append(key, String(v));
      }
    }
    const qs = query.toString();
    return this.send('GET', qs ? `${path}?${qs}` : path);
  }

  private async send<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
    }
    if (this.options.token) {
      headers.Authorization = `Bearer ${this.options.token}`;
    }
    let resp: Response;
    try {
      resp = await this.fetchImpl(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new ApiError(
        0,
        'UNAVAILABLE',
        `kprobe API at ${this.baseUrl || 'this origin'} is unreachable: ${String(e)}`
      );
    }
    const text = await resp.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      throw new ApiError(
        resp.status,
        'INTERNAL',
        `kprobe API answered ${resp.status} with non-JSON: ${text.slice(0, 120)}`
      );
    }
    if (!resp.ok) {
      const err = json as { code?: string; message?: string };
      throw new ApiError(resp.status, err.code ?? String(resp.status), err.message ?? resp.statusText);
    }
    return json as T;
  }
}
