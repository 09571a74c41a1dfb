import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceApi,
  DataSourceInstanceSettings,
  LoadingState,
  TestDataSourceResponse,
} from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { Observable, from, merge } from 'rxjs';

import { KprobeClient } from '../../api/client';
import { graphFromApi, itemsFromTimeline } from '../../api/convert';
import { EventType } from '../../api/gen/kprobe/v1/events';
import { graphToFrames } from '../../frames/nodeGraph';
import { tracesFrame } from '../../frames/traces';
import { withGraphCauses } from '../../model/timeline';
import { appendLive, eventsFrame, liveFrame, rootCausesFrame, transactionsFrame } from './frames';
import { DEFAULT_QUERY, KprobeOptions, KprobeQuery } from './types';

/**
 * The kprobe API as a Grafana data source: causal graphs as Node Graph
 * frames, timelines as Traces frames, searches as tables, live events as a
 * stream. Requests go through the data source proxy route `kprobe`, which
 * adds the bearer token from secureJsonData.
 */
export class KprobeDataSource extends DataSourceApi<KprobeQuery, KprobeOptions> {
  readonly client: KprobeClient;
  private readonly liveUrl?: string;

  constructor(settings: DataSourceInstanceSettings<KprobeOptions>, client?: KprobeClient) {
    super(settings);
    this.client = client ?? new KprobeClient({ baseUrl: `${settings.url}/kprobe` });
    this.liveUrl = settings.jsonData.liveUrl;
  }

  getDefaultQuery(_: CoreApp): Partial<KprobeQuery> {
    return DEFAULT_QUERY;
  }

  filterQuery(q: KprobeQuery): boolean {
    return !q.hide;
  }

  query(request: DataQueryRequest<KprobeQuery>): Observable<DataQueryResponse> {
    const vars = (s?: string) => (s ? getTemplateSrv().replace(s, request.scopedVars) : '');
    const streams = request.targets.map((q) => {
      if (q.queryType === 'live') {
        return this.live(q, vars);
      }
      return from(this.runQuery(q, request, vars).then((data) => ({ data, key: q.refId })));
    });
    return merge(...streams);
  }

  async runQuery(
    q: KprobeQuery,
    request: Pick<DataQueryRequest<KprobeQuery>, 'range'>,
    vars: (s?: string) => string = (s) => s ?? ''
  ) {
    const limit = q.limit ?? 100;
    const range = {
      'time_range.start_ns': `${request.range.from.valueOf()}000000`,
      'time_range.end_ns': `${request.range.to.valueOf()}000000`,
    };
    switch (q.queryType ?? 'graph') {
      case 'graph': {
        const graph = graphFromApi(await this.client.causalGraph(requireTxn(vars(q.transactionId))));
        return graphToFrames(graph, q.refId);
      }
      case 'timeline': {
        // The transaction's own events, and the causes the engine linked from other threads.
        const txn = requireTxn(vars(q.transactionId));
        const [t, g] = await Promise.all([this.client.timeline(txn), this.client.causalGraph(txn, false)]);
        const items = withGraphCauses(itemsFromTimeline(t), graphFromApi(g));
        return [tracesFrame(t.transaction?.trace_id || q.refId, items)];
      }
      case 'transactions': {
        const r = await this.client.searchTransactions({
          ...range,
          services: splitList(vars(q.services)),
          status: q.failedOnly ? 'ERROR' : undefined,
          'page.page_size': limit,
        });
        return [transactionsFrame(q.refId, r.transactions ?? [])];
      }
      case 'topRootCauses': {
        const r = await this.client.topRootCauses({ ...range, limit });
        return [rootCausesFrame(q.refId, r.causes ?? [])];
      }
      case 'events': {
        const r = await this.client.searchEvents({
          ...range,
          'filter.services': splitList(vars(q.services)),
          'filter.event_types': splitList(vars(q.eventTypes)),
          'page.page_size': limit,
        });
        return [eventsFrame(q.refId, r.events ?? [])];
      }
      default:
        throw new Error(`unknown kprobe query type ${q.queryType}`);
    }
  }

  /** Live events from /stream, appended to a bounded frame as they come. */
  private live(q: KprobeQuery, vars: (s?: string) => string): Observable<DataQueryResponse> {
    return new Observable<DataQueryResponse>((subscriber) => {
      if (!this.liveUrl) {
        subscriber.error(new Error('set "Live URL" (the API as browsers reach it) to stream live events'));
        return;
      }
      const frame = liveFrame(q.refId, q.limit ?? 1000);
      const live = new KprobeClient({ baseUrl: this.liveUrl });
      const eventTypes = splitList(vars(q.eventTypes)) as EventType[];
      const close = live.stream(
        { event_types: eventTypes, services: splitList(vars(q.services)) },
        (m) => {
          if (m.type === 'event') {
            appendLive(frame, m.sequence, m.event);
            subscriber.next({ data: [frame], key: q.refId, state: LoadingState.Streaming });
          } else if (m.type === 'dropped') {
            subscriber.next({
              data: [frame],
              key: q.refId,
              state: LoadingState.Streaming,
              errors: [{ message: `${m.count} live events dropped (slow consumer) from #${m.first_sequence}` }],
            });
          } else if (m.type === 'error') {
            subscriber.error(new Error(m.message));
          }
        },
        (reason) => subscriber.error(new Error(`live stream closed: ${reason}`))
      );
      return close;
    });
  }

  async testDatasource(): Promise<TestDataSourceResponse> {
    try {
      const r = await this.client.searchTransactions({ 'page.page_size': 1 });
      return {
        status: 'success',
        message: `kprobe API reachable; ${r.transactions?.length ? 'transactions found' : 'no transactions yet'}`,
      };
    } catch (e) {
      return { status: 'error', message: `kprobe API: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
}

function requireTxn(id: string): string {
  if (!id.trim()) {
    throw new Error('set a transaction id (or a variable such as $transaction)');
  }
  return id.trim();
}

function splitList(s: string): string[] | undefined {
  const items = s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return items.length > 0 ? items : undefined;
}
