// A fresh secret for targets that make their own (compose's .env, the local stack, `powerhouse render`):
// the same length and alphabet as the Terraform stacks' random_password.
import { randomInt } from 'node:crypto';
import { SECRET_ALPHABET, SECRET_LENGTH } from '../config-templates';

export function generateSecret(): string {
  let s = '';
  for (let i = 0; i < SECRET_LENGTH; i++) s += SECRET_ALPHABET[randomInt(SECRET_ALPHABET.length)];
  return s;
}
