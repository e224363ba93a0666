/**
 * A validating scan of one JSON object that arrived as several buffers (the chunks a pipe delivered), finding where
 * each top-level member's value lies without building any value.
 *
 * Why: a large tool result only passes through the gateway. Parsing it means copying the line into one buffer,
 * decoding it into a string and building the objects, and forwarding it means serialising and encoding it again —
 * four fresh allocations of the result's size, each of which costs a few milliseconds per MiB here (fresh memory is
 * page-faulted in). The scan reads each byte once, in place, and checks the whole RFC 8259 grammar, so bytes it
 * accepts are valid JSON and can be forwarded as they are. UTF-8 is not validated: invalid sequences reach the client,
 * whose decoder replaces them, as `JSON.parse` after a UTF-8 decode would have.
 */

import { sliceOfPieces } from "../../shared/byte-pieces.js";

/** Where one top-level member's value lies, as byte offsets from the start of the first buffer. */
export interface MemberSpan {
  readonly key: string;
  /** Offset of the value's first byte. */
  readonly start: number;
  /** Offset just past the value's last byte. */
  readonly end: number;
}

// The scanner's states.
const START = 0; // before the top-level object
const VALUE = 1; // a value must come
const OBJECT_FIRST = 2; // after "{": a key or "}"
const ARRAY_FIRST = 3; // after "[": a value or "]"
const KEY = 4; // after "," in an object: a key
const COLON = 5;
const AFTER_VALUE = 6; // "," or the container's closer
const STRING = 7;
const ESCAPE = 8;
const UNICODE = 9;
const LITERAL = 10;
const NUMBER_MINUS = 11; // after "-": a digit must come
const NUMBER_ZERO = 12; // a leading 0: ".", an exponent or the end
const NUMBER_INT = 13;
const NUMBER_DOT = 14; // a digit must come
const NUMBER_FRACTION = 15;
const NUMBER_E = 16; // after "e": a sign or a digit
const NUMBER_E_SIGN = 17; // a digit must come
const NUMBER_EXPONENT = 18;
const DONE = 19; // the top-level object closed: only whitespace may follow

const IN_OBJECT = 0;
const IN_ARRAY = 1;
/** Deeper documents are left to `JSON.parse` (the caller's fallback). */
const MAX_DEPTH = 512;

const TRUE = [0x72, 0x75, 0x65];
const FALSE = [0x61, 0x6c, 0x73, 0x65];
const NULL = [0x75, 0x6c, 0x6c];

const isWhitespace = (byte: number): boolean => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
const isDigit = (byte: number): boolean => byte >= 0x30 && byte <= 0x39;
const isHex = (byte: number): boolean => isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
const ESCAPABLE = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

/**
 * The hot loop, kept small so that it is optimised on its own: most of a large result is string contents. Returns
 * the offset of the first byte that ends the plain run (a quote, a backslash or a control byte), or `length`.
 */
function skipPlainStringBytes(piece: Uint8Array, from: number, length: number): number {
  let i = from;
  while (i < length) {
    const byte = piece[i]!;
    if (byte === 0x22 || byte === 0x5c || byte < 0x20) return i;
    i++;
  }
  return length;
}

/**
 * Scans the concatenation of `pieces` as one JSON object (whitespace around it allowed) and returns its top-level
 * members in order, or undefined when the bytes are not exactly one valid JSON object (or nest deeper than 512):
 * the caller then parses them the ordinary way, which reports the problem.
 */
export function scanJsonObject(pieces: readonly Buffer[]): MemberSpan[] | undefined {
  const stack = new Uint8Array(MAX_DEPTH + 1);
  let depth = 0;
  let state = START;
  let stringIsKey = false;
  let unicodeLeft = 0;
  let literal: readonly number[] = TRUE;
  let literalAt = 0;
  let keyStart = 0;
  let key = "";
  let valueStart = 0;
  const members: MemberSpan[] = [];
  let base = 0;

  for (const piece of pieces) {
    const length = piece.length;
    let i = 0;
    while (i < length) {
      let byte = piece[i]!;
      switch (state) {
        case STRING: {
          i = skipPlainStringBytes(piece, i, length);
          if (i === length) continue;
          byte = piece[i]!;
          if (byte === 0x5c) state = ESCAPE;
          else if (byte < 0x20) return undefined;
          else if (stringIsKey) {
            if (depth === 1) key = JSON.parse(Buffer.concat(sliceOfPieces(pieces, keyStart, base + i + 1)).toString("utf8")) as string;
            state = COLON;
          } else endValue(base + i + 1);
          i++;
          continue;
        }
        case ESCAPE:
          if (byte === 0x75) {
            state = UNICODE;
            unicodeLeft = 4;
          } else if (ESCAPABLE.has(byte)) state = STRING;
          else return undefined;
          i++;
          continue;
        case UNICODE:
          if (!isHex(byte)) return undefined;
          if (--unicodeLeft === 0) state = STRING;
          i++;
          continue;
        case LITERAL:
          if (byte !== literal[literalAt]) return undefined;
          if (++literalAt === literal.length) endValue(base + i + 1);
          i++;
          continue;
        case NUMBER_MINUS:
          if (byte === 0x30) state = NUMBER_ZERO;
          else if (isDigit(byte)) state = NUMBER_INT;
          else return undefined;
          i++;
          continue;
        case NUMBER_DOT:
        case NUMBER_E_SIGN:
          if (!isDigit(byte)) return undefined;
          state = state === NUMBER_DOT ? NUMBER_FRACTION : NUMBER_EXPONENT;
          i++;
          continue;
        case NUMBER_E:
          if (byte === 0x2b || byte === 0x2d) state = NUMBER_E_SIGN;
          else if (isDigit(byte)) state = NUMBER_EXPONENT;
          else return undefined;
          i++;
          continue;
        case NUMBER_ZERO:
        case NUMBER_INT:
        case NUMBER_FRACTION:
        case NUMBER_EXPONENT:
          if (isDigit(byte) && state !== NUMBER_ZERO) {
            i++;
            continue;
          }
          if (byte === 0x2e && (state === NUMBER_ZERO || state === NUMBER_INT)) {
            state = NUMBER_DOT;
            i++;
            continue;
          }
          if ((byte === 0x65 || byte === 0x45) && state !== NUMBER_EXPONENT) {
            state = NUMBER_E;
            i++;
            continue;
          }
          // The number ended before this byte, which is read again as what follows a value.
          endValue(base + i);
          continue;
        default:
          break;
      }
      if (isWhitespace(byte)) {
        i++;
        continue;
      }
      switch (state) {
        case START:
          if (byte !== 0x7b) return undefined;
          stack[++depth] = IN_OBJECT;
          state = OBJECT_FIRST;
          break;
        case OBJECT_FIRST:
        case KEY:
          if (byte === 0x22) {
            state = STRING;
            stringIsKey = true;
            keyStart = base + i;
          } else if (byte === 0x7d && state === OBJECT_FIRST) closeContainer(base + i + 1);
          else return undefined;
          break;
        case COLON:
          if (byte !== 0x3a) return undefined;
          state = VALUE;
          break;
        case VALUE:
        case ARRAY_FIRST:
          if (byte === 0x5d && state === ARRAY_FIRST) {
            closeContainer(base + i + 1);
            break;
          }
          if (depth === 1) valueStart = base + i;
          if (byte === 0x22) {
            state = STRING;
            stringIsKey = false;
          } else if (byte === 0x7b || byte === 0x5b) {
            if (depth === MAX_DEPTH) return undefined;
            stack[++depth] = byte === 0x7b ? IN_OBJECT : IN_ARRAY;
            state = byte === 0x7b ? OBJECT_FIRST : ARRAY_FIRST;
          } else if (byte === 0x2d) state = NUMBER_MINUS;
          else if (byte === 0x30) state = NUMBER_ZERO;
          else if (isDigit(byte)) state = NUMBER_INT;
          else if (byte === 0x74 || byte === 0x66 || byte === 0x6e) {
            literal = byte === 0x74 ? TRUE : byte === 0x66 ? FALSE : NULL;
            literalAt = 0;
            state = LITERAL;
          } else return undefined;
          break;
        case AFTER_VALUE:
          if (byte === 0x2c) state = stack[depth] === IN_OBJECT ? KEY : VALUE;
          else if (byte === (stack[depth] === IN_OBJECT ? 0x7d : 0x5d)) closeContainer(base + i + 1);
          else return undefined;
          break;
        default:
          // DONE: something other than whitespace after the object.
          return undefined;
      }
      i++;
    }
    base += length;
  }
  return state === DONE ? members : undefined;

  /** A value ended just before `end`: a member of the top-level object when it was one. */
  function endValue(end: number): void {
    state = AFTER_VALUE;
    if (depth === 1) members.push({ key, start: valueStart, end });
  }

  /** Closes the innermost container, whose closer ends just before `end`; a value of the top-level object ends there when it was one. */
  function closeContainer(end: number): void {
    depth--;
    if (depth === 0) state = DONE;
    else endValue(end);
  }
}
