// Bounded buffers: every chart keeps at most `capacity` points however long the page stays open.

/** A ring buffer of the latest `capacity` items, oldest first when read. */
export class RingBuffer<T> {
  private items: (T | undefined)[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`capacity must be a positive integer, got ${capacity}`);
    this.items = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.count;
  }

  push(...values: T[]): void {
    for (const value of values) {
      const end = (this.start + this.count) % this.capacity;
      this.items[end] = value;
      if (this.count < this.capacity) this.count += 1;
      else this.start = (this.start + 1) % this.capacity;
    }
  }

  last(): T | undefined {
    return this.count ? this.items[(this.start + this.count - 1) % this.capacity] : undefined;
  }

  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.count; i += 1) out.push(this.items[(this.start + i) % this.capacity] as T);
    return out;
  }

  clear(): void {
    this.items = new Array<T | undefined>(this.capacity);
    this.start = 0;
    this.count = 0;
  }
}

/** Points of one chart: named series sharing an x axis (time in ms), each bounded. */
export class SeriesBuffer {
  private series = new Map<string, RingBuffer<[number, number | null]>>();

  constructor(
    readonly capacity: number,
    readonly maxSeries = 32,
  ) {}

  add(name: string, x: number, y: number | null | undefined): void {
    let buffer = this.series.get(name);
    if (!buffer) {
      if (this.series.size >= this.maxSeries) return; // a bounded number of lines, too
      buffer = new RingBuffer(this.capacity);
      this.series.set(name, buffer);
    }
    buffer.push([x, y ?? null]);
  }

  names(): string[] {
    return [...this.series.keys()].sort();
  }

  points(name: string): [number, number | null][] {
    return this.series.get(name)?.toArray() ?? [];
  }

  size(): number {
    let total = 0;
    for (const buffer of this.series.values()) total += buffer.length;
    return total;
  }

  clear(): void {
    this.series.clear();
  }
}
