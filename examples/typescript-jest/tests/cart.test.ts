/**
 * Stable cart tests plus two seeded flaky ones. flaky-detector passes its seed both ways Jest
 * allows: `--seed=<seed>` (read with `jest.getSeed()`) and the `JEST_SEED` variable, so a failing
 * seed fails again when replayed: `JEST_SEED=<seed> npx jest --seed=<seed>`.
 */
import { describe, expect, jest, test } from "@jest/globals";

import { chance, merge, total } from "../src/cart";

const envSeed = process.env.JEST_SEED ?? "0";

describe("cart", () => {
  test("an empty cart costs nothing", () => {
    expect(total([])).toBe(0);
  });

  test("totals add price times quantity", () => {
    expect(total([{ sku: "a", price: 1.5, quantity: 2 }, { sku: "b", price: 0.25, quantity: 1 }])).toBe(3.25);
  });

  test("a discount applies to the whole cart", () => {
    expect(total([{ sku: "a", price: 10, quantity: 1 }], 0.1)).toBe(9);
  });

  test("merging adds up quantities of the same sku", () => {
    const merged = merge([
      { sku: "a", price: 2, quantity: 1 },
      { sku: "a", price: 2, quantity: 3 },
    ]);
    expect(merged).toEqual([{ sku: "a", price: 2, quantity: 4 }]);
  });

  test("price sync settles before checkout", () => {
    // Flaky (about 1 run in 5): Jest's own seed decides how late the price feed is.
    const lagMs = chance(jest.getSeed(), "price-sync");
    expect(lagMs).toBeLessThan(80);
  });

  test("session token refresh", () => {
    // Flaky (about 1 run in 10): the seed decides whether the token expires mid-request.
    const drift = chance(envSeed, "token-refresh");
    expect(drift).toBeLessThan(90);
  });
});
