/**
 * Bytes kept as the pieces they arrived in (pipe reads, HTTP/2 DATA frames), so that a large message can pass
 * through a process without being joined into a fresh buffer: on this kind of machine a fresh allocation costs a
 * few milliseconds per MiB (its pages are faulted in), far more than reading the bytes.
 */

/** The bytes [start, end) of the concatenation of `pieces`, as slices of them (nothing is copied). */
export function sliceOfPieces<T extends Uint8Array>(pieces: readonly T[], start: number, end: number): T[] {
  const slices: T[] = [];
  let base = 0;
  for (const piece of pieces) {
    const from = Math.max(start - base, 0);
    const to = Math.min(end - base, piece.length);
    if (from < to) slices.push(piece.subarray(from, to) as T);
    base += piece.length;
    if (base >= end) break;
  }
  return slices;
}

/** The total length of `pieces`. */
export function piecesLength(pieces: readonly Uint8Array[]): number {
  let length = 0;
  for (const piece of pieces) length += piece.length;
  return length;
}

/** Whether bytes are kept as pieces (a list) rather than one buffer. */
export function isPieces<T extends Uint8Array>(bytes: T | readonly T[]): bytes is readonly T[] {
  return Array.isArray(bytes);
}
