import { PanelPlugin } from '@grafana/data';

import { TimelineOptions, TimelinePanel } from './TimelinePanel';

export const plugin = new PanelPlugin<TimelineOptions>(TimelinePanel);
