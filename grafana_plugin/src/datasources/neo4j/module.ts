import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './ConfigEditor';
import { Neo4jDataSource } from './datasource';
import { QueryEditor } from './QueryEditor';
import { Neo4jOptions, Neo4jQuery, Neo4jSecureOptions } from './types';

export const plugin = new DataSourcePlugin<Neo4jDataSource, Neo4jQuery, Neo4jOptions, Neo4jSecureOptions>(
  Neo4jDataSource
)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
