/**
 * Hover and selection shared between panels: the graph and the timeline
 * publish and follow the same event on Grafana's dashboard event bus (or the
 * console's own bus), keyed by node / event id, so pointing at an event in one
 * highlights it in the other.
 */

import { BusEventWithPayload } from '@grafana/data';

export interface SelectionPayload {
  /** Node / event id, or undefined to clear. */
  id?: string;
  /** The panel that published it, so it does not react to its own event. */
  origin: string;
}

export class KprobeHoverEvent extends BusEventWithPayload<SelectionPayload> {
  static type = 'kprobe-hover';
}

export class KprobeSelectEvent extends BusEventWithPayload<SelectionPayload> {
  static type = 'kprobe-select';
}
