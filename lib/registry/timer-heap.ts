/** A set of keys, each due at some time, served by one timer instead of one timer per key. */
export interface TimerHeap<K> {
  /** (Re)schedules `key` to be due in `delayMs`; an earlier schedule of it is replaced. */
  set(key: K, delayMs: number): void;
  /** Forgets `key`; it will not come due. */
  delete(key: K): void;
  /** Number of keys scheduled. */
  readonly size: number;
  /** Stops the timer and forgets every key. */
  close(): void;
}

interface Item<K> {
  due: number;
  seq: number;
  key: K;
}

/**
 * Creates a timer heap: a binary min-heap of due times with one `setTimeout` armed for the
 * earliest, so thousands of periodic checks cost one timer. `onDue(key)` is called once per
 * schedule when it comes due, in due order. `now` is the clock the delays are measured on
 * (monotonic milliseconds; tests pass a mocked one).
 *
 * Rescheduling leaves the old heap item behind and marks it stale (lazy deletion), so `set`
 * and `delete` are O(log n); the heap is rebuilt when stale items outnumber live ones. The
 * timer is unref'd: a heap alone never keeps the process alive.
 */
export function createTimerHeap<K>(
  onDue: (key: K) => void,
  now: () => number = () => performance.now(),
): TimerHeap<K> {
  const live = new Map<K, number>(); // key → seq of its live schedule
  let heap: Item<K>[] = [];
  let seq = 0;
  let timer: NodeJS.Timeout | undefined;
  let armedFor = Infinity;
  let closed = false;

  const less = (a: Item<K>, b: Item<K>) => a.due < b.due || (a.due === b.due && a.seq < b.seq);
  const push = (item: Item<K>) => {
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const up = heap[parent] as Item<K>; // in range: parent < i
      if (!less(item, up)) break;
      heap[i] = up;
      i = parent;
    }
    heap[i] = item;
  };
  const pop = (): Item<K> | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (top === undefined || last === undefined || heap.length === 0) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      let child = left;
      const r = heap[right];
      if (r !== undefined && less(r, heap[left] as Item<K>)) child = right;
      const c = heap[child] as Item<K>; // in range: child < heap.length
      if (!less(c, last)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
    return top;
  };
  const isLive = (item: Item<K>) => live.get(item.key) === item.seq;

  const arm = () => {
    while (heap[0] !== undefined && !isLive(heap[0])) pop();
    const first = heap[0];
    if (closed || first === undefined) {
      if (timer) clearTimeout(timer);
      timer = undefined;
      armedFor = Infinity;
      return;
    }
    if (timer && armedFor <= first.due) return;
    if (timer) clearTimeout(timer);
    armedFor = first.due;
    timer = setTimeout(fire, Math.max(0, Math.ceil(first.due - now())));
    timer.unref();
  };

  const fire = () => {
    timer = undefined;
    armedFor = Infinity;
    // setTimeout may fire up to a millisecond early relative to performance.now().
    const limit = now() + 1;
    const due: K[] = [];
    while (heap[0] !== undefined && heap[0].due <= limit) {
      const item = pop() as Item<K>; // heap[0] exists
      if (!isLive(item)) continue;
      live.delete(item.key);
      due.push(item.key);
    }
    arm();
    for (const key of due) {
      if (closed) return;
      onDue(key);
    }
  };

  const compact = () => {
    if (heap.length < 1_024 || heap.length < 2 * live.size) return;
    const kept = heap.filter(isLive);
    heap = [];
    for (const item of kept) push(item);
  };

  return {
    set(key, delayMs) {
      if (closed) return;
      seq += 1;
      live.set(key, seq);
      push({ due: now() + Math.max(0, delayMs), seq, key });
      compact();
      arm();
    },
    delete(key) {
      live.delete(key);
    },
    get size() {
      return live.size;
    },
    close() {
      closed = true;
      live.clear();
      heap = [];
      arm();
    },
  };
}
