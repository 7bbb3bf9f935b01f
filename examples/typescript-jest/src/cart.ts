/** A small shop cart: the code under test. */

export interface Line {
  sku: string;
  price: number;
  quantity: number;
}

export function total(lines: Line[], discount = 0): number {
  const sum = lines.reduce((acc, line) => acc + line.price * line.quantity, 0);
  return Math.round(sum * (1 - discount) * 100) / 100;
}

export function merge(lines: Line[]): Line[] {
  const bySku = new Map<string, Line>();
  for (const line of lines) {
    const seen = bySku.get(line.sku);
    bySku.set(line.sku, seen ? { ...seen, quantity: seen.quantity + line.quantity } : { ...line });
  }
  return [...bySku.values()];
}

/**
 * A number in 0..99 drawn from `seed` and `name`: FNV-1a (32-bit) of "<seed>:<name>", so each
 * test gets its own draw and a failing seed fails again when replayed.
 */
export function chance(seed: number | string, name: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(`${seed}:${name}`, "utf8")) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 100;
}
