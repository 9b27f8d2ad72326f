import fc from "fast-check";
import { IdTable } from "../runtime/pool/id-table.js";

type Op = { kind: "set"; id: number; value: number } | { kind: "delete"; id: number } | { kind: "clear" };

// Ids near each other (as a pool hands them out), colliding ones (equal modulo the capacity) and any u32.
const id = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 20 }).map((n) => n * 64 + 7), fc.nat({ max: 0xffffffff }));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("set" as const), id, value: fc.integer() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("delete" as const), id }) },
  { weight: 1, arbitrary: fc.constant({ kind: "clear" as const }) },
);

test("an id table answers get, has, size and values as a Map does, through any sequence of sets, deletes and clears", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 600 }), fc.array(id, { maxLength: 50 }), (ops, probes) => {
      const table = new IdTable<number>();
      const model = new Map<number, number>();
      for (const step of ops) {
        if (step.kind === "set") {
          table.set(step.id, step.value);
          model.set(step.id, step.value);
        } else if (step.kind === "delete") {
          expect(table.delete(step.id)).toBe(model.delete(step.id));
        } else {
          table.clear();
          model.clear();
        }
        expect(table.size).toBe(model.size);
      }
      for (const probe of [...probes, ...model.keys()]) {
        expect(table.get(probe)).toBe(model.get(probe));
        expect(table.has(probe)).toBe(model.has(probe));
      }
      const byId = [...model.entries()].sort(([a], [b]) => a - b);
      expect(table.ids()).toEqual(byId.map(([key]) => key));
      expect(table.values()).toEqual(byId.map(([, value]) => value));
    }),
    { numRuns: 300 },
  );
});

test("an id table keeps up with a steady stream of calls: 64 in flight, a million ids, answered out of order", () => {
  const table = new IdTable<{ id: number }>();
  const inFlight: number[] = [];
  let misses = 0;
  for (let next = 1; next <= 1_000_000; next++) {
    table.set(next, { id: next });
    inFlight.push(next);
    if (inFlight.length > 64) {
      // Answer a pseudo-random one of the calls in flight.
      const done = inFlight.splice((next * 7919) % inFlight.length, 1)[0]!;
      if (table.get(done)?.id !== done || !table.delete(done)) misses += 1;
    }
  }
  expect(misses).toBe(0);
  expect(table.size).toBe(64);
  expect(table.values().map((value) => value.id)).toEqual([...inFlight].sort((a, b) => a - b));
});
