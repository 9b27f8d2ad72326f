/**
 * Returns `compute` with each result kept for its key: what is worked out once per descriptor
 * (a schema's compiled readers, a field's option) is computed on first use and kept as long as
 * the descriptor lives. `compute` never returns undefined.
 */
export function oncePer<K extends object, V>(compute: (key: K) => V): (key: K) => V {
  const results = new WeakMap<K, V>();
  return (key) => {
    let result = results.get(key);
    if (result === undefined) {
      result = compute(key);
      results.set(key, result);
    }
    return result;
  };
}
