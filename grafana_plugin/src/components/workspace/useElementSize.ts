import { RefObject, useEffect, useState } from 'react';

/** Width/height of an element, following resizes (the fallback where ResizeObserver is missing, e.g. jsdom). */
export function useElementSize(ref: RefObject<HTMLElement>, fallback = { width: 1000, height: 600 }) {
  const [size, setSize] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el || typeof ResizeObserver === 'undefined') {
      return;
    }
    const measure = () => {
      const r = el.getBoundingClientRect();
      if (r.width > 0 && r.height > 0) {
        setSize({ width: Math.floor(r.width), height: Math.floor(r.height) });
      }
    };
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    measure();
    return () => observer.disconnect();
  }, [ref]);
  return size;
}
