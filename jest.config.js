/** Tests run on the compiled output so that workers are plain `node` processes. */
module.exports = {
  roots: ["<rootDir>/dist/test"],
  testMatch: ["**/*.test.js"],
  testEnvironment: "node",
  testTimeout: 30000,
  maxWorkers: 2,
};
