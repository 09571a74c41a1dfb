import { DataQuery, DataSourceJsonData } from '@grafana/schema';

export type Neo4jFormat = 'table' | 'nodeGraph';

export interface Neo4jQuery extends DataQuery {
  /** Cypher; `$name` parameters come from `parameters`, dashboard variables are replaced first. */
  statement?: string;
  /** JSON object of Cypher parameters. */
  parameters?: string;
  format?: Neo4jFormat;
  /** The library query this one started from (queries.json), for the editor. */
  preset?: string;
}

export interface Neo4jOptions extends DataSourceJsonData {
  /** Neo4j's HTTP endpoint as Grafana's server reaches it, e.g. http://neo4j:7474. */
  url?: string;
  database?: string;
  user?: string;
}

export interface Neo4jSecureOptions {
  /** The Authorization header value ("Basic base64(user:password)"), built by the config editor. */
  authorization?: string;
  /** Only while editing: turned into `authorization` and never stored. */
  password?: string;
}

/** Neo4j HTTP Query API (5.19+) response: `POST /db/<db>/query/v2`. */
export interface QueryApiResponse {
  data?: { fields: string[]; values: unknown[][] };
  errors?: Array<{ code: string; message: string }>;
}
