// boolin's rules: case-insensitive, surrounding whitespace, any prefix of true/false/yes/no, on/off (at
// least "of" for off), 1/0.
import { FieldError, quoteForMessage } from './errors';
import { isSpaceByte } from './parse-integer';

function matchesPrefix(src: Uint8Array, s: number, e: number, word: string, minLen: number): boolean {
  const n = e - s;
  if (n < minLen || n > word.length) return false;
  for (let i = 0; i < n; i++) if ((src[s + i] | 0x20) !== word.charCodeAt(i)) return false;
  return true;
}

export function parseBool(src: Uint8Array, s: number, e: number): boolean {
  while (s < e && isSpaceByte(src[s])) s++;
  while (e > s && isSpaceByte(src[e - 1])) e--;
  if (e - s === 1 && src[s] === 0x31) return true;
  if (e - s === 1 && src[s] === 0x30) return false;
  if (
    matchesPrefix(src, s, e, 'true', 1) ||
    matchesPrefix(src, s, e, 'yes', 1) ||
    matchesPrefix(src, s, e, 'on', 2)
  )
    return true;
  if (
    matchesPrefix(src, s, e, 'false', 1) ||
    matchesPrefix(src, s, e, 'no', 1) ||
    matchesPrefix(src, s, e, 'off', 2)
  )
    return false;
  const shown = Buffer.from(src.buffer, src.byteOffset + s, e - s).toString('utf8');
  throw new FieldError(
    `not a boolean: ${quoteForMessage(shown)} (use true/false, t/f, yes/no, on/off or 1/0)`,
  );
}
