/** A warehouse with a lazily filled stock cache: the code under test. */

const cache = new Map<string, number>();

export function restock(sku: string, count: number): void {
  cache.set(sku, (cache.get(sku) ?? 0) + count);
}

export function take(sku: string, count: number): boolean {
  const have = cache.get(sku) ?? 0;
  if (have < count) {
    return false;
  }
  cache.set(sku, have - count);
  return true;
}

export function cachedSkus(): number {
  return cache.size;
}

/**
 * A number in 0..99 drawn from `seed` and `name`: FNV-1a (32-bit) of "<seed>:<name>", so each
 * test gets its own draw and a failing seed fails again when replayed.
 */
export function chance(seed: number | string, name: string): number {
  let hash = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(`${seed}:${name}`)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % 100;
}
