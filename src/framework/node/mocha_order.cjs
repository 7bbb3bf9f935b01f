// flaky-detector's test order for Mocha, which has no seeded shuffle of its own. Loaded with
// `--require`, as a root hook plugin: with FLAKY_SHUFFLE=1 its root `beforeAll` shuffles
// every suite's tests and child suites with FLAKY_SEED before any of them runs; otherwise it
// does nothing. The shuffle covers every test whatever `--grep` leaves out, so one seed with
// a grep keeps the relative order of the full run (the polluter search relies on it).
'use strict';

// mulberry32: small, seedable, the same sequence on every Node version.
function generator(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(list, next) {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [list[i], list[j]] = [list[j], list[i]];
  }
}

function shuffleSuite(suite, next) {
  shuffle(suite.tests, next);
  shuffle(suite.suites, next);
  for (const child of suite.suites) {
    shuffleSuite(child, next);
  }
}

exports.mochaHooks = {
  beforeAll() {
    if (process.env.FLAKY_SHUFFLE !== '1') {
      return;
    }
    const seed = Number(BigInt(process.env.FLAKY_SEED || '0') % 4294967296n);
    let root = this.test && this.test.parent;
    while (root && root.parent) {
      root = root.parent;
    }
    if (root) {
      shuffleSuite(root, generator(seed));
    }
  },
};
