import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceApi,
  DataSourceInstanceSettings,
  TestDataSourceResponse,
} from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';

import { Neo4jQueryError, nodeGraphFrames, tableFrame } from './results';
import { Neo4jOptions, Neo4jQuery, QueryApiResponse } from './types';
import presets from './queries.json';

/**
 * Cypher through Neo4j's HTTP Query API (`POST /db/<db>/query/v2`), sent via
 * the data source proxy route `neo4j`, which adds the Authorization header
 * kept in secureJsonData: no backend, no Bolt.
 */
export class Neo4jDataSource extends DataSourceApi<Neo4jQuery, Neo4jOptions> {
  private readonly endpoint: string;

  constructor(
    settings: DataSourceInstanceSettings<Neo4jOptions>,
    private readonly fetchImpl: typeof fetch = (input, init) => fetch(input, init)
  ) {
    super(settings);
    this.endpoint = `${settings.url}/neo4j/db/${encodeURIComponent(settings.jsonData.database || 'neo4j')}/query/v2`;
  }

  getDefaultQuery(_: CoreApp): Partial<Neo4jQuery> {
    const first = presets[0];
    return {
      statement: first.statement,
      parameters: JSON.stringify(first.parameters),
      format: 'nodeGraph',
      preset: first.name,
    };
  }

  filterQuery(q: Neo4jQuery): boolean {
    return !q.hide && Boolean(q.statement?.trim());
  }

  async query(request: DataQueryRequest<Neo4jQuery>): Promise<DataQueryResponse> {
    const replace = (s: string) => getTemplateSrv().replace(s, request.scopedVars);
    const data = [];
    for (const q of request.targets) {
      const result = await this.run(q.statement ?? '', parseParameters(replace(q.parameters || '{}')));
      data.push(...(q.format === 'nodeGraph' ? nodeGraphFrames(q.refId, result) : [tableFrame(q.refId, result)]));
    }
    return { data };
  }

  async run(statement: string, parameters: Record<string, unknown>): Promise<QueryApiResponse> {
    const resp = await this.fetchImpl(this.endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ statement, parameters }),
    });
    const text = await resp.text();
    let body: QueryApiResponse;
    try {
      body = JSON.parse(text) as QueryApiResponse;
    } catch {
      throw new Neo4jQueryError(`Neo4j answered ${resp.status} with non-JSON: ${text.slice(0, 120)}`);
    }
    if (!resp.ok && !body.errors) {
      throw new Neo4jQueryError(`Neo4j answered ${resp.status} ${resp.statusText}`);
    }
    return body;
  }

  async testDatasource(): Promise<TestDataSourceResponse> {
    try {
      const r = await this.run('RETURN 1 AS ok', {});
      if (r.errors?.length) {
        return { status: 'error', message: r.errors.map((e) => `${e.code}: ${e.message}`).join('; ') };
      }
      return { status: 'success', message: 'Neo4j Query API reachable' };
    } catch (e) {
      return { status: 'error', message: e instanceof Error ? e.message : String(e) };
    }
  }
}

export function parseParameters(json: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw new Neo4jQueryError(`parameters are not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new Neo4jQueryError('parameters must be a JSON object, e.g. {"txn": "$transaction"}');
  }
  return v as Record<string, unknown>;
}
