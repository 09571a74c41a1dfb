import React from 'react';
import { readFileSync } from 'fs';
import { join } from 'path';
import { act, render, screen, waitFor } from '@testing-library/react';
import { EventBusSrv } from '@grafana/data';

import { itemsFromTimeline } from '../../api/convert';
import { KprobeSelectEvent } from '../../model/selection';
import { TimelineModel, buildTimeline } from '../../model/timeline';
import { useLinkedSelection } from '../shared/useLinkedSelection';
import { TimelineView } from './TimelineView';

const model = buildTimeline(
  itemsFromTimeline(JSON.parse(readFileSync(join(__dirname, '../../../fixtures/pay-api-failed.timeline.json'), 'utf8')))
);

function Harness({ m, bus }: { m: TimelineModel; bus: EventBusSrv }) {
  const selection = useLinkedSelection(bus, 'timeline-test');
  return <TimelineView model={m} width={1200} height={400} selection={selection} renderer="svg" />;
}

describe('TimelineView', () => {
  it('draws every span and kernel event as a bar in its lane', () => {
    const { container } = render(<Harness m={model} bus={new EventBusSrv()} />);
    const rows = screen.getByTestId('kprobe-timeline-rows').querySelectorAll('tr');
    expect(rows).toHaveLength(model.rows.length);
    // ECharts' SVG renderer: one path per bar, plus axes and the zoom slider.
    expect(container.querySelectorAll('svg path').length).toBeGreaterThan(model.rows.length);
    for (const lane of model.lanes) {
      expect(container.querySelector('svg')!.textContent).toContain(lane.slice(0, 12));
    }
    expect(screen.getByTestId('kprobe-timeline')).toHaveAttribute('data-base-ns', model.baseNs);
  });

  it('zooms to an event selected in another panel, down to microseconds', async () => {
    const bus = new EventBusSrv();
    render(<Harness m={model} bus={bus} />);
    const axis = () => screen.getByTestId('kprobe-timeline').querySelector('svg')!.textContent!;
    expect(axis()).toContain('+200 ms');
    const send = model.rows.find((r) => r.item.eventType === 'TCPSend' && r.end === r.start)!;
    act(() => bus.publish(new KprobeSelectEvent({ id: send.id, origin: 'graph-1' })));
    // a 0-length send: a 2 µs window around it, labelled in µs with ns digits
    await waitFor(() => expect(axis()).not.toContain('+200 ms'));
    expect(axis()).toMatch(new RegExp(`\\+${Math.floor(send.start / 1000)}\\.\\d+ µs`));
  });
});
