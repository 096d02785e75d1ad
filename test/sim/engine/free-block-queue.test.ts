import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FreeBlockQueue } from '../../../src/sim/engine/free-block-queue.ts';

describe('FreeBlockQueue', () => {
  it('starts with every block in id order', () => {
    const q = new FreeBlockQueue(4);
    expect(q.toArray()).toEqual([0, 1, 2, 3]);
    expect(q.size).toBe(4);
  });

  it('rejects double insertion and removal of absent blocks', () => {
    const q = new FreeBlockQueue(2);
    expect(() => q.pushBack(0)).toThrow(/already free/);
    q.remove(1);
    expect(() => q.remove(1)).toThrow(/not free/);
    q.popFront();
    expect(() => q.popFront()).toThrow(/empty/);
  });

  it('behaves like an ordered list under any sequence of operations', () => {
    const capacity = 16;
    const op = fc.oneof(
      fc.record({ kind: fc.constant('pop' as const) }),
      fc.record({ kind: fc.constant('remove' as const), id: fc.nat(capacity - 1) }),
      fc.record({ kind: fc.constant('push' as const), id: fc.nat(capacity - 1) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const q = new FreeBlockQueue(capacity);
        let model = Array.from({ length: capacity }, (_, i) => i);
        for (const o of ops) {
          if (o.kind === 'pop') {
            if (model.length === 0) continue;
            expect(q.popFront()).toBe(model.shift());
          } else if (o.kind === 'remove') {
            if (!model.includes(o.id)) continue;
            q.remove(o.id);
            model = model.filter((x) => x !== o.id);
          } else {
            if (model.includes(o.id)) continue;
            q.pushBack(o.id);
            model.push(o.id);
          }
          expect(q.size).toBe(model.length);
          expect(q.peekFront()).toBe(model[0] ?? -1);
        }
        expect(q.toArray()).toEqual(model);
        for (let id = 0; id < capacity; id++) expect(q.has(id)).toBe(model.includes(id));
      }),
    );
  });
});
