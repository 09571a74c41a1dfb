import { useCallback, useEffect, useState } from 'react';
import { EventBus } from '@grafana/data';

import { KprobeHoverEvent, KprobeSelectEvent } from '../../model/selection';

export interface LinkedSelection {
  hoveredId?: string;
  selectedId?: string;
  hover: (id?: string) => void;
  select: (id?: string) => void;
}

/** Hover/selection state of one panel, kept in step with every other panel on `bus`. */
export function useLinkedSelection(bus: EventBus, origin: string): LinkedSelection {
  const [hoveredId, setHovered] = useState<string | undefined>();
  const [selectedId, setSelected] = useState<string | undefined>();

  useEffect(() => {
    const subs = [
      bus.subscribe(KprobeHoverEvent, (e) => {
        if (e.payload.origin !== origin) {
          setHovered(e.payload.id);
        }
      }),
      bus.subscribe(KprobeSelectEvent, (e) => {
        if (e.payload.origin !== origin) {
          setSelected(e.payload.id);
        }
      }),
    ];
    return () => subs.forEach((s) => s.unsubscribe());
  }, [bus, origin]);

  const hover = useCallback(
    (id?: string) => {
      setHovered(id);
      bus.publish(new KprobeHoverEvent({ id, origin }));
    },
    [bus, origin]
  );
  const select = useCallback(
    (id?: string) => {
      setSelected(id);
      bus.publish(new KprobeSelectEvent({ id, origin }));
    },
    [bus, origin]
  );
  return { hoveredId, selectedId, hover, select };
}
