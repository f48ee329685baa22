// Debouncing for slider traffic to the kernel.

export interface Debounced<A extends unknown[]> {
  (...args: A): void;
  flush(): void;
  cancel(): void;
}

export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): Debounced<A> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  let last: A | null = null;
  const d = ((...args: A) => {
    last = args;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(() => { timer = null; const a = last; last = null; if (a) fn(...a); }, ms);
  }) as Debounced<A>;
  d.flush = () => { if (timer !== null) { clearTimeout(timer); timer = null; } const a = last; last = null; if (a) fn(...a); };
  d.cancel = () => { if (timer !== null) clearTimeout(timer); timer = null; last = null; };
  return d;
}
