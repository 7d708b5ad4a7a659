/** A run of whole durable lines, kept in memory, and where it lies in which file. */
export interface Block {
  /** Whole lines, each ending in `\n`. */
  data: Buffer;
  /** The sink generation of the file the lines are in. */
  generation: number;
  /** Offset of `data[0]` in that file. */
  start: number;
}

/** The most recent durable lines in memory, so reading the tail costs no file I/O. */
export interface Recent {
  /** Adds a durable round (whole lines; a leading `\n` that ended a torn line is dropped). */
  add(data: Buffer, generation: number, start: number): void;
  /** The blocks held now, oldest first; later adds never change them. */
  blocks(): Block[];
  /** Bytes held. */
  readonly bytes: number;
}

interface Arena {
  buffer: Buffer;
  used: number;
  generation: number;
  start: number;
}

/**
 * Creates the in-memory tail: rounds are copied into arenas of `arenaBytes` (copies, because a
 * small Buffer from Node's pool would hold on to its whole 8 KiB slab), and the oldest arenas
 * are dropped beyond `limitBytes`. An arena holds only bytes that are contiguous in one file.
 */
export function createRecent(limitBytes: number, arenaBytes = 1024 * 1024): Recent {
  const sealed: Block[] = [];
  let sealedBytes = 0;
  let current: Arena | undefined;

  const seal = () => {
    if (current && current.used > 0) {
      const { buffer, used, generation, start } = current;
      sealed.push({ data: buffer.subarray(0, used), generation, start });
      sealedBytes += used;
    }
    current = undefined;
    while (sealed.length > 0 && sealedBytes > limitBytes) {
      sealedBytes -= sealed.shift()?.data.length ?? 0;
    }
  };

  return {
    add(data, generation, start) {
      let from = 0;
      if (data[0] === 0x0a) from = 1;
      const length = data.length - from;
      if (length <= 0) return;
      const at = start + from;
      if (current && (current.generation !== generation || current.start + current.used !== at ||
        current.used + length > current.buffer.length)) {
        seal();
      }
      current ??= {
        buffer: Buffer.allocUnsafeSlow(Math.max(arenaBytes, length)),
        used: 0,
        generation,
        start: at,
      };
      data.copy(current.buffer, current.used, from);
      current.used += length;
    },
    blocks() {
      const blocks = [...sealed];
      if (current && current.used > 0) {
        blocks.push({ data: current.buffer.subarray(0, current.used),
          generation: current.generation, start: current.start });
      }
      return blocks;
    },
    get bytes() {
      return sealedBytes + (current?.used ?? 0);
    },
  };
}
