/**
 * Crop buffers kept for reuse, by length. A request's crops wait in the batcher's queue for up to
 * seconds, long enough to be promoted to V8's old generation, where their megabytes are freed only by a
 * full mark-compact; under steady load that came so rarely that array buffers grew by ~145 MB every 10 s
 * and the process's RSS by 500 MB before one did (docs/throughput.md, "Memory"). A buffer handed back
 * once its submission has settled is the next request's, so steady load allocates none.
 */
export class CropBufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private heldBytes = 0;

  /** Keeps at most `maxBytes` of idle buffers; any beyond are left to the garbage collector. */
  constructor(private readonly maxBytes: number) {}

  /** A buffer of `length` floats; a reused one holds the last request's values, so every element must be written. */
  take(length: number): Float32Array {
    const buffer = this.free.get(length)?.pop();
    if (buffer === undefined) return new Float32Array(length);
    this.heldBytes -= buffer.byteLength;
    return buffer;
  }

  /** Hands `buffer` back; the caller must not touch it afterwards. */
  give(buffer: Float32Array): void {
    if (this.heldBytes + buffer.byteLength > this.maxBytes) return;
    let list = this.free.get(buffer.length);
    if (list === undefined) {
      list = [];
      this.free.set(buffer.length, list);
    }
    list.push(buffer);
    this.heldBytes += buffer.byteLength;
  }

  /** Bytes of idle buffers held. */
  get idleBytes(): number {
    return this.heldBytes;
  }
}
