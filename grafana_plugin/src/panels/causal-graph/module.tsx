import { PanelPlugin } from '@grafana/data';

import { CausalGraphOptions, CausalGraphPanel } from './CausalGraphPanel';

export const plugin = new PanelPlugin<CausalGraphOptions>(CausalGraphPanel);
