import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './ConfigEditor';
import { KprobeDataSource } from './datasource';
import { QueryEditor } from './QueryEditor';
import { KprobeOptions, KprobeQuery, KprobeSecureOptions } from './types';

export const plugin = new DataSourcePlugin<KprobeDataSource, KprobeQuery, KprobeOptions, KprobeSecureOptions>(
  KprobeDataSource
)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
