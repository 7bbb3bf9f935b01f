/**
 * Stable warehouse tests plus two seeded flaky ones. flaky-detector passes its seed both ways
 * Vitest allows: `--sequence.seed=<seed>` (the order of `describe.shuffle` blocks) and the
 * `VITE_TEST_SEED` variable (read as `import.meta.env.VITE_TEST_SEED`), so a failing seed fails
 * again when replayed: `VITE_TEST_SEED=<seed> npx vitest run --sequence.seed=<seed>`.
 */
import { describe, expect, test } from "vitest";

import { cachedSkus, chance, restock, take } from "../src/inventory";

const seed = import.meta.env.VITE_TEST_SEED ?? "0";

describe("stock", () => {
  test("restocking adds to the count", () => {
    restock("bolt", 3);
    expect(take("bolt", 3)).toBe(true);
  });

  test("taking more than there is fails", () => {
    expect(take("nut", 1)).toBe(false);
  });

  test("restock lands before the read", () => {
    // Flaky (about 1 run in 7): the seed decides whether the restock event is late.
    const lateness = chance(seed, "restock-lag");
    expect(lateness).toBeLessThan(85);
  });
});

// Order-dependent (about 1 run in 4): the lookup assumes a test of this block stocked the cache
// first (`bolt` alone is not enough), so it fails whenever the seeded shuffle runs it first.
describe.shuffle("warehouse cache", () => {
  test("lookup finds a warm cache", () => {
    expect(cachedSkus()).toBeGreaterThan(1);
  });

  test("washers are stocked", () => {
    restock("washer", 10);
    expect(take("washer", 1)).toBe(true);
  });

  test("screws are stocked", () => {
    restock("screw", 5);
    expect(take("screw", 5)).toBe(true);
  });

  test("rivets are stocked", () => {
    restock("rivet", 2);
    expect(take("rivet", 1)).toBe(true);
  });
});
