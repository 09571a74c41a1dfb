import React from 'react';
import { readFileSync } from 'fs';
import { join } from 'path';
import { act, fireEvent, render, screen, within } from '@testing-library/react';
import { EventBusSrv } from '@grafana/data';

import { graphFromApi } from '../../api/convert';
import { KprobeHoverEvent, KprobeSelectEvent } from '../../model/selection';
import { syntheticGraph } from '../../model/synthetic';
import { CausalGraph } from '../../model/graph';
import { useLinkedSelection } from '../shared/useLinkedSelection';
import { CausalGraphView } from './CausalGraphView';

const graph = graphFromApi(
  JSON.parse(readFileSync(join(__dirname, '../../../fixtures/pay-api-failed.graph.json'), 'utf8'))
);

function Harness({ g, bus }: { g: CausalGraph; bus: EventBusSrv }) {
  const selection = useLinkedSelection(bus, 'graph-test');
  return <CausalGraphView graph={g} width={1200} height={600} selection={selection} />;
}

const circle = (container: HTMLElement, id: string) =>
  container.querySelector(`circle[data-node-id="${CSS.escape(id)}"]`) as SVGCircleElement;

describe('CausalGraphView', () => {
  it('draws every node and edge, the root cause and the critical path', () => {
    const { container } = render(<Harness g={graph} bus={new EventBusSrv()} />);
    expect(container.querySelectorAll('circle[data-node-id]')).toHaveLength(graph.nodes.length);
    expect(container.querySelectorAll('path[data-edge-id]')).toHaveLength(graph.edges.length);
    expect(circle(container, 'proc:4400').getAttribute('data-root-cause')).toBe('true');
    expect(container.querySelectorAll('circle[data-root-cause="true"]')).toHaveLength(1);
    expect(container.querySelector('.kprobe-root-cause-ring')).not.toBeNull();
    expect(container.querySelectorAll('path[data-critical="true"]')).toHaveLength(
      graph.edges.filter((e) => e.critical).length
    );
    expect(screen.getByTestId('kprobe-root-cause')).toHaveTextContent(
      'Root cause: memory-reclaim — batch-job pid 4400 · 749 ms'
    );
    expect(screen.getByTestId('kprobe-txn-status')).toHaveTextContent('failed');
  });

  it('drills down on click: the node fields and its kernel events, and tells the other panels', () => {
    const bus = new EventBusSrv();
    const selected: Array<string | undefined> = [];
    bus.subscribe(KprobeSelectEvent, (e) => selected.push(e.payload.id));
    const { container } = render(<Harness g={graph} bus={bus} />);
    const span = graph.nodes.find((n) => n.name === 'ledger.write')!;
    fireEvent.click(circle(container, span.id));
    expect(selected).toEqual([span.id]);
    const details = screen.getByTestId('kprobe-node-details');
    expect(details).toHaveAttribute('data-node-id', span.id);
    const events = within(screen.getByTestId('kprobe-node-kernel-events')).getAllByRole('button');
    expect(events.map((b) => b.textContent)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^SyscallWrite/), expect.stringMatching(/^MemoryReclaim/)])
    );
    // follow the drill-down into the reclaim: its own fields
    fireEvent.click(events.find((b) => b.textContent!.startsWith('MemoryReclaim'))!);
    expect(screen.getByTestId('kprobe-node-details')).toHaveTextContent('pages_reclaimed512');
    expect(
      circle(container, graph.nodes.find((n) => n.eventType === 'MemoryReclaim')!.id).getAttribute('data-selected')
    ).toBe('true');
  });

  it('highlights what another panel hovers', () => {
    const bus = new EventBusSrv();
    const { container } = render(<Harness g={graph} bus={bus} />);
    const write = graph.nodes.find((n) => n.eventType === 'SyscallWrite')!;
    act(() => bus.publish(new KprobeHoverEvent({ id: write.id, origin: 'timeline-2' })));
    expect(circle(container, write.id).getAttribute('data-hovered')).toBe('true');
    expect(container.querySelectorAll('circle[data-hovered="true"]')).toHaveLength(1);
  });

  it('renders a 3000-node graph', () => {
    const big = syntheticGraph(3000);
    const { container } = render(<Harness g={big} bus={new EventBusSrv()} />);
    expect(container.querySelectorAll('circle[data-node-id]')).toHaveLength(3000);
    // labels only where they tell the story
    expect(container.querySelectorAll('.kprobe-labels text').length).toBeLessThan(20);
  });
});
