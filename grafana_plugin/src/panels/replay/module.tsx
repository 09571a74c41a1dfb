import { PanelPlugin } from '@grafana/data';

import { ReplayOptions, ReplayPanel } from './ReplayPanel';

export const plugin = new PanelPlugin<ReplayOptions>(ReplayPanel).setPanelOptions((builder) =>
  builder
    .addTextInput({
      path: 'transactionId',
      name: 'Transaction',
      description: 'Transaction to replay; variables allowed. Empty: the transaction of the query result.',
      defaultValue: '',
    })
    .addTextInput({
      path: 'timeoutEnv',
      name: 'Timeout variable',
      description: 'Environment variable the replayed service reads its timeout (ms) from.',
      defaultValue: 'TIMEOUT_MS',
    })
);
