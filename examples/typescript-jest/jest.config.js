// TypeScript through ts-jest; plain JS config so Jest needs no TypeScript loader for it.
module.exports = {
  testEnvironment: "node",
  transform: { "^.+\\.ts$": ["ts-jest", { tsconfig: "tsconfig.json" }] },
  testMatch: ["<rootDir>/tests/**/*.test.ts"],
};
